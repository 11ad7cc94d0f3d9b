"""Keeping the catalogs in step with the code: ``python -m bot.i18n.maintain update|check``.

``update`` extracts every marked message from ``bot/`` (Babel's Python extractor) and merges the
ids into the four catalogs: new ids arrive untranslated (the English catalog copies the id),
ids no longer in the code are dropped, translations are never guessed (no fuzzy matching).
Babel warns (on stderr) about an f-string with substitutions among a message call's
arguments: it cannot be a message id. The code passes placeholder values built by calls, never
f-strings, so a warning always means a message that is not extracted (tests/test_i18n.py).
``check`` lists every problem and exits 1 when there is one: an id without a translation (or
still marked fuzzy) in any catalog, a translation whose ``{placeholders}`` or HTML tags differ
from its id's, or a catalog entry no code uses. tests/test_i18n.py runs the same check.
"""

from __future__ import annotations

import copy
import re
import string
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po

from bot.i18n.catalog import DEFAULT_LANGUAGE, DOMAIN, LANGUAGE_NAMES, LANGUAGES, po_path

# How the code marks messages (see the package docstring): tr(id), tr.plural(one, many, n), N_(id).
KEYWORDS: dict[str, tuple[int, ...] | None] = {"tr": None, "N_": None, "plural": (1, 2)}
SOURCE_ROOT = Path(__file__).resolve().parent.parent
_TAG = re.compile(r"</?([a-z][a-z-]*)")


def extract() -> Catalog:
    """Every message marked in ``bot/``, with where it is used."""
    template = Catalog(domain=DOMAIN, project="Vigil", fuzzy=False)
    for path in sorted(SOURCE_ROOT.rglob("*.py")):
        found = extract_from_file("python", str(path), keywords=KEYWORDS)
        where = path.relative_to(SOURCE_ROOT.parent).as_posix()
        for line, msgid, _comments, _context in found:
            template.add(msgid, locations=[(where, line)])
    return template


def read_catalog(lang: str) -> Catalog:
    """The catalog of one language as it is on disk."""
    with po_path(lang).open("rb") as handle:
        return read_po(handle, locale=lang, domain=DOMAIN)


def write_catalog(lang: str, catalog: Catalog) -> None:
    path = po_path(lang)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, catalog, width=100, sort_output=False, include_previous=False)


def update() -> None:
    extracted = extract()  # once: each extractor warning is printed once, not per language
    for lang in LANGUAGES:
        template = copy.deepcopy(extracted)  # Catalog.update adopts the template's messages
        path = po_path(lang)
        if path.exists():
            catalog = read_catalog(lang)
        else:
            catalog = Catalog(locale=lang, domain=DOMAIN, project="Vigil", fuzzy=False)
        catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
        catalog.obsolete.clear()
        catalog.fuzzy = False
        catalog.version = "0.1.0"
        catalog.header_comment = (
            f"# Vigil's own words in {LANGUAGE_NAMES[lang]}. Edit only the msgstr lines;\n"
            "# `python -m bot.i18n.maintain update` adds new ids, `check` finds what is missing\n"
            "# (README, Development: adding a message)."
        )
        if lang == DEFAULT_LANGUAGE:
            for message in catalog:
                if message.id and not _translated(message):
                    message.string = message.id
        write_catalog(lang, catalog)


def problems() -> list[str]:
    """Everything ``check`` refuses, one line each."""
    template = extract()
    found: list[str] = []
    for lang in LANGUAGES:
        try:
            catalog = read_catalog(lang)
        except OSError as exc:
            found.append(f"{lang}: cannot read {po_path(lang)}: {exc}")
            continue
        where = _shown_path(po_path(lang))
        for wanted in template:
            if not wanted.id:
                continue
            message = catalog.get(wanted.id)
            if message is None or not _translated(message, catalog.num_plurals):
                found.append(f"{where}: no translation for {_key(wanted.id)}")
            elif message.fuzzy:
                found.append(f"{where}: translation of {_key(wanted.id)} is marked fuzzy")
            else:
                found.extend(f"{where}: {_key(wanted.id)}: {p}" for p in _mismatches(message))
        for message in catalog:
            if message.id and template.get(message.id) is None:
                found.append(f"{where}: {_key(message.id)} is used nowhere (run update)")
    return found


def _shown_path(path: Path) -> str:
    try:
        return path.relative_to(SOURCE_ROOT.parent).as_posix()
    except ValueError:
        return str(path)


def _key(msgid: str | tuple[str, ...] | list[str]) -> str:
    text = msgid if isinstance(msgid, str) else msgid[0]
    return repr(text if len(text) <= 60 else text[:59] + "…")


def _forms(value: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _translated(message: Message, plurals: int = 1) -> bool:
    forms = _forms(message.string)
    if not isinstance(message.id, str) and len(forms) < plurals:
        return False
    return bool(forms) and all(forms)


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def tags(text: str) -> Counter[str]:
    return Counter(_TAG.findall(text))


def _mismatches(message: Message) -> Iterator[str]:
    ids = _forms(message.id)
    wanted = set().union(*(placeholders(i) for i in ids))
    for form in _forms(message.string):
        try:
            have = placeholders(form)
        except ValueError as exc:
            yield f"translation is not a valid format string ({exc})"
            continue
        # A plural form may spell its count out ("مصدر واحد"); every other value must be there.
        missing = (wanted - {"n"} if len(ids) > 1 else wanted) - have
        if missing or have - wanted:
            yield f"placeholders differ: {sorted(wanted)} in the id, {sorted(have)} in {form!r}"
        if tags(form) != tags(ids[0]):
            yield f"HTML tags differ from the id's in {form!r}"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["update"]:
        update()
        return 0
    if args == ["check"]:
        found = problems()
        for problem in found:
            print(problem)
        return 1 if found else 0
    print("usage: python -m bot.i18n.maintain update|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
