"""RELIABILITY §E, config faults, through the three doors a config comes in by.

Each faulty feeds.yaml is given to `parse_config` (what every command uses), to `vigil check`
(`bot.commands.check`, in process) and to a running service's reload (`bot.app.Service.reload`,
built from real parts over a real SQLite file): all three report `feeds.yaml:LINE: …`, and the
reload keeps the running config and records the failure.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from bot.commands.check import check
from bot.config import ConfigError, parse_config
from bot.deliver.console import ConsoleSender
from bot.deliver.limits import Pacer
from bot.deliver.worker import DeliveryWorker
from bot.fetch import Fetcher
from bot.pipeline import Poller, Runtime
from bot.pipeline.scheduler import PollScheduler
from bot.secrets import Secret, token_from_env
from bot.service.app import Options, Service, fetch_policy
from bot.store import feeds as feed_rows
from bot.store import runtime as runtime_rows
from bot.store.db import connect, transaction
from tests.conftest import TOKEN
from tests.reliability.test_feeds_A import entry, open_rig, rig_config
from tests.servers.feeds import FeedServer, rss

VALID = """\
settings:
  interval: 10m
topics:
  cat:
    name: Convention Against Torture
    keywords: [torture]
feeds:
  - id: icj
    url: https://example.org/icj.rss
"""


def edit(old: str, new: str) -> str:
    """VALID with one fragment replaced (the line numbers above stay meaningful)."""
    assert old in VALID
    return VALID.replace(old, new, 1)


@dataclass(frozen=True)
class Fault:
    text: str
    problem: str  # expected start of one problem line, "feeds.yaml:LINE: path: …"
    hint: str = ""  # and a fragment it must contain


LAUGHS = "\n".join(
    ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    + [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 10)]
)

CONFIG_FAULTS = {
    "E1-yaml-syntax": Fault(
        edit("keywords: [torture]", "keywords: [torture"),
        "feeds.yaml:7: YAML syntax error",
        "column",
    ),
    "E1-bad-indent": Fault(
        edit("  interval: 10m", "  interval: 10m\n interval: 5m"), "feeds.yaml:3: YAML syntax error"
    ),
    "E2-empty-file": Fault("", "feeds.yaml: config is empty"),
    "E2-only-comments": Fault("# nothing yet\n", "feeds.yaml: config is empty"),
    "E3-unknown-key": Fault(
        edit("keywords: [torture]", "keyword: [torture]"),
        "feeds.yaml:6: topics.cat.keyword: unknown key `keyword`",
        "did you mean `keywords`",
    ),
    "E4-duplicate-topic-key": Fault(
        edit("feeds:", "  cat:\n    keywords: [other]\nfeeds:"),
        "feeds.yaml:7: topics.cat: duplicate key `cat` (first on line 4)",
    ),
    "E4-duplicate-feed-id": Fault(
        VALID + "  - id: icj\n    url: https://example.org/other.rss\n",
        "feeds.yaml:10: feeds[1].id:",
        "line 8",
    ),
    "E5-keyword-no": Fault(
        edit("[torture]", "[torture, no]"),
        "feeds.yaml:6: topics.cat.keywords[1]: keyword must be a string",
        "quote it: 'no'",
    ),
    "E5-keyword-on": Fault(
        edit("[torture]", "[on]"), "feeds.yaml:6: topics.cat.keywords[0]:", "quote it: 'on'"
    ),
    "E5-keyword-NO": Fault(
        edit("[torture]", "[NO]"), "feeds.yaml:6: topics.cat.keywords[0]:", "quote it: 'NO'"
    ),
    "E5-keyword-octal": Fault(
        edit("[torture]", "['x', 010]"), "feeds.yaml:6: topics.cat.keywords[1]:", "quote it: '010'"
    ),
    "E6-invalid-regex": Fault(
        edit("[torture]", "['re:(unclosed']"), "feeds.yaml:6: topics.cat.keywords[0]:"
    ),
    "E7-backreference-refused": Fault(
        edit("[torture]", "['re:(a)\\1']"), "feeds.yaml:6: topics.cat.keywords[0]:", "backreference"
    ),
    "E8-empty-keyword-list": Fault(edit("[torture]", "[]"), "feeds.yaml:6: topics.cat.keywords:"),
    "E8-empty-string-keyword": Fault(
        edit("[torture]", "['']"), "feeds.yaml:6: topics.cat.keywords[0]:"
    ),
    "E8-whitespace-keyword": Fault(
        edit("[torture]", "['   ']"), "feeds.yaml:6: topics.cat.keywords[0]:"
    ),
    "E9-url-no-scheme": Fault(
        edit("https://example.org/icj.rss", "example.org/icj.rss"), "feeds.yaml:9: feeds[0].url:"
    ),
    "E9-url-file": Fault(
        edit("https://example.org/icj.rss", "file:///etc/passwd"), "feeds.yaml:9: feeds[0].url:"
    ),
    "E9-url-credentials": Fault(
        edit("https://example.org", "https://user:pw@example.org"), "feeds.yaml:9: feeds[0].url:"
    ),
    "E9-url-private-ip": Fault(
        edit("https://example.org", "http://10.0.0.1"), "feeds.yaml:9: feeds[0].url:"
    ),
    "E9-url-metadata-ip": Fault(
        edit("https://example.org", "http://169.254.169.254"), "feeds.yaml:9: feeds[0].url:"
    ),
    "E9-url-space": Fault(edit("icj.rss", "icj feed.rss"), "feeds.yaml:9: feeds[0].url:"),
    "E10-interval-zero": Fault(
        edit("interval: 10m", "interval: 0s"), "feeds.yaml:2: settings.interval:"
    ),
    "E10-interval-negative": Fault(
        edit("interval: 10m", "interval: -5m"), "feeds.yaml:2: settings.interval:"
    ),
    "E10-interval-1s": Fault(
        edit("interval: 10m", "interval: 1s"), "feeds.yaml:2: settings.interval:"
    ),
    "E10-interval-1-year": Fault(
        edit("interval: 10m", "interval: 365d"), "feeds.yaml:2: settings.interval:"
    ),
    "E10-timeout-zero": Fault(
        edit("interval: 10m", "interval: 10m\n  timeout: 0s"), "feeds.yaml:3: settings.timeout:"
    ),
    "E10-max-bytes-zero": Fault(
        edit("interval: 10m", "interval: 10m\n  max_bytes: 0"), "feeds.yaml:3: settings.max_bytes:"
    ),
    "E10-max-bytes-10GB": Fault(
        edit("interval: 10m", "interval: 10m\n  max_bytes: 10GB"),
        "feeds.yaml:3: settings.max_bytes:",
    ),
    "E13-token-in-config": Fault(
        edit("topics:", f"telegram:\n  token: {TOKEN}\ntopics:"),
        "feeds.yaml:4: telegram.token: unknown key `token`",
    ),
    "E14-alias-bomb": Fault(LAUGHS + "\n", "feeds.yaml:2: YAML aliases (*name) are not supported"),
}


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    return [str(problem) for problem in caught.value.problems]


def assert_reported(lines: list[str], fault: Fault) -> None:
    found = [line for line in lines if line.startswith(fault.problem)]
    assert found, lines
    assert any(fault.hint in line for line in found), found
    assert all(TOKEN not in line for line in lines)  # E13: never echoed back


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    """A service built from real parts, running the VALID config from tmp_path/feeds.yaml."""
    path = tmp_path / "feeds.yaml"
    path.write_text(VALID, encoding="utf-8")
    config = parse_config(VALID)
    conn = connect(tmp_path / "state")
    runtime = Runtime.build(config, console=True)
    fetcher = Fetcher(fetch_policy(config))
    holder: list[Service] = []
    poller = Poller(conn, fetcher, lambda: holder[0].runtime)
    built = Service(
        options=Options(config_path=path, state_dir=tmp_path / "state", token=None, api_url=""),
        conn=conn,
        runtime=runtime,
        fetcher=fetcher,
        poller=poller,
        worker=DeliveryWorker(conn, ConsoleSender(), Pacer(30)),
        scheduler=PollScheduler(conn, poller, lambda: holder[0].runtime),
        sender=ConsoleSender(),
    )
    holder.append(built)
    yield built
    poller.close()
    conn.close()


@pytest.mark.parametrize("fault", list(CONFIG_FAULTS.values()), ids=list(CONFIG_FAULTS))
def test_config_fault(
    fault: Fault, service: Service, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The fault is named with file and line by parse_config, `vigil check` and a reload."""
    assert_reported(problems_of(fault.text), fault)

    bad = tmp_path / "bad" / "feeds.yaml"
    bad.parent.mkdir()
    bad.write_text(fault.text, encoding="utf-8")
    assert check(bad) == 2
    assert_reported(capsys.readouterr().out.splitlines(), fault)

    running = service.runtime
    service.options.config_path.write_text(fault.text, encoding="utf-8")
    ok, message = service.reload()
    assert not ok
    assert_reported(message.splitlines(), fault)
    assert service.runtime is running  # E11: the running config stays
    assert service.reload_failures == 1
    assert runtime_rows.get(service.conn, "reload_ok") == "0"


def test_e11_valid_reload_after_refusal_is_applied(service: Service) -> None:
    """After a refused edit, fixing the file reloads it and clears the failure flag."""
    path = service.options.config_path
    path.write_text(VALID + "bogus: 1\n", encoding="utf-8")
    assert service.reload()[0] is False
    path.write_text(edit("[torture]", "[torture, UNCAT]"), encoding="utf-8")
    ok, summary = service.reload()
    assert ok, summary
    assert service.runtime.config.topic("cat").keywords == ("torture", "UNCAT")
    assert runtime_rows.get(service.conn, "reload_ok") == "1"


def test_e9_idn_host_is_normalized() -> None:
    """An international host name is accepted and stored in its ASCII form."""
    config = parse_config(edit("https://example.org/", "https://bücher.example/"))
    assert config.feeds[0].url.startswith("https://xn--bcher-kva.example/")


CATASTROPHIC = {
    "E7-nested-plus": ("(a+)+$", "a" * 100_000 + "b"),
    "E7-alternation": ("(a|aa)+$", "a" * 100_000 + "b"),
    "E7-double-plus": ("(x+x+)+y", "x" * 100_000),
}


@pytest.mark.parametrize(("pattern", "text"), list(CATASTROPHIC.values()), ids=list(CATASTROPHIC))
def test_catastrophic_regex_is_linear(pattern: str, text: str) -> None:
    """Patterns that take seconds in `re` on 27 characters load, and run on 100 000 in RE2."""
    config = parse_config(edit("[torture]", f"['re:{pattern}']"))
    matcher = Runtime.build(config, console=True).matcher
    started = time.monotonic()
    matches = matcher.match(title="t", summary=text, content=text)
    # Generous: stdlib `re` needs 8.7 s for 27 characters (RELIABILITY §5.3); RE2 is linear.
    assert time.monotonic() - started < 5.0
    assert matches == ()


async def test_e12_valid_reload_keeps_state(tmp_path: Path, feed_server: FeedServer) -> None:
    """Renamed feed, changed keywords, new id, removed feed: nothing old is resent or lost."""
    feed_server.set("/a.xml", rss([entry(1), entry(2)]))
    async with open_rig(tmp_path, feed_server, ("a",)) as rig:
        await rig.poll()
        url = feed_server.url("/a.xml")
        renamed = rig_config({"a": url}).feeds[0]
        config = replace(rig.runtime.config, feeds=(replace(renamed, name="Renamed"),))
        rig.runtime = Runtime.build(config, console=True)
        feed_server.set("/a.xml", rss([entry(3), entry(2), entry(1)]))
        report = await rig.poll()
        assert [a.item.key for a in report.alerts] == ["g3"]  # only the new item

        moved = replace(config, feeds=(replace(renamed, id="a2"),))
        rig.runtime = Runtime.build(moved, console=True)
        with transaction(rig.conn):
            feed_rows.sync_feeds(rig.conn, {"a2": url})
        report = await rig.poll("a2")
        assert (report.new_items, report.alerts) == (3, ())  # a new id baselines, sends nothing

        # The removed feed's queued alert stays pending: the worker delivers it regardless.
        pending = rig.conn.execute("SELECT state FROM outbox").fetchall()
        assert [row[0] for row in pending] == ["pending"]


def test_e13_token_only_from_env_or_file_and_never_printed(tmp_path: Path) -> None:
    """The token is read from the environment or a file and prints as ***."""
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n", encoding="utf-8")
    from_env = token_from_env({"TELEGRAM_BOT_TOKEN": TOKEN})
    from_file = token_from_env({"TELEGRAM_BOT_TOKEN_FILE": str(token_file)})
    for secret in (from_env, from_file):
        assert isinstance(secret, Secret)
        assert secret.reveal() == TOKEN
        assert TOKEN not in f"{secret} {secret!r} {[secret]} { ({'t': secret}) }"


def test_e14_huge_config_is_refused_before_parsing() -> None:
    """A config over 5 MB is refused without being parsed."""
    started = time.monotonic()
    lines = problems_of(VALID + "#" * (6 * 1024 * 1024))
    assert lines == ["feeds.yaml: config is larger than 5MB"]
    assert time.monotonic() - started < 5.0
