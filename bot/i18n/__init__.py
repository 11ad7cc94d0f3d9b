"""The bot's own words in English, French, Dutch and Arabic: gettext catalogs read with Babel.

What this package owns: the four interface languages, choosing one from a Telegram
``language_code``, the translation catalogs (``locale/<lang>/LC_MESSAGES/vigil.po``), the
:class:`Tr` every reply and alert frame is written through, and right-to-left layout for Arabic.

Rules:
- Message ids are the English text, marked where they are written: ``tr("…")`` for a text said
  now, ``tr.plural("…", "…", n)`` for a count, ``N_("…")`` for a constant translated later.
  ``python -m bot.i18n.maintain update`` extracts them into the catalogs and ``check`` fails
  when one lacks a translation in any language or a translation's ``{placeholders}`` or HTML
  tags differ from the id's (tests/test_i18n.py runs the same check).
- Placeholders are ``str.format`` names; values are passed already escaped for Telegram HTML.
- In a right-to-left language every value put into a sentence (a topic name, a command, a link)
  is wrapped in FIRST STRONG ISOLATE … POP DIRECTIONAL ISOLATE, so Latin names keep their own
  order inside Arabic; :meth:`Tr.lines` starts each line with a RIGHT-TO-LEFT MARK so a line
  that begins with a Latin word or a symbol is still laid out right to left.
- A parser that refuses input raises a :class:`Reason` (:mod:`bot.i18n.reasons`): English
  as ``str()`` for config errors, translated with escaped values for a chat.
- The ``.po`` files are read at run time (compiled in memory, once per language): they are the
  one source of truth, there is no build step, and they ship as package data.
"""

from bot.i18n.catalog import (
    DEFAULT_LANGUAGE,
    LANGUAGE_NAMES,
    LANGUAGES,
    N_,
    Tr,
    pick_language,
    translator,
)
from bot.i18n.reasons import Given, Names, Reason, Syntax

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "LANGUAGE_NAMES",
    "N_",
    "Given",
    "Names",
    "Reason",
    "Syntax",
    "Tr",
    "pick_language",
    "translator",
]
