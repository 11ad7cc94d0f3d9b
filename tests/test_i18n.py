"""The bot's four languages: catalogs complete and consistent, language choice, right-to-left.

The catalogs are the real files under bot/i18n/locale; the check is the one
``python -m bot.i18n.maintain check`` runs. Right-to-left layout is checked with the first-strong
rule of the Unicode Bidirectional Algorithm (UAX #9, P2/P3), which is how a client decides the
direction of each line.
"""

from __future__ import annotations

import shutil
import tomllib
import unicodedata
from datetime import date
from pathlib import Path

import pytest
from babel.messages.catalog import Message

from bot.i18n import LANGUAGES, Tr, maintain, pick_language, translator
from bot.i18n.catalog import FSI, PDI, RLM, po_path

ROOT = Path(__file__).resolve().parent.parent
ISOLATES = {"\u2066", "\u2067", "\u2068"}


def first_strong(line: str) -> str | None:
    """The direction UAX #9 P2 gives a paragraph: L or R (AL counts as R), skipping isolates."""
    depth = 0
    for char in line:
        if char in ISOLATES:
            depth += 1
            continue
        if char == PDI:
            depth = max(0, depth - 1)
            continue
        if depth:
            continue
        kind = unicodedata.bidirectional(char)
        if kind == "L":
            return "L"
        if kind in ("R", "AL"):
            return "R"
    return None


def test_every_message_is_translated_in_every_catalog() -> None:
    """No id lacks a translation, is fuzzy, differs in placeholders or tags, or is unused."""
    assert maintain.problems() == []


def test_extraction_is_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    """Babel says nothing while reading bot/: any warning would be a message left out."""
    assert len(maintain.extract()) > 100
    assert capsys.readouterr().err == ""


def test_the_extractor_warns_only_about_a_real_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An f-string as a message id is reported; values built by calls, tr.value(f"…") and a
    plain f-string outside any message call are not, and their messages are extracted."""
    source = tmp_path / "bot"
    source.mkdir()
    (source / "m.py").write_text(
        "def f(tr, name, code):\n"
        '    a = tr("Hello {name}.", name=code(name))\n'
        '    b = tr.value(f"<b>{name}</b>")\n'
        '    c = tr("Bye {name}.", name=tr.value(f"<b>{name}</b>"))\n'
        '    d = f"<code>{name}</code>"\n'
        '    return tr(f"Lost {name}"), a, b, c, d\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(maintain, "SOURCE_ROOT", source)
    found = [m.id for m in maintain.extract() if m.id]
    assert found == ["Hello {name}.", "Bye {name}."]
    warnings = capsys.readouterr().err.strip().splitlines()
    assert len(warnings) == 1
    assert warnings[0].startswith(f"{source / 'm.py'}:6: warning: Skipping f-string")


def _copy_catalogs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    copies = {}
    for lang in LANGUAGES:
        target = tmp_path / lang / "vigil.po"
        target.parent.mkdir(parents=True)
        shutil.copy(po_path(lang), target)
        copies[lang] = target
    monkeypatch.setattr(maintain, "po_path", lambda lang: copies[lang])
    return copies


def test_the_check_finds_a_missing_translation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An emptied French translation is reported with its catalog and its id."""
    copies = _copy_catalogs(tmp_path, monkeypatch)
    text = copies["fr"].read_text(encoding="utf-8")
    copies["fr"].write_text(
        text.replace('msgstr "Alertes reprises."', 'msgstr ""'), encoding="utf-8"
    )
    problems = maintain.problems()
    assert len(problems) == 1
    assert "no translation for 'Alerts resumed.'" in problems[0]
    assert problems[0].startswith(str(copies["fr"]))


def test_the_check_finds_a_changed_placeholder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An Arabic translation naming another placeholder than its id is reported."""
    copies = _copy_catalogs(tmp_path, monkeypatch)
    text = copies["ar"].read_text(encoding="utf-8")
    copies["ar"].write_text(text.replace("أُلغيت متابعة {name}", "أُلغيت متابعة {nom}"), "utf-8")
    problems = maintain.problems()
    assert len(problems) == 1
    assert "placeholders differ" in problems[0] and "{nom}" in problems[0]


@pytest.mark.parametrize(
    ("msgid", "msgstr", "expected"),
    [
        ("Hello {name}", "Bonjour {name}", []),
        ("Hello {name}", "Bonjour", ["placeholders differ"]),
        ("Hello {name}", "Bonjour {name} {extra}", ["placeholders differ"]),
        ("<b>Topics</b>", "<b>Thèmes", ["HTML tags differ"]),
        ("<b>Topics</b>", "<i>Thèmes</i>", ["HTML tags differ"]),
        ("Hello {name}", "Bonjour {name", ["not a valid format string"]),
    ],
)
def test_mismatches(msgid: str, msgstr: str, expected: list[str]) -> None:
    """Placeholders and HTML tags must be the same in a translation as in its id."""
    found = list(maintain._mismatches(Message(msgid, msgstr)))
    assert [e for e in expected if not any(e in f for f in found)] == []
    assert len(found) == len(expected)


def test_a_plural_form_may_spell_its_count_out() -> None:
    """Arabic "one source" needs no {n}, but it must keep every other placeholder."""
    ok = Message(("{n} source: {s}", "{n} sources: {s}"), ("مصدر واحد: {s}", "{n} مصادر: {s}"))
    assert list(maintain._mismatches(ok)) == []
    bad = Message(("{n} source: {s}", "{n} sources: {s}"), ("مصدر واحد", "{n} مصادر: {s}"))
    assert len(list(maintain._mismatches(bad))) == 1


def test_catalogs_ship_as_package_data() -> None:
    """pyproject's package-data globs take every catalog, so a wheel and the image carry them."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = config["tool"]["setuptools"]["package-data"]["bot.i18n"]
    shipped = {p for pattern in globs for p in (ROOT / "bot" / "i18n").glob(pattern)}
    assert {po_path(lang) for lang in LANGUAGES} <= shipped


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("fr", "fr"),
        ("fr-CA", "fr"),
        ("nl_BE", "nl"),
        ("AR", "ar"),
        ("ar-SY", "ar"),
        ("en-GB", "en"),
        ("de", None),
        ("pt-br", None),
        ("", None),
        (None, None),
        ("x" * 300, None),
        ("français", None),
    ],
)
def test_pick_language(code: str | None, expected: str | None) -> None:
    """A Telegram language_code picks one of the four; anything else is no choice (English)."""
    assert pick_language(code) == expected
    assert translator(pick_language(code)).lang == (expected or "en")


def test_unknown_interface_language_is_refused() -> None:
    """Tr is only built for the four languages; translator() falls back to English."""
    with pytest.raises(ValueError, match="unknown interface language"):
        Tr("de")
    assert translator("de").lang == "en"


def test_arabic_isolates_values_and_reads_right_to_left() -> None:
    """Latin values are isolated; every line of a message starts right to left."""
    tr = translator("ar")
    text = tr(
        "Subscribed to {names}. New matching statements will arrive here.", names="Caesar Act"
    )
    assert f"{FSI}Caesar Act{PDI}" in text
    whole = tr.lines(f"<b>Caesar Act</b> — /subscribe caesar\n\n{text}")
    lines = [line for line in whole.split("\n") if line]
    assert all(line.startswith(RLM) for line in lines)
    assert [first_strong(line) for line in lines] == ["R", "R"]
    assert first_strong("<b>Caesar Act</b> — /subscribe caesar") == "L"  # without the mark


def test_left_to_right_languages_add_no_marks() -> None:
    """French, Dutch and English text carries no bidi controls."""
    for lang in ("en", "fr", "nl"):
        tr = translator(lang)
        text = tr.lines(tr("Subscribed to {name}", name="قانون قيصر"))
        assert not set(text) & {FSI, PDI, RLM}


@pytest.mark.parametrize(
    ("count", "expected"),
    [(1, "مصدر واحد"), (2, "مصدرين"), (3, "3 مصادر"), (11, "11 مصدرًا"), (100, "100 مصدر")],
)
def test_arabic_plurals(count: int, expected: str) -> None:
    """Arabic counts take their own forms (one, two, few, many, other)."""
    text = translator("ar").plural(
        "<b>Vigil</b> watches the public statements of {n} source: {sources}.",
        "<b>Vigil</b> watches the public statements of {n} sources: {sources}.",
        count,
        sources="ICJ",
    )
    assert expected in text


def test_french_and_dutch_plurals() -> None:
    """One source, several sources."""
    one = "<b>Vigil</b> watches the public statements of {n} source: {sources}."
    many = "<b>Vigil</b> watches the public statements of {n} sources: {sources}."
    assert "de 1 source :" in translator("fr").plural(one, many, 1, sources="x")
    assert "de 2 sources :" in translator("fr").plural(one, many, 2, sources="x")
    assert "van 3 bronnen:" in translator("nl").plural(one, many, 3, sources="x")


def test_dates_use_each_languages_month_names() -> None:
    """28 Nov 2026 / 28 nov. 2026 / 28 nov 2026 / 28 نوفمبر 2026 (CLDR)."""
    day = date(2026, 11, 28)
    shown = {lang: translator(lang).date(day) for lang in LANGUAGES}
    assert shown == {
        "en": "28 Nov 2026",
        "fr": "28 nov. 2026",
        "nl": "28 nov 2026",
        "ar": "28 نوفمبر 2026",
    }


def test_lists_use_each_languages_comma() -> None:
    """Arabic separates list items with its own comma."""
    assert translator("ar").join(["أ", "ب"]) == "أ، ب"
    assert translator("fr").join(["a", "b"]) == "a, b"
