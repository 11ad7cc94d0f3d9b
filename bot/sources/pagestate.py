"""What a page is when it yields no entries: blocked, an app shell, or honestly empty.

Rules (PAGES.md §4.6):
- **Blocked:** a 401, 403, 429 or 503 answer to a page source, or a 200 whose body is a bot
  challenge — Cloudflare ("Just a moment...", "Attention Required! | Cloudflare",
  ``cf-mitigated: challenge``, the challenge-platform script), Akamai ("Access Denied … Reference
  #"), Imperva/Incapsula, Sucuri, DDoS-Guard, or "Please turn JavaScript on and reload". A
  blocked page is never read as an empty listing or a layout change.
- **Needs JavaScript:** no entries and little visible text, plus a ``<noscript>`` that asks for
  JavaScript or an empty mount point (``#root``, ``#app``, ``#__next``, ``__NEXT_DATA__``,
  ``ng-version``).
- **Empty:** no entries and the page says so: a Drupal ``view-empty`` block, a ``no-results``
  element, or "no results" in English, French, Dutch or Arabic in the main text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

BLOCKING_STATUSES = frozenset({401, 403, 429, 503})
_HEAD = 64 * 1024  # bytes of a page searched for an app's mount point
# Lower-case patterns searched in the lower-cased head: the same as re.I on bytes (ASCII case
# folding) and several times faster, since case-sensitive patterns get the literal-prefix scan;
# a top-level alternation loses that scan (16× slower), so its branches are entries of their own.
_CHALLENGES: tuple[tuple[re.Pattern[bytes], str], ...] = (
    (re.compile(rb"<title>\s*just a moment"), "a Cloudflare challenge"),
    (re.compile(rb"attention required!\s*\|\s*cloudflare"), "a Cloudflare block page"),
    (re.compile(rb"/cdn-cgi/challenge-platform/"), "a Cloudflare challenge"),
    (re.compile(rb"cf-chl-"), "a Cloudflare challenge"),
    (
        re.compile(
            rb"<title>\s*access denied\s*</title>.*(?:reference(?:\s|&#32;)*(?:#|&#35;)"
            rb"|you don't have permission to access)",
            re.S,
        ),
        "an Akamai 'Access Denied' page",
    ),
    (re.compile(rb"incapsula incident id"), "an Imperva block page"),
    (re.compile(rb"_incapsula_resource"), "an Imperva block page"),
    (re.compile(rb"sucuri website firewall"), "a Sucuri firewall page"),
    (re.compile(rb"ddos-guard"), "a DDoS-Guard challenge"),
    (
        re.compile(rb"please (?:turn|enable) javascript on and reload"),
        "a bot check asking for JavaScript",
    ),
)
_SMALL_PAGE = 20_000  # a challenge page is small; a large page naming Cloudflare is not one
_APP_MOUNT = re.compile(
    r"""id=["'](?:root|app|__next|__nuxt)["'][^>]*>\s*</|__NEXT_DATA__|ng-version=|data-reactroot""",
    re.I,
)
_ASKS_FOR_JS = re.compile(r"javascript|enable js|activer javascript|جافا ?سكريبت", re.I)
_EMPTY_CLASSES = re.compile(r"(?:^|\s)(?:view-empty|no-results?|empty-results?|not-found)(?:\s|$)")
_EMPTY_WORDS = re.compile(
    r"no (?:results|items|content|press releases|news) (?:found|available|to display)"
    r"|nothing (?:found|to display)|there are no (?:items|results|posts)"
    r"|aucun(?:e)? (?:résultat|contenu|communiqué)|geen (?:resultaten|berichten|items)"
    r"|لا توجد (?:نتائج|أخبار|بيانات)|لا يوجد محتوى",
    re.I,
)
SHELL_TEXT = 400  # visible characters below which a page with a mount point is an app shell


def challenge(body: bytes, headers: Mapping[str, str], status: int | None = None) -> str | None:
    """What blocked us, when the answer is a bot challenge or a blocking status; else None."""
    if headers.get("cf-mitigated", "").lower() == "challenge":
        return "a Cloudflare challenge (cf-mitigated: challenge)"
    # A challenge page is small; in a large page only its head (the title) can say so.
    head = (body[:_SMALL_PAGE] if len(body) < _SMALL_PAGE else body[:4096]).lower()
    for pattern, what in _CHALLENGES:
        if pattern.search(head):
            return what
    if status in BLOCKING_STATUSES:
        return f"HTTP {status}"
    return None


def visible_text(root: Any) -> str:
    """The page's text without scripts, styles and templates."""
    parts = []
    for node in root.iter():
        tag = node.tag if isinstance(node.tag, str) else ""
        if tag in ("script", "style", "noscript", "template", "head", "title"):
            continue
        if node.text and tag:
            parts.append(node.text)
        if node.tail:
            parent = node.getparent()
            parent_tag = parent.tag if parent is not None and isinstance(parent.tag, str) else ""
            if parent_tag not in ("script", "style", "noscript", "template", "head"):
                parts.append(node.tail)
    return " ".join(" ".join(parts).split())


def app_shell(root: Any, raw_text: str) -> bool:
    """Whether the page is a script-drawn app with nothing readable without JavaScript."""
    if len(visible_text(root)) >= SHELL_TEXT:
        return False
    noscript = " ".join(n.text_content() for n in root.iter("noscript"))
    return bool(_ASKS_FOR_JS.search(noscript)) or bool(_APP_MOUNT.search(raw_text[: _HEAD * 4]))


def says_empty(root: Any) -> bool:
    """Whether the page itself says it has nothing to list."""
    for node in root.iter():
        if not isinstance(node.tag, str):
            continue
        if _EMPTY_CLASSES.search(node.get("class") or ""):
            return True
    return bool(_EMPTY_WORDS.search(visible_text(root)[:100_000]))
