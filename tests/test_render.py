"""render_alert: Telegram-safe HTML, its plain twin, bold hits in the excerpt, the length limit."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.i18n import translator
from bot.i18n.catalog import FSI, PDI, RLM
from bot.model import Field, Hit, Item, TopicMatch
from bot.route.render import Rendered, render_alert, visible_length
from tests.test_i18n import first_strong

WHEN = datetime(2026, 11, 28, 14, 5, tzinfo=UTC)
LINK = "https://ministry.example/statements/42?a=1&b=2"


class TelegramHtmlValidator(HTMLParser):
    """Checks markup the way Telegram's HTML mode would reject it, and collects the visible text."""

    ALLOWED = frozenset({"b", "i", "a"})
    NAMED_ENTITIES = frozenset({"lt", "gt", "amp", "quot"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.ALLOWED:
            self.errors.append(f"tag {tag}")
        if tag == "a":
            href = dict(attrs).get("href") or ""
            if [name for name, _ in attrs] != ["href"] or not re.match(
                r"https?://", href, re.IGNORECASE
            ):
                self.errors.append(f"link {attrs}")
        elif attrs:
            self.errors.append(f"attributes on {tag}")
        if tag in self.stack:
            self.errors.append(f"nested {tag}")
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unbalanced </{tag}>")
        else:
            self.stack.pop()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.errors.append(f"self-closing {tag}")

    def handle_data(self, data: str) -> None:
        if "<" in data or ">" in data:
            self.errors.append(f"raw bracket in {data!r}")
        self.text.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in self.NAMED_ENTITIES:
            self.errors.append(f"entity &{name};")
        self.text.append({"lt": "<", "gt": ">", "amp": "&", "quot": '"'}.get(name, ""))

    def handle_charref(self, name: str) -> None:
        self.text.append(chr(int(name[1:], 16) if name[:1] in "xX" else int(name)))


def check_message(rendered: Rendered, max_chars: int = 4096) -> str:
    """Assert Telegram would accept the HTML and both versions fit; return the visible text."""
    validator = TelegramHtmlValidator()
    validator.feed(rendered.html)
    validator.close()
    assert validator.errors == []
    assert validator.stack == []
    assert "&" not in re.sub(r"&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);", "", rendered.html)
    visible = "".join(validator.text)
    assert len(visible) == visible_length(rendered.html)
    assert visible_length(rendered.html) <= max_chars
    assert len(rendered.plain) <= max_chars
    for text in (visible, rendered.plain):
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]", text)
    return visible


def make_item(**overrides: object) -> Item:
    fields: dict[str, object] = {
        "key": "k1",
        "title": "Statement on sanctions",
        "link": LINK,
        "summary": "The minister announced new sanctions today.",
        "content": "",
        "published": WHEN,
    }
    fields.update(overrides)
    return Item(**fields)  # type: ignore[arg-type]


def hits_for(text: str, word: str, field: Field = Field.SUMMARY) -> tuple[Hit, ...]:
    return tuple(Hit(word, field, m.start(), m.end()) for m in re.finditer(re.escape(word), text))


def render(item: Item, hits: tuple[Hit, ...] = (), **kwargs: object) -> Rendered:
    options: dict[str, object] = {
        "feed_name": "Foreign Ministry",
        "topic_names": ["Sanctions"],
        "matches": [TopicMatch("sanctions", hits)],
    }
    options.update(kwargs)
    return render_alert(item, **options)  # type: ignore[arg-type]


def test_layout() -> None:
    """The alert has the agreed layout in HTML and the same content in plain text."""
    item = make_item()
    result = render(item, hits_for(item.summary, "sanctions"), topic_names=["Sanctions", "Arms"])
    assert result.html == (
        "<b>Statement on sanctions</b>\n"
        "Foreign Ministry · 28 Nov 2026 14:05 UTC\n"
        "Topics: Sanctions, Arms\n"
        "\n"
        "The minister announced new <b>sanctions</b> today.\n"
        "\n"
        '<a href="https://ministry.example/statements/42?a=1&amp;b=2">Read the statement</a>'
    )
    assert result.plain == (
        "Statement on sanctions\n"
        "Foreign Ministry · 28 Nov 2026 14:05 UTC\n"
        "Topics: Sanctions, Arms\n"
        "\n"
        "The minister announced new sanctions today.\n"
        "\n"
        f"Read the statement: {LINK}"
    )
    check_message(result)


HOSTILE_TITLES = [
    ("a < b & c", "lt-amp"),
    ("</kubernetes>", "closing-tag"),
    ("<b>unclosed", "unclosed-bold"),
    ("<script>alert(1)</script>", "script"),
    ("&amp;amp;", "double-escaped"),
    ("_*[]()~`>#+-=|{}.!", "markdown-v2-specials"),
    ("\"quoted\" 'single'", "quotes"),
    ('<a href="javascript:alert(1)">x</a>', "javascript-anchor"),
    ("&#x202e; &lt;", "entity-text"),
]


@pytest.mark.parametrize(
    "title", [t[0] for t in HOSTILE_TITLES], ids=[t[1] for t in HOSTILE_TITLES]
)
def test_feed_text_shows_literally(title: str) -> None:
    """Markup-like feed text is escaped: Telegram shows it as typed and adds no formatting (A13)."""
    item = make_item(title=title, summary=f"Body {title} sanctions")
    result = render(item, hits_for(f"Body {title} sanctions", "sanctions"), feed_name=title)
    visible = check_message(result)
    assert visible.startswith(title + "\n")
    assert result.plain.startswith(title + "\n")
    assert f"{title} · " in visible


def test_topic_names_escaped() -> None:
    """Topic names from the config are escaped like feed text."""
    result = render(make_item(), topic_names=["<i>Arms</i> & trade"])
    visible = check_message(result)
    assert "Topics: <i>Arms</i> & trade" in visible


EXCERPT_BODY = " ".join(f"w{i:03d}" for i in range(200))  # 999 characters of distinct words
EXCERPTS = [
    (0, "w000", "start"),
    (100, "w100", "middle"),
    (199, "w199", "end"),
]


@pytest.mark.parametrize(("index", "word"), [e[:2] for e in EXCERPTS], ids=[e[2] for e in EXCERPTS])
def test_excerpt_around_first_hit(index: int, word: str) -> None:
    """The excerpt holds the hit in bold, is about 300 characters, and shows … where it was cut."""
    hits = hits_for(EXCERPT_BODY, word)
    result = render(make_item(summary=EXCERPT_BODY), hits)
    check_message(result)
    excerpt_line = result.html.split("\n")[4]
    assert f"<b>{word}</b>" in excerpt_line
    plain_excerpt = result.plain.split("\n")[4]
    assert len(plain_excerpt) <= 310
    assert plain_excerpt.startswith("…") == (index > 0)
    assert plain_excerpt.endswith("…") == (index < 199)
    inner = plain_excerpt.strip("…")
    assert all(re.fullmatch(r"w\d{3}", w) for w in inner.split(" "))  # cut between words


def test_all_hits_in_window_bold_and_overlaps_merged() -> None:
    """Every hit inside the window is bold; overlapping hits become one bold run."""
    text = "Arms embargo and arms trade: the arms embargo holds."
    hits = (
        Hit("arms", Field.SUMMARY, 0, 4),
        Hit("arms embargo", Field.SUMMARY, 0, 12),
        Hit("arms", Field.SUMMARY, 17, 21),
        Hit("embargo", Field.SUMMARY, 38, 45),
        Hit("arms", Field.SUMMARY, 33, 37),
        Hit("rms emb", Field.SUMMARY, 34, 41),
        Hit("bogus", Field.SUMMARY, 40, 400),  # out of range: ignored
    )
    result = render(make_item(summary=text), hits)
    check_message(result)
    assert result.html.split("\n")[4] == (
        "<b>Arms embargo</b> and <b>arms</b> trade: the <b>arms embargo</b> holds."
    )


def test_excerpt_prefers_summary_then_content() -> None:
    """The excerpt comes from the field holding the first hit, summary before content."""
    item = make_item(summary="Nothing here.", content="Later, sanctions were lifted.")
    result = render(item, hits_for(item.content, "sanctions", Field.CONTENT))
    check_message(result)
    assert result.html.split("\n")[4] == "Later, <b>sanctions</b> were lifted."


def test_title_only_hit_shows_body_opening() -> None:
    """When only the title matched, the excerpt is the opening of the summary, without bold."""
    item = make_item(summary="Opening words of the statement.")
    result = render(item, hits_for(item.title, "sanctions", Field.TITLE))
    check_message(result)
    assert result.html.split("\n")[4] == "Opening words of the statement."


def test_no_body_no_excerpt() -> None:
    """An item with no summary or content has no excerpt block."""
    result = render(
        make_item(summary=""), hits_for("Statement on sanctions", "sanctions", Field.TITLE)
    )
    check_message(result)
    assert result.plain.split("\n")[3:] == ["", f"Read the statement: {LINK}"]


def test_no_date() -> None:
    """A missing date shows as "date unknown", never as the current time."""
    result = render(make_item(published=None))
    assert "Foreign Ministry · date unknown" in result.plain
    check_message(result)


TIMEZONES = [
    (UTC, "28 Nov 2026 14:05 UTC", "utc"),
    (timezone(timedelta(hours=1), "CET"), "28 Nov 2026 15:05 CET", "named-offset"),
    (timezone(timedelta(hours=-10)), "28 Nov 2026 04:05 UTC-10:00", "bare-offset"),
]


@pytest.mark.parametrize(("tz", "shown"), [t[:2] for t in TIMEZONES], ids=[t[2] for t in TIMEZONES])
def test_time_in_configured_zone(tz: timezone, shown: str) -> None:
    """The publication time is shown in the configured zone with its name."""
    assert shown in render(make_item(), tz=tz).plain


def test_naive_time_read_as_utc() -> None:
    """A naive datetime (against the model contract) is taken as UTC rather than local time."""
    assert "28 Nov 2026 14:05 UTC" in render(make_item(published=WHEN.replace(tzinfo=None))).plain


LINKS = [
    (None, False, "no-link"),
    ("javascript:alert(1)", False, "javascript"),
    ("tg://resolve?domain=x", False, "tg-scheme"),
    ("https://x.example/" + "a" * 3000, False, "too-long"),
    ("https://x.example/a b", False, "whitespace"),
    ('https://x.example/"><b>x', True, "quote-in-href"),
    ("HTTP://X.example/a", True, "uppercase-scheme"),
]


@pytest.mark.parametrize(("link", "shown"), [c[:2] for c in LINKS], ids=[c[2] for c in LINKS])
def test_links(link: str | None, shown: bool) -> None:
    """Only usable http(s) links are rendered; the href is escaped inside its quotes."""
    result = render(make_item(link=link))
    check_message(result)
    assert ("<a href=" in result.html) == shown
    assert ("Read the statement" in result.plain) == shown


LONG = [
    ("x" * 100_000, "ascii-100k"),
    ("word " * 20_000, "words-100k"),
    ("😀" * 60_000, "astral-emoji"),
    ("e\u0301" * 50_000, "combining-accents"),
    ("🇫🇷" * 30_000, "flags"),
    ("👨\u200d👩\u200d👧 " * 20_000, "zwj-family"),
    ("&<>" * 30_000, "escape-heavy"),
]


@pytest.mark.parametrize("text", [t[0] for t in LONG], ids=[t[1] for t in LONG])
def test_huge_fields_fit_without_splitting_characters(text: str) -> None:
    """100 KB titles and bodies fit in 4096 visible characters; no cluster is split (A15)."""
    item = make_item(title=text, summary=text, content=text)
    hit = Hit("x", Field.SUMMARY, len(text) // 2, len(text) // 2 + 1)
    result = render(item, (hit,), feed_name=text, topic_names=[text, text])
    check_message(result)
    title = result.plain.split("\n")[0]
    assert len(title) <= 512
    assert title.endswith("…")
    kept = title.removesuffix("…")
    assert kept in text
    assert text.startswith(kept)
    cut = len(kept)
    if cut < len(text):  # the character after the cut must start a new cluster
        following = text[cut]
        assert not unicodedata.combining(following)
        assert following != "\u200d"
        assert text[cut - 1] != "\u200d"
    if text.startswith("🇫🇷"):
        assert len(kept) % 2 == 0


LIMITS = [1, 10, 60, 200, 1000]


@pytest.mark.parametrize("limit", LIMITS, ids=[f"max-{n}" for n in LIMITS])
def test_small_limits_still_respected(limit: int) -> None:
    """Whatever max_chars is, both versions fit and the HTML stays valid."""
    item = make_item(title="T & <t> " * 100, summary="sanctions " * 200)
    result = render(item, hits_for(item.summary, "sanctions"), max_chars=limit)
    check_message(result, limit)


def test_controls_and_bidi_overrides_removed() -> None:
    """Control characters and bidi overrides never reach the message; hit offsets stay right."""
    summary = "\u202eevil\u202c text \x07with sanctions\x00 here"
    start = summary.index("sanctions")
    hit = Hit("sanctions", Field.SUMMARY, start, start + len("sanctions"))
    result = render(make_item(title="\u2066Title\u2069\x1b", summary=summary), (hit,))
    check_message(result)
    assert result.html.split("\n")[0] == "<b>Title</b>"
    assert result.html.split("\n")[4] == "evil text with <b>sanctions</b> here"


def test_context_hit_bold_too() -> None:
    """A topic's context hit is bold like its keyword hits."""
    summary = "Talks on sanctions in Geneva."
    match = TopicMatch(
        "t",
        hits_for(summary, "sanctions"),
        context=Hit("Geneva", Field.SUMMARY, summary.index("Geneva"), summary.index("Geneva") + 6),
    )
    result = render_alert(
        make_item(summary=summary), feed_name="F", topic_names=["T"], matches=[match]
    )
    assert result.html.split("\n")[4] == "Talks on <b>sanctions</b> in <b>Geneva</b>."


VISIBLE = [
    ("plain", 5, "plain"),
    ("<b>a</b> &amp; <i>b</i>", 5, "tags-and-entity"),
    ('<a href="https://x.example/very/long">go</a>', 2, "href-not-counted"),
    ("&lt;&gt;&quot;&#128512;", 4, "entities-one-each"),
    ("😀\n", 2, "astral-is-one"),
]


@pytest.mark.parametrize(
    ("markup", "length"), [v[:2] for v in VISIBLE], ids=[v[2] for v in VISIBLE]
)
def test_visible_length(markup: str, length: int) -> None:
    """visible_length counts code points of the text Telegram shows."""
    assert visible_length(markup) == length


@settings(max_examples=150, deadline=None)
@given(
    title=st.text(max_size=600),
    summary=st.text(max_size=900),
    spans=st.lists(st.tuples(st.integers(-5, 950), st.integers(-5, 950)), max_size=8),
    limit=st.integers(1, 4096),
)
def test_any_input_renders_valid_message(
    title: str, summary: str, spans: list[tuple[int, int]], limit: int
) -> None:
    """Arbitrary text and hit offsets always give valid Telegram HTML within the limit (A22)."""
    hits = tuple(Hit("k", Field.SUMMARY, a, b) for a, b in spans)
    result = render(make_item(title=title, summary=summary), hits, max_chars=limit)
    check_message(result, limit)


def test_french_frame() -> None:
    """The frame is French (month, label, link text); the statement stays in its language."""
    item = make_item()
    result = render(item, topic_names=["Sanctions", "Armes"], tr=translator("fr"))
    assert result.html == (
        "<b>Statement on sanctions</b>\n"
        "Foreign Ministry · 28 nov. 2026 14:05 UTC\n"
        "Thèmes : Sanctions, Armes\n"
        "\n"
        "The minister announced new sanctions today.\n"
        "\n"
        '<a href="https://ministry.example/statements/42?a=1&amp;b=2">Lire la déclaration</a>'
    )
    check_message(result)


def test_arabic_frame_reads_right_to_left_around_latin_names() -> None:
    """Frame lines start right to left with Latin names isolated; title and excerpt keep theirs."""
    item = make_item(published=None, title="<Statement> on sanctions")
    result = render(item, topic_names=["Sanctions", "العقوبات"], tr=translator("ar"))
    lines = result.html.split("\n")
    assert lines[0] == "<b>&lt;Statement&gt; on sanctions</b>"
    assert lines[1] == f"{RLM}{FSI}Foreign Ministry{PDI} · تاريخ غير معروف"
    assert lines[2] == f"{RLM}المواضيع: {FSI}Sanctions، العقوبات{PDI}"
    assert lines[-1].startswith(f'{RLM}<a href="https://ministry.example/')
    assert lines[-1].endswith(">اقرأ البيان</a>")
    assert [first_strong(line) for line in lines if line] == ["L", "R", "R", "L", "R"]
    assert result.plain.split("\n")[-1] == f"{RLM}اقرأ البيان: {FSI}{LINK}{PDI}"


def test_a_feed_cannot_inject_isolates_into_an_arabic_frame() -> None:
    """Bidi controls from the feed are still removed; only the frame's own isolates remain."""
    result = render(
        make_item(),
        feed_name="Ministry\u2067 evil \u2069",
        topic_names=["\u202eSanctions"],
        tr=translator("ar"),
    )
    assert f"{FSI}Ministry evil{PDI}" in result.html  # source, zone and topics: three isolates
    assert result.html.count(FSI) == 3 and result.html.count(PDI) == 3
    assert "\u2067" not in result.html and "\u202e" not in result.html
