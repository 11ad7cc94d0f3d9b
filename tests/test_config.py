"""feeds.yaml validation: the SPEC example loads, and every kind of mistake is reported by line."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import (
    DEFAULT_USER_AGENT,
    MAX_FILE_BYTES,
    Channel,
    Config,
    ConfigError,
    Feed,
    FirstRun,
    Problem,
    Settings,
    TelegramSettings,
    Topic,
    format_duration,
    load_config,
    parse_config,
    parse_duration,
    parse_size,
)

SPEC_EXAMPLE = """\
settings:
  interval: 10m          # default poll interval of a feed
  timeout: 30s           # per request
  max_bytes: 10MB        # a larger response is cut off and reported
  first_run: baseline    # baseline: a new feed's existing items are remembered, not sent
  allow_private_networks: false  # refuse loopback/private/link-local addresses
telegram:
  admins: [123456789]    # Telegram user ids allowed admin commands
  subscriptions: open    # open | allowlist | closed
  allowlist: []          # user ids, when subscriptions is allowlist
  rate_per_second: 30    # overall sending rate (Telegram's default bot limit)
topics:
  cat:
    name: Convention Against Torture
    keywords:            # any one of them matches
      - Convention Against Torture
      - UNCAT
      - Convention contre la torture
      - اتفاقية مناهضة التعذيب
    context: [Syria, Syrian, Assad, سوريا]   # optional: one of these must appear too
    exclude: []                                # optional: none of these may appear
  caesar:
    name: Caesar Act
    keywords: [Caesar Act, Caesar Syria Civilian Protection Act, قانون قيصر]
feeds:
  - id: icj
    name: International Court of Justice
    url: https://example.org/press-releases.rss
    interval: 15m        # optional override
    tags: [court]        # optional
channels:                # optional: chats that receive alerts without anyone subscribing
  - chat: "@syria_accountability"   # channel username or numeric chat id
    topics: [cat, caesar]           # default: all topics
    feeds: [icj]                    # default: all feeds
"""

# Lines 1-6; every case below that needs a valid body appends to, or edits, this one.
MINIMAL = """\
topics:
  cat:
    keywords: [torture]
feeds:
  - id: icj
    url: https://example.org/icj.rss
"""


def problems_of(text: str) -> list[str]:
    """The problems parse_config reports for ``text``, as the lines `vigil check` prints."""
    with pytest.raises(ConfigError) as caught:
        parse_config(textwrap.dedent(text))
    return [str(problem) for problem in caught.value.problems]


def test_spec_example_loads_into_the_documented_values() -> None:
    """The feeds.yaml shown in SPEC loads, every value converted to its documented type."""
    config = parse_config(SPEC_EXAMPLE)
    assert config.settings == Settings(
        interval=600.0, timeout=30.0, max_bytes=10 * 1024 * 1024, first_run=FirstRun("baseline")
    )
    assert config.telegram == TelegramSettings(
        admins=(123456789,), subscriptions="open", allowlist=(), rate_per_second=30.0
    )
    assert config.topics == (
        Topic(
            id="cat",
            name="Convention Against Torture",
            keywords=(
                "Convention Against Torture",
                "UNCAT",
                "Convention contre la torture",
                "اتفاقية مناهضة التعذيب",
            ),
            context=("Syria", "Syrian", "Assad", "سوريا"),
            exclude=(),
        ),
        Topic(
            id="caesar",
            name="Caesar Act",
            keywords=("Caesar Act", "Caesar Syria Civilian Protection Act", "قانون قيصر"),
        ),
    )
    assert config.feeds == (
        Feed(
            id="icj",
            name="International Court of Justice",
            url="https://example.org/press-releases.rss",
            interval=900.0,
            tags=("court",),
        ),
    )
    assert config.channels == (
        Channel(chat="@syria_accountability", topics=("cat", "caesar"), feeds=("icj",)),
    )
    assert config.path == "feeds.yaml"


def test_only_feeds_and_topics_are_required() -> None:
    """Leaving out settings, telegram and channels gives the documented defaults."""
    config = parse_config(MINIMAL)
    assert config.settings == Settings()
    assert config.settings.interval == 600.0
    assert config.settings.timeout == 30.0
    assert config.settings.max_bytes == 10 * 1024 * 1024
    assert config.settings.first_run == FirstRun("baseline", 0)
    assert config.settings.allow_private_networks is False
    assert config.settings.user_agent == DEFAULT_USER_AGENT
    assert config.settings.max_backoff == 6 * 3600.0
    assert config.settings.timezone == "UTC"
    assert config.telegram == TelegramSettings((), "open", (), 25.0)
    assert config.channels == ()
    assert config.topic("cat").name == "cat"
    assert config.feed("icj").name == "icj"


def test_empty_sections_read_as_absent() -> None:
    """`settings:` or `channels:` with nothing under them are the same as leaving them out."""
    config = parse_config(MINIMAL + "settings:\ntelegram:\nchannels:\n")
    assert config.settings == Settings()
    assert config.channels == ()


def test_all_settings_are_read() -> None:
    """Every optional setting is converted: durations to seconds, sizes to bytes."""
    config = parse_config(
        MINIMAL
        + textwrap.dedent("""\
            settings:
              interval: 1h30m
              timeout: 1m
              max_bytes: 512KB
              first_run: {latest: 3}
              allow_private_networks: true
              user_agent: Test/1.0
              proxy: http://proxy.example:3128
              per_host_concurrency: 4
              max_concurrency: 32
              max_backoff: 1d
              jitter: 0.25
              timezone: Europe/Amsterdam
            telegram:
              subscriptions: allowlist
              allowlist: [1, 2]
              rate_per_second: 1.5
            """)
    )
    assert config.settings == Settings(
        interval=5400.0,
        timeout=60.0,
        max_bytes=512 * 1024,
        first_run=FirstRun("latest", 3),
        allow_private_networks=True,
        user_agent="Test/1.0",
        proxy="http://proxy.example:3128",
        per_host_concurrency=4,
        max_concurrency=32,
        max_backoff=86400.0,
        jitter=0.25,
        timezone="Europe/Amsterdam",
    )
    assert config.telegram == TelegramSettings((), "allowlist", (1, 2), 1.5)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("baseline", FirstRun("baseline", 0)),
        ("all", FirstRun("all", 0)),
        ("{latest: 5}", FirstRun("latest", 5)),
        ('"latest: 7"', FirstRun("latest", 7)),
        ("'latest 100'", FirstRun("latest", 100)),
    ],
    ids=["baseline", "all", "mapping", "quoted-string", "string-no-colon"],
)
def test_first_run_forms(written: str, expected: FirstRun) -> None:
    """first_run accepts baseline, all, {latest: N} and the quoted string "latest: N"."""
    config = parse_config(MINIMAL + f"settings:\n  first_run: {written}\n")
    assert config.settings.first_run == expected


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("-100123", "-100123"),
        ('"-100123"', "-100123"),
        ("42", "42"),
        ('"@some_channel"', "@some_channel"),
    ],
    ids=["int", "numeric-string", "positive-int", "username"],
)
def test_chat_forms(written: str, expected: str) -> None:
    """A channel's chat is kept as a string, whether YAML read an integer or a string."""
    config = parse_config(MINIMAL + f"channels:\n  - chat: {written}\n")
    assert config.channels == (Channel(chat=expected),)


def test_channel_topics_all_means_every_topic() -> None:
    """`topics: all` is the same as leaving the key out."""
    config = parse_config(MINIMAL + "channels:\n  - {chat: 1, topics: all}\n")
    assert config.channels == (Channel(chat="1", topics=None, feeds=None),)


def test_keywords_kinds_are_kept() -> None:
    """Plain phrases are trimmed; prefixes and valid RE2 patterns are kept as written."""
    config = parse_config(
        "topics:\n  cat:\n"
        "    keywords: ['  torture ', 'tortur*', 're:\\bcat\\b', 're:a\\\\1']\n"
        "feeds:\n  - {id: icj, url: 'https://example.org/'}\n"
    )
    # An escaped backslash before a digit is a literal, not a backreference.
    assert config.topic("cat").keywords == ("torture", "tortur*", r"re:\bcat\b", r"re:a\\1")


def test_private_addresses_allowed_when_configured() -> None:
    """allow_private_networks: true lets a loopback or private literal through."""
    config = parse_config(
        "settings: {allow_private_networks: true}\n"
        "topics: {cat: {keywords: [x]}}\n"
        "feeds:\n"
        "  - {id: a, url: 'http://127.0.0.1:8080/feed'}\n"
        "  - {id: b, url: 'http://10.1.2.3/feed'}\n"
        "  - {id: c, url: 'http://localhost/feed'}\n"
    )
    assert [feed.url for feed in config.feeds] == [
        "http://127.0.0.1:8080/feed",
        "http://10.1.2.3/feed",
        "http://localhost/feed",
    ]


def test_international_host_is_stored_as_punycode() -> None:
    """An IDN host is normalized to its ASCII form so state keys and logs stay ASCII."""
    config = parse_config(
        "topics: {cat: {keywords: [x]}}\nfeeds:\n  - {id: a, url: 'https://bücher.example:8443/f?x=1'}\n"
    )
    assert config.feed("a").url == "https://xn--bcher-kva.example:8443/f?x=1"


def test_result_is_frozen_and_hashable() -> None:
    """Every part of the config refuses assignment, and the whole can be hashed and compared."""
    config = parse_config(SPEC_EXAMPLE)
    parts: list[object] = [
        config,
        config.settings,
        config.settings.first_run,
        config.telegram,
        config.topics[0],
        config.feeds[0],
        config.channels[0],
    ]
    for part in parts:
        field = dataclasses.fields(part)[0].name  # type: ignore[arg-type]
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(part, field, None)
    assert hash(config) == hash(parse_config(SPEC_EXAMPLE))
    assert config == parse_config(SPEC_EXAMPLE)
    assert isinstance(config.topics, tuple)
    assert isinstance(config.topics[0].keywords, tuple)


def test_lookups() -> None:
    """topic() and feed() find by id or raise KeyError; feed_interval falls back to settings."""
    config = parse_config(
        MINIMAL + "  - {id: other, url: 'https://example.org/o', interval: 2h}\n"
        "settings: {interval: 20m}\n"
    )
    assert config.topic("cat").keywords == ("torture",)
    assert config.feed("other").url == "https://example.org/o"
    assert config.feed_interval(config.feed("icj")) == 1200.0
    assert config.feed_interval(config.feed("other")) == 7200.0
    with pytest.raises(KeyError):
        config.topic("missing")
    with pytest.raises(KeyError):
        config.feed("missing")


def test_problem_format() -> None:
    """A problem prints as file:line: path: message, leaving out what it does not know."""
    assert str(Problem("feeds.yaml", 12, "topics.cat", "bad")) == "feeds.yaml:12: topics.cat: bad"
    assert str(Problem("feeds.yaml", None, "", "config is empty")) == "feeds.yaml: config is empty"
    assert str(Problem("f.yaml", 3, "", "syntax")) == "f.yaml:3: syntax"


# Each row: a config text and one problem it must produce, exactly as `vigil check` prints it.
ERROR_CASES: list[tuple[str, str, str]] = [
    # 2. Not YAML, empty, not a mapping.
    ("syntax", "topics: [\n", "feeds.yaml:2: YAML syntax error at column 1: "),
    ("syntax-indent", "a:\n  b: 1\n c: 2\n", "feeds.yaml:3: YAML syntax error at column 2: "),
    ("empty", "", "feeds.yaml: config is empty"),
    ("only-comments", "# nothing\n\n", "feeds.yaml: config is empty"),
    (
        "top-level-list",
        "- a\n- b\n",
        "feeds.yaml:1: the top level must be a mapping with `feeds` and `topics` keys",
    ),
    ("second-document", MINIMAL + "---\na: 1\n", "feeds.yaml:7: YAML syntax error at column 1: "),
    ("nul-character", "topics: {}\x00\n", "feeds.yaml:1: character 0 is not allowed in YAML"),
    # 1. Required sections.
    (
        "no-feeds",
        "topics:\n  cat:\n    keywords: [x]\n",
        "feeds.yaml:1: feeds: `feeds` is required",
    ),
    (
        "no-topics",
        "feeds:\n  - {id: a, url: 'https://e.org/'}\n",
        "feeds.yaml:1: topics: `topics` is required",
    ),
    ("empty-feeds", "topics: {}\nfeeds: []\n", "feeds.yaml:2: feeds: add at least one feed"),
    (
        "topics-list",
        "topics: [cat]\nfeeds: []\n",
        "feeds.yaml:1: topics: must be a mapping of topic id to topic",
    ),
    # 3. Duplicate keys, aliases, tags.
    (
        "duplicate-topic",
        "topics:\n  cat:\n    keywords: [a]\n  cat:\n    keywords: [b]\nfeeds: []\n",
        "feeds.yaml:4: topics.cat: duplicate key `cat` (first on line 2); "
        "YAML would silently keep only the last one",
    ),
    (
        "duplicate-setting",
        MINIMAL + "settings:\n  interval: 5m\n  interval: 6m\n",
        "feeds.yaml:9: settings.interval: duplicate key `interval` (first on line 8); "
        "YAML would silently keep only the last one",
    ),
    (
        "alias",
        "topics:\n  cat:\n    keywords: &k [a]\n  dog:\n    keywords: *k\nfeeds: []\n",
        "feeds.yaml:5: YAML aliases (*name) are not supported: write the value out in full",
    ),
    (
        "python-tag",
        MINIMAL + "settings:\n  user_agent: !!python/name:os.system x\n",
        "feeds.yaml:8: settings.user_agent: "
        "unsupported YAML tag tag:yaml.org,2002:python/name:os.system",
    ),
    (
        "list-key",
        MINIMAL + "settings:\n  ? [a]\n  : 1\n",
        "feeds.yaml:8: settings: keys must be plain text, not lists or maps",
    ),
    # 4. Unknown keys, at every level.
    (
        "unknown-top",
        MINIMAL + "channel: []\n",
        "feeds.yaml:7: channel: unknown key `channel`; did you mean `channels`?",
    ),
    (
        "unknown-topic-key",
        "topics:\n  cat:\n    keyword: [x]\n    keywords: [y]\nfeeds: []\n",
        "feeds.yaml:3: topics.cat.keyword: unknown key `keyword`; did you mean `keywords`?",
    ),
    (
        "unknown-setting",
        MINIMAL + "settings:\n  intervall: 5m\n",
        "feeds.yaml:8: settings.intervall: unknown key `intervall`; did you mean `interval`?",
    ),
    (
        "unknown-telegram",
        MINIMAL + "telegram:\n  admin: [1]\n",
        "feeds.yaml:8: telegram.admin: unknown key `admin`; did you mean `admins`?",
    ),
    (
        "unknown-feed-key",
        MINIMAL + "    link: https://x.org/\n",
        "feeds.yaml:7: feeds[0].link: "
        "unknown key `link`; expected one of: id, name, url, interval, tags, full_text, page",
    ),
    (
        "unknown-channel-key",
        MINIMAL + "channels:\n  - chat: 1\n    topic: [cat]\n",
        "feeds.yaml:9: channels[0].topic: unknown key `topic`; did you mean `topics`?",
    ),
    (
        "unknown-first-run-key",
        MINIMAL + "settings:\n  first_run:\n    lates: 3\n",
        "feeds.yaml:9: settings.first_run.lates: unknown key `lates`; did you mean `latest`?",
    ),
    # 5. Keywords.
    (
        "keyword-no",
        "topics:\n  cat:\n    keywords: [x, y, no]\nfeeds: []\n",
        "feeds.yaml:3: topics.cat.keywords[2]: keyword must be a string (quote it: 'no')",
    ),
    (
        "keyword-on-block",
        "topics:\n  cat:\n    keywords:\n      - a\n      - on\nfeeds: []\n",
        "feeds.yaml:5: topics.cat.keywords[1]: keyword must be a string (quote it: 'on')",
    ),
    (
        "keyword-NO",
        "topics:\n  cat:\n    keywords: [NO]\nfeeds: []\n",
        "feeds.yaml:3: topics.cat.keywords[0]: keyword must be a string (quote it: 'NO')",
    ),
    (
        "keyword-octal",
        "topics:\n  cat:\n    keywords: [010]\nfeeds: []\n",
        "feeds.yaml:3: topics.cat.keywords[0]: keyword must be a string (quote it: '010')",
    ),
    (
        "keyword-date",
        "topics:\n  cat:\n    keywords: [2024-01-02]\nfeeds: []\n",
        "feeds.yaml:3: topics.cat.keywords[0]: keyword must be a string (quote it: '2024-01-02')",
    ),
    (
        "context-bool",
        "topics:\n  cat:\n    keywords: [x]\n    context: [yes]\nfeeds: []\n",
        "feeds.yaml:4: topics.cat.context[0]: context word must be a string (quote it: 'yes')",
    ),
    (
        "exclude-number",
        "topics:\n  cat:\n    keywords: [x]\n    exclude: [1.5]\nfeeds: []\n",
        "feeds.yaml:4: topics.cat.exclude[0]: exclude word must be a string (quote it: '1.5')",
    ),
    (
        "keywords-empty-list",
        "topics:\n  cat:\n    keywords: []\nfeeds: []\n",
        "feeds.yaml:3: topics.cat.keywords: a topic needs at least one keyword",
    ),
    (
        "keywords-missing",
        "topics:\n  cat:\n    name: Cat\nfeeds: []\n",
        "feeds.yaml:3: topics.cat.keywords: a topic needs `keywords`",
    ),
    (
        "keywords-string",
        "topics:\n  cat:\n    keywords: torture\nfeeds: []\n",
        "feeds.yaml:3: topics.cat.keywords: keywords must be a list, not 'torture'",
    ),
    (
        "keyword-empty-string",
        'topics:\n  cat:\n    keywords: [x, ""]\nfeeds: []\n',
        "feeds.yaml:3: topics.cat.keywords[1]: empty keyword: it would match every item",
    ),
    (
        "keyword-whitespace",
        'topics:\n  cat:\n    keywords: ["   "]\nfeeds: []\n',
        "feeds.yaml:3: topics.cat.keywords[0]: empty keyword: it would match every item",
    ),
    (
        "keyword-null",
        "topics:\n  cat:\n    keywords:\n      -\nfeeds: []\n",
        "feeds.yaml:4: topics.cat.keywords[0]: keyword is empty",
    ),
    (
        "keyword-too-long",
        "topics:\n  cat:\n    keywords: [" + "a" * 201 + "]\nfeeds: []\n",
        "feeds.yaml:3: topics.cat.keywords[0]: keyword is longer than 200 characters",
    ),
    (
        "keyword-punctuation",
        "topics:\n  cat:\n    keywords: ['--']\nfeeds: []\n",
        "feeds.yaml:3: topics.cat.keywords[0]: keyword '--': no letters or digits to match",
    ),
    (
        "keyword-star-inside",
        "topics:\n  cat:\n    keywords: [x]\n    exclude: ['tor*ture']\nfeeds: []\n",
        "feeds.yaml:4: topics.cat.exclude[0]: exclude word 'tor*ture': "
        "'*' is only allowed at the end of the last word",
    ),
    (
        "regex-invalid",
        "topics:\n  cat:\n    keywords: ['re:(unclosed']\nfeeds: []\n",
        "feeds.yaml:3: topics.cat.keywords[0]: topic `cat`: pattern '(unclosed': "
        "invalid regular expression: missing ): (unclosed",
    ),
    (
        "regex-backreference",
        "topics:\n  cat:\n    keywords: ['re:(a)\\1']\nfeeds: []\n",
        "feeds.yaml:3: topics.cat.keywords[0]: topic `cat`: pattern '(a)\\\\1': "
        "backreferences are not supported (RE2 guarantees linear-time matching)",
    ),
    (
        "regex-lookahead",
        "topics:\n  cat:\n    keywords: ['re:a(?!b)']\nfeeds: []\n",
        "feeds.yaml:3: topics.cat.keywords[0]: topic `cat`: pattern 'a(?!b)': "
        "lookahead and lookbehind are not supported (RE2 guarantees linear-time matching)",
    ),
    (
        "regex-empty",
        "topics:\n  cat:\n    keywords: ['re:']\nfeeds: []\n",
        "feeds.yaml:3: topics.cat.keywords[0]: topic `cat`: pattern '': "
        "empty pattern: it would match every item",
    ),
    (
        "regex-matches-empty",
        "topics:\n  cat:\n    keywords: ['re:x*']\nfeeds: []\n",
        "feeds.yaml:3: topics.cat.keywords[0]: topic `cat`: pattern 'x*': "
        "the pattern matches empty text, so it would match every item",
    ),
    # 6. Durations, sizes and numbers with bounds.
    (
        "interval-zero",
        MINIMAL + "settings:\n  interval: 0s\n",
        "feeds.yaml:8: settings.interval: must be between 1m and 7d, got 0s",
    ),
    (
        "interval-1s",
        MINIMAL + "settings:\n  interval: 1s\n",
        "feeds.yaml:8: settings.interval: must be between 1m and 7d, got 1s",
    ),
    (
        "interval-year",
        MINIMAL + "settings:\n  interval: 365d\n",
        "feeds.yaml:8: settings.interval: must be between 1m and 7d, got 365d",
    ),
    (
        "interval-negative",
        MINIMAL + "settings:\n  interval: -5m\n",
        "feeds.yaml:8: settings.interval: '-5m' is not a duration; "
        "write e.g. 90s, 10m, 2h, 1d or 1h30m",
    ),
    (
        "interval-no-unit",
        MINIMAL + "settings:\n  interval: 600\n",
        "feeds.yaml:8: settings.interval: '600' has no unit; write e.g. 600s, 600m or 600h",
    ),
    (
        "interval-bool",
        MINIMAL + "settings:\n  interval: no\n",
        "feeds.yaml:8: settings.interval: must be a duration such as 90s, 10m, 2h or 1d",
    ),
    (
        "feed-interval",
        MINIMAL + "    interval: 30s\n",
        "feeds.yaml:7: feeds[0].interval: must be between 1m and 7d, got 30s",
    ),
    (
        "timeout-zero",
        MINIMAL + "settings:\n  timeout: 0s\n",
        "feeds.yaml:8: settings.timeout: must be between 1s and 5m, got 0s",
    ),
    (
        "timeout-long",
        MINIMAL + "settings:\n  timeout: 10m\n",
        "feeds.yaml:8: settings.timeout: must be between 1s and 5m, got 10m",
    ),
    (
        "max-bytes-zero",
        MINIMAL + "settings:\n  max_bytes: 0\n",
        "feeds.yaml:8: settings.max_bytes: must be between 1KB and 100MB, got 0",
    ),
    (
        "max-bytes-huge",
        MINIMAL + "settings:\n  max_bytes: 10GB\n",
        "feeds.yaml:8: settings.max_bytes: must be between 1KB and 100MB, got 10GB",
    ),
    (
        "max-bytes-garbage",
        MINIMAL + "settings:\n  max_bytes: lots\n",
        "feeds.yaml:8: settings.max_bytes: 'lots' is not a size; "
        "write e.g. 512KB, 10MB or 1GB (binary units)",
    ),
    (
        "rate-high",
        MINIMAL + "telegram:\n  rate_per_second: 31\n",
        "feeds.yaml:8: telegram.rate_per_second: must be between 1 and 30, got 31",
    ),
    (
        "rate-zero",
        MINIMAL + "telegram:\n  rate_per_second: 0\n",
        "feeds.yaml:8: telegram.rate_per_second: must be between 1 and 30, got 0",
    ),
    (
        "rate-string",
        MINIMAL + "telegram:\n  rate_per_second: fast\n",
        "feeds.yaml:8: telegram.rate_per_second: must be a number, not 'fast'",
    ),
    (
        "jitter-high",
        MINIMAL + "settings:\n  jitter: 0.9\n",
        "feeds.yaml:8: settings.jitter: must be between 0 and 0.5, got 0.9",
    ),
    (
        "concurrency-zero",
        MINIMAL + "settings:\n  per_host_concurrency: 0\n",
        "feeds.yaml:8: settings.per_host_concurrency: must be between 1 and 16, got 0",
    ),
    (
        "concurrency-bool",
        MINIMAL + "settings:\n  max_concurrency: true\n",
        "feeds.yaml:8: settings.max_concurrency: must be a whole number, "
        "not 'true', which YAML reads as true",
    ),
    (
        "private-flag-string",
        MINIMAL + "settings:\n  allow_private_networks: 'false'\n",
        "feeds.yaml:8: settings.allow_private_networks: must be true or false, not 'false'",
    ),
    (
        "timezone",
        MINIMAL + "settings:\n  timezone: Mars/Olympus\n",
        "feeds.yaml:8: settings.timezone: unknown time zone 'Mars/Olympus'; "
        "use an IANA name like Europe/Paris",
    ),
    (
        "user-agent-newline",
        MINIMAL + 'settings:\n  user_agent: "a\\nX-Evil: 1"\n',
        "feeds.yaml:8: settings.user_agent: user_agent must be 1-200 printable characters "
        "on one line",
    ),
    (
        "proxy-credentials",
        MINIMAL + "settings:\n  proxy: http://user:pw@proxy.example:3128\n",
        "feeds.yaml:8: settings.proxy: credentials in the URL are not allowed: "
        "they would end up in logs",
    ),
    (
        "proxy-socks",
        MINIMAL + "settings:\n  proxy: socks5://proxy.example:1080\n",
        "feeds.yaml:8: settings.proxy: only http and https URLs are allowed, not socks5:",
    ),
    (
        "database-url-password",
        MINIMAL + "settings:\n  database_url: postgresql://vigil:pw@db/vigil\n",
        "feeds.yaml:8: settings.database_url: database_url must not hold the password (the "
        "config holds no secrets): set PGPASSWORD, or the whole URL in VIGIL_DATABASE_URL",
    ),
    (
        "database-url-scheme",
        MINIMAL + "settings:\n  database_url: mysql://db/vigil\n",
        "feeds.yaml:8: settings.database_url: database_url must be a postgresql:// URL",
    ),
    # 11. first_run.
    (
        "first-run-unknown",
        MINIMAL + "settings:\n  first_run: everything\n",
        "feeds.yaml:8: settings.first_run: must be baseline, all, or latest: N "
        "(write `first_run: {latest: 3}`)",
    ),
    (
        "first-run-latest-zero",
        MINIMAL + "settings:\n  first_run: {latest: 0}\n",
        "feeds.yaml:8: settings.first_run.latest: must be between 1 and 100, got 0",
    ),
    (
        "first-run-latest-string-big",
        MINIMAL + "settings:\n  first_run: 'latest: 500'\n",
        "feeds.yaml:8: settings.first_run: latest must be between 1 and 100, got 500",
    ),
    # 7. Feed URLs.
    *[
        (
            f"url-{case_id}",
            f"topics: {{}}\nfeeds:\n  - id: a\n    url: {url}\n",
            f"feeds.yaml:4: feeds[0].url: {message}",
        )
        for case_id, url, message in [
            ("no-scheme", "example.org/feed", "URL needs a scheme: write https://…"),
            ("file", "file:///etc/passwd", "only http and https URLs are allowed, not file:"),
            ("ftp", "ftp://example.org/f", "only http and https URLs are allowed, not ftp:"),
            ("no-host", "'http:///feed'", "URL has no host"),
            (
                "credentials",
                "https://user:secret@example.org/f",
                "credentials in the URL are not allowed: they would end up in logs",
            ),
            (
                "space",
                "'https://example.org/a feed'",
                "URL contains spaces or control characters (percent-encode them: %20)",
            ),
            ("bad-port", "'https://example.org:99999/'", "URL has an invalid port"),
            (
                "loopback",
                "http://127.0.0.1/feed",
                "127.0.0.1 is not a public address (loopback); "
                "set settings.allow_private_networks: true to allow it",
            ),
            (
                "private",
                "http://192.168.1.10/feed",
                "192.168.1.10 is not a public address (private); "
                "set settings.allow_private_networks: true to allow it",
            ),
            (
                "link-local",
                "http://169.254.169.254/latest",
                "169.254.169.254 is not a public address (link-local); "
                "set settings.allow_private_networks: true to allow it",
            ),
            (
                "ipv6-loopback",
                "'http://[::1]:8080/'",
                "::1 is not a public address (loopback); "
                "set settings.allow_private_networks: true to allow it",
            ),
            (
                "mapped",
                "'http://[::ffff:127.0.0.1]/'",
                "::ffff:127.0.0.1 is not a public address (loopback); "
                "set settings.allow_private_networks: true to allow it",
            ),
            (
                "cgnat",
                "http://100.64.0.1/",
                "100.64.0.1 is not a public address (special-purpose); "
                "set settings.allow_private_networks: true to allow it",
            ),
            (
                "unspecified",
                "http://0.0.0.0/",
                "0.0.0.0 is not a public address (unspecified); "
                "set settings.allow_private_networks: true to allow it",
            ),
            (
                "localhost",
                "http://localhost:8080/",
                "localhost is not a public host (loopback); "
                "set settings.allow_private_networks: true to allow it",
            ),
            (
                "decimal-ip",
                "http://2130706433/",
                "2130706433 is a numeric host that resolvers may read as any IP address; "
                "set settings.allow_private_networks: true to allow it",
            ),
            (
                "short-ip",
                "http://127.1/",
                "127.1 is a numeric host that resolvers may read as any IP address; "
                "set settings.allow_private_networks: true to allow it",
            ),
            (
                "nat64",
                "'http://[64:ff9b::7f00:1]/'",
                "64:ff9b::7f00:1 is not a public address (loopback); "
                "set settings.allow_private_networks: true to allow it",
            ),
            (
                "6to4",
                "'http://[2002:c0a8:101::]/'",
                "2002:c0a8:101:: is not a public address (private); "
                "set settings.allow_private_networks: true to allow it",
            ),
            ("not-string", "[a]", "url must be a string, not a list"),
        ]
    ],
    # 8. Ids.
    (
        "feed-id-upper",
        "topics: {}\nfeeds:\n  - id: ICJ\n    url: https://e.org/\n",
        "feeds.yaml:3: feeds[0].id: feed id must be 1-32 characters of a-z, 0-9, _ and -, "
        "starting with a letter or digit",
    ),
    (
        "feed-id-long",
        "topics: {}\nfeeds:\n  - id: " + "a" * 33 + "\n    url: https://e.org/\n",
        "feeds.yaml:3: feeds[0].id: feed id must be 1-32 characters of a-z, 0-9, _ and -, "
        "starting with a letter or digit",
    ),
    (
        "feed-id-missing",
        "topics: {}\nfeeds:\n  - url: https://e.org/\n",
        "feeds.yaml:3: feeds[0].id: `id` is required",
    ),
    (
        "feed-url-missing",
        "topics: {}\nfeeds:\n  - id: a\n",
        "feeds.yaml:3: feeds[0].url: `url` is required",
    ),
    (
        "feed-not-mapping",
        "topics: {}\nfeeds:\n  - https://e.org/\n",
        "feeds.yaml:3: feeds[0]: must be a mapping of keys to values, not 'https://e.org/'",
    ),
    (
        "feed-id-duplicate",
        "topics: {}\nfeeds:\n  - id: a\n    url: https://e.org/1\n  - id: a\n    url: https://e.org/2\n",
        "feeds.yaml:5: feeds[1].id: duplicate feed id `a` (first on line 3)",
    ),
    (
        "feed-url-duplicate",
        "topics: {}\nfeeds:\n  - id: a\n    url: https://e.org/1\n  - id: b\n    url: https://e.org/1\n",
        "feeds.yaml:6: feeds[1].url: the same URL as the feed on line 4",
    ),
    (
        "feed-tag-bool",
        "topics: {}\nfeeds:\n  - id: a\n    url: https://e.org/\n    tags: [off]\n",
        "feeds.yaml:5: feeds[0].tags[0]: tag must be a string (quote it: 'off')",
    ),
    (
        "topic-id-bad",
        "topics:\n  Cat Topic:\n    keywords: [x]\nfeeds: []\n",
        "feeds.yaml:2: topics.Cat Topic: topic id must be 1-32 characters of a-z, 0-9, _ and -, "
        "starting with a letter or digit",
    ),
    (
        "topic-not-mapping",
        "topics:\n  cat: [x]\nfeeds: []\n",
        "feeds.yaml:2: topics.cat: must be a mapping of keys to values, not a list",
    ),
    (
        "topic-name-empty",
        "topics:\n  cat:\n    name: ''\n    keywords: [x]\nfeeds: []\n",
        "feeds.yaml:3: topics.cat.name: name must be 1-200 characters",
    ),
    # 9. Channels.
    (
        "chat-bad",
        MINIMAL + "channels:\n  - chat: my channel\n",
        "feeds.yaml:8: channels[0].chat: chat must be a @username (5-32 letters, digits, _) "
        "or a numeric id",
    ),
    (
        "chat-short",
        MINIMAL + "channels:\n  - chat: '@abc'\n",
        "feeds.yaml:8: channels[0].chat: chat must be a @username (5-32 letters, digits, _) "
        "or a numeric id",
    ),
    (
        "chat-missing",
        MINIMAL + "channels:\n  - topics: [cat]\n",
        "feeds.yaml:8: channels[0].chat: `chat` is required",
    ),
    (
        "channel-unknown-topic",
        MINIMAL + "channels:\n  - chat: 1\n    topics: [cta]\n",
        "feeds.yaml:9: channels[0].topics[0]: unknown topic `cta`; did you mean `cat`?",
    ),
    (
        "channel-unknown-feed",
        MINIMAL + "channels:\n  - chat: 1\n    feeds: [icj, zzz]\n",
        "feeds.yaml:9: channels[0].feeds[1]: unknown feed `zzz`",
    ),
    (
        "channel-empty-topics",
        MINIMAL + "channels:\n  - chat: 1\n    topics: []\n",
        "feeds.yaml:9: channels[0].topics: empty list: leave `topics` out to mean all topics",
    ),
    (
        "channels-mapping",
        MINIMAL + "channels:\n  chat: 1\n",
        "feeds.yaml:8: channels: channels must be a list, not a mapping",
    ),
    # 10. Telegram users.
    (
        "admin-username",
        MINIMAL + "telegram:\n  admins: ['@bob']\n",
        "feeds.yaml:8: telegram.admins[0]: admins are numeric user ids, not usernames",
    ),
    (
        "allowlist-username",
        MINIMAL + "telegram:\n  allowlist:\n    - 12\n    - alice\n",
        "feeds.yaml:10: telegram.allowlist[1]: allowlist are numeric user ids, not usernames",
    ),
    (
        "admin-negative",
        MINIMAL + "telegram:\n  admins: [-5]\n",
        "feeds.yaml:8: telegram.admins[0]: must be between 1 and 9223372036854775807, got -5",
    ),
    (
        "admins-scalar",
        MINIMAL + "telegram:\n  admins: 12\n",
        "feeds.yaml:8: telegram.admins: admins must be a list, not the number 12",
    ),
    (
        "subscriptions",
        MINIMAL + "telegram:\n  subscriptions: off\n",
        "feeds.yaml:8: telegram.subscriptions: must be one of open, allowlist, closed",
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [(text, expected) for _, text, expected in ERROR_CASES],
    ids=[case_id for case_id, _, _ in ERROR_CASES],
)
def test_error_is_reported_at_its_line(text: str, expected: str) -> None:
    """Each mistake yields a problem naming the file, the offending line, key path and reason."""
    problems = problems_of(text)
    if expected.endswith(": "):  # syntax errors: PyYAML's own wording follows the prefix
        assert any(p.startswith(expected) for p in problems), problems
    else:
        assert expected in problems, problems


def test_all_problems_are_reported_at_once_in_file_order() -> None:
    """One load reports every problem, sorted by line, and str() prints one per line."""
    text = textwrap.dedent("""\
        settings:
          interval: 0s
        topics:
          cat:
            keywords: [no]
        feeds:
          - id: a
            url: ftp://e.org/
        channels:
          - chat: 1
            topics: [dog]
        """)
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert [str(p) for p in caught.value.problems] == [
        "feeds.yaml:2: settings.interval: must be between 1m and 7d, got 0s",
        "feeds.yaml:5: topics.cat.keywords[0]: keyword must be a string (quote it: 'no')",
        "feeds.yaml:8: feeds[0].url: only http and https URLs are allowed, not ftp:",
        "feeds.yaml:11: channels[0].topics[0]: unknown topic `dog`",
    ]
    assert str(caught.value) == "\n".join(str(p) for p in caught.value.problems)


def test_problem_names_the_basename_given() -> None:
    """Problems show the base name of the file, however it was given."""
    with pytest.raises(ConfigError) as caught:
        parse_config("- x\n", "/etc/vigil/prod.yaml")
    assert caught.value.problems[0].file == "prod.yaml"
    assert str(caught.value).startswith("prod.yaml:1: ")


def test_load_config_reads_a_file(tmp_path: Path) -> None:
    """load_config validates the file and records the path it came from."""
    path = tmp_path / "feeds.yaml"
    path.write_text(SPEC_EXAMPLE, encoding="utf-8")
    config = load_config(path)
    assert config.path == str(path)
    assert config == dataclasses.replace(parse_config(SPEC_EXAMPLE), path=str(path))


def test_load_config_accepts_a_byte_order_mark(tmp_path: Path) -> None:
    """A UTF-8 BOM, as some Windows editors write it, is not part of the YAML."""
    path = tmp_path / "feeds.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
    assert load_config(path).feed("icj").url == "https://example.org/icj.rss"


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda p: None, "No such file or directory"),
        (lambda p: p.mkdir(), "Is a directory"),
    ],
    ids=["missing", "directory"],
)
def test_load_config_unreadable_names_the_path(
    tmp_path: Path, setup: object, expected: str
) -> None:
    """A missing or unreadable file is a ConfigError that names the full path."""
    path = tmp_path / "vigil.yaml"
    setup(path)  # type: ignore[operator]
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"vigil.yaml: cannot read {path}: {expected}"


def test_load_config_refuses_non_utf8(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 are refused with the line they are on."""
    path = tmp_path / "feeds.yaml"
    path.write_bytes(b"topics: {}\nfeeds: [\xff]\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == "feeds.yaml:2: the file is not UTF-8 text"


def test_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    """A file over the size cap is refused without being read as YAML."""
    path = tmp_path / "feeds.yaml"
    path.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == "feeds.yaml: config is larger than 5MB"
    with pytest.raises(ConfigError, match="larger than 5MB"):
        parse_config("#" * (MAX_FILE_BYTES + 1))


def test_alias_bomb_is_refused() -> None:
    """Nested aliases that would expand to a billion nodes are refused at the first alias."""
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 10):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        levels.append(f"a{level}: &a{level} [{refs}]")
    with pytest.raises(ConfigError) as caught:
        parse_config("\n".join(levels) + "\n")
    assert [str(p) for p in caught.value.problems] == [
        "feeds.yaml:2: YAML aliases (*name) are not supported: write the value out in full"
    ]


def test_self_referencing_alias_is_refused() -> None:
    """An alias inside its own anchor (a cycle) is refused, not followed forever."""
    with pytest.raises(ConfigError, match="aliases"):
        parse_config("a: &a [*a]\n")


def test_deep_nesting_is_refused() -> None:
    """Pathologically deep nesting is an error, not a crash."""
    with pytest.raises(ConfigError):
        parse_config("[" * 100_000)


def test_ten_thousand_feeds_load_and_one_more_is_refused() -> None:
    """The feed cap is 10 000: that many load, one more is an error."""
    head = "topics:\n  cat:\n    keywords: [x]\nfeeds:\n"
    feeds = "".join(f"  - {{id: f{i}, url: 'https://e.org/{i}'}}\n" for i in range(10_000))
    assert len(parse_config(head + feeds).feeds) == 10_000
    extra = "  - {id: last, url: 'https://e.org/last'}\n"
    assert problems_of(head + feeds + extra) == ["feeds.yaml:5: feeds: more than 10000 feeds"]


def test_too_many_topics_are_refused() -> None:
    """The topic cap is 10 000."""
    topics = "".join(f"  t{i}: {{keywords: [x]}}\n" for i in range(10_001))
    text = "topics:\n" + topics + "feeds: [{id: a, url: 'https://e.org/'}]\n"
    assert problems_of(text) == ["feeds.yaml:2: topics: more than 10000 topics"]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90.0),
        ("10m", 600.0),
        ("2h", 7200.0),
        ("1d", 86400.0),
        ("1h30m", 5400.0),
        ("1d2h3m4s", 93784.0),
        ("1.5h", 5400.0),
        (" 5m ", 300.0),
        ("0s", 0.0),
    ],
)
def test_parse_duration_valid(text: str, seconds: float) -> None:
    """Durations written with d/h/m/s parts are converted to seconds."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("600", "has no unit"),
        ("", "is not a duration"),
        ("10M", "is not a duration"),
        ("-5m", "is not a duration"),
        ("5 m", "is not a duration"),
        ("1y", "is not a duration"),
        ("30m1h", "largest to smallest"),
        ("1m1m", "largest to smallest"),
        ("ten minutes", "is not a duration"),
    ],
)
def test_parse_duration_invalid(text: str, message: str) -> None:
    """Anything but unit-suffixed parts in descending order is a ValueError saying why."""
    with pytest.raises(ValueError, match=message):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1000", 1000),
        ("512KB", 512 * 1024),
        ("10MB", 10 * 1024 * 1024),
        ("10mb", 10 * 1024 * 1024),
        ("10 MiB", 10 * 1024 * 1024),
        ("1GB", 1024**3),
        ("1.5KB", 1536),
        ("64B", 64),
    ],
)
def test_parse_size_valid(text: str, size: int) -> None:
    """Sizes use binary units: 1KB is 1024 bytes, 10MB is 10 MiB."""
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "MB", "-1MB", "10TB", "ten", "1,000"])
def test_parse_size_invalid(text: str) -> None:
    """Anything that is not a number with a known unit is a ValueError."""
    with pytest.raises(ValueError, match="is not a size"):
        parse_size(text)


@given(st.integers(min_value=1, max_value=10 * 86400))
def test_format_duration_round_trips(seconds: int) -> None:
    """Bounds printed in error messages read back as the same duration."""
    assert parse_duration(format_duration(seconds)) == seconds


def test_config_holds_no_secret_like_values() -> None:
    """Nothing in a loaded config carries credentials: URLs with them never get in."""
    config = parse_config(SPEC_EXAMPLE)
    assert "@" not in "".join(feed.url for feed in config.feeds)
    assert not hasattr(config, "token")
    assert isinstance(config, Config)
