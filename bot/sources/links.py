"""Which links of a page can be entries, and why the others are not.

Rules: a link is resolved against the page's base URL (final URL joined with ``<base href>``),
whitespace inside ``href`` removed; it must then be http(s) on the page's own site (the same
host, ``www.`` and subdomains of one another included), not the page itself, not a bare
``#anchor``, and not inside navigation: ``nav``/``aside`` elements, page-level
``header``/``footer`` (an ``article``'s own header holds its title link), ARIA navigation roles,
and classes or ids that name menus, breadcrumbs, pagers, language switchers, sidebars and
share bars. ``link_pattern`` (RE2, searched in path and query) narrows further. Each refusal
has a reason, for `vigil probe`.
"""

from __future__ import annotations

import functools
import re
from itertools import islice
from typing import Any
from urllib.parse import urljoin, urlsplit

import re2

_SPACE = re.compile(r"\s+")
_OTHER_SCHEMES = ("javascript:", "mailto:", "data:", "tel:", "sms:", "ftp:", "file:")
_NAV_TAGS = frozenset({"nav", "aside"})
_EDGE_TAGS = frozenset({"header", "footer"})
_NAV_ROLES = frozenset(
    {"navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar"}
)
_NAV_WORDS = frozenset(
    {
        "nav", "navbar", "navigation", "menu", "menubar", "breadcrumb", "breadcrumbs", "pager",
        "pagination", "paging", "language", "languages", "lang", "wpml", "polylang", "sidebar",
        "skip", "social", "share", "sharing", "toolbar", "tabs",
    }
)  # fmt: skip
_EDGE_CLASS = re.compile(r"(?:site|page|region|global|main|l|layout)?[-_]*(?:header|footer)")
_WORD_SPLIT = re.compile(r"[-_\s]+")
# A root-relative path with no dot segments, backslashes or odd characters joins by concatenation.
_NAV_LINKS = 1_000  # links of one navigation block marked at once; the rest walk up
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]+)?(?=/|$)")
_PLAIN = re.compile(r"^(?!.*/\.\.?(?:/|$|[?#]))/[A-Za-z0-9/._~%!$&'()*+,;=:@?#-]*$")


class LinkJudge:
    """Judges one page's links: ``judge(element)`` gives (absolute URL, None) or (None, why)."""

    def __init__(self, base_url: str, page_url: str, link_pattern: str | None = None) -> None:
        self.base_url = base_url
        self.page_url = page_url.split("#", 1)[0]
        self.host = _site(urlsplit(page_url).hostname or "")
        self.pattern = None
        if link_pattern:
            options = re2.Options()
            options.log_errors = False
            self.pattern = re2.compile(link_pattern, options)
        self._nav_cache: dict[Any, tuple[str | None, bool]] = {}
        self._nav_links: dict[Any, str] = {}  # links of a navigation block found: its kind
        self._resolved: dict[str, tuple[str | None, str | None]] = {}
        self._verdicts: dict[str, tuple[str | None, str | None, str | None]] = {}
        base = urlsplit(base_url)
        self._origin = (
            f"{base.scheme}://{base.netloc}"
            if base.scheme in ("http", "https") and base.netloc
            else ""
        )
        # URLs under this prefix need no split to be known on-site, when the base is on-site.
        home_site = _site(base.hostname or "")
        on_site = home_site == self.host or _related(base.hostname, self.host)
        self._root = f"{self._origin}/" if self._origin else ""
        self._home = self._root if on_site else ""
        self._page_bare = self.page_url.rstrip("/")
        # What urljoin puts before a query-only href ("?page=2"): the base without its query.
        self._query_base = ""
        if self._origin:
            joined = urljoin(base_url, "?x")
            if joined.endswith("?x") and urlsplit(joined).hostname:
                self._query_base = joined[:-2]

    def resolve(self, href: str | None) -> tuple[str | None, str | None]:
        """The absolute http(s) URL of an href, or None and why not (cached per page)."""
        key = href or ""
        known = self._resolved.get(key)
        if known is None:
            known = self._resolved[key] = self._resolve(key)
        return known

    def _resolve(self, href: str) -> tuple[str | None, str | None]:
        # Every whitespace character but the space is unprintable: most hrefs skip the regex.
        raw = href if " " not in href and href.isprintable() else _SPACE.sub("", href)
        if not raw:
            return None, "empty href"
        first = raw[0]
        if first == "/":  # no scheme starts with "/" or "#", "?"
            if self._origin and raw[1:2] != "/" and _PLAIN.match(raw):
                return self._origin + raw.split("#", 1)[0], None  # the common case, no urljoin
        elif first == "#":
            return None, "an anchor within the page"
        elif first == "?":
            kept = raw.split("#", 1)[0]
            if self._query_base and len(kept) > 1:
                # urljoin keeps the base's scheme, host and path and takes the new query.
                return self._query_base + kept, None
        else:
            lowered = raw.lower()
            if lowered.startswith(_OTHER_SCHEMES):  # one call for the common miss
                scheme = next(name for name in _OTHER_SCHEMES if lowered.startswith(name))
                return None, f"not a web link ({scheme})"
        origin = _ORIGIN.match(raw) if self._origin else None
        if origin is not None:
            # An absolute http(s) link (a page's own links, its social and partner links):
            # urljoin gives it back unchanged, bar an empty ";" or "?", which it drops (those
            # take the long way); the host is there, so the checks below pass.
            kept = raw.split("#", 1)[0]
            rest = raw[origin.end() :]
            if ";" not in kept and not kept.endswith("?") and (not rest or _PLAIN.match(rest)):
                return kept, None
        try:
            absolute = urljoin(self.base_url, raw)
            parts = urlsplit(absolute)
        except ValueError:
            return None, "not a valid URL"
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return None, f"not a web link ({parts.scheme or 'no scheme'})"
        return absolute.split("#", 1)[0], None

    def judge(self, element: Any, href: str | None = None) -> tuple[str | None, str | None]:
        """The element's link, or why not; ``href`` is its href when the caller has read it.

        Everything but the navigation check depends on the href alone, and a listing repeats
        hrefs (a title link and a "read more" to one URL), so that is worked out once per page.
        """
        key = href if href is not None else element.get("href") or ""
        known = self._verdicts.get(key)
        if known is None:
            known = self._verdicts[key] = self._url_verdict(key)
        absolute, before, after = known
        if absolute is None or before is not None:
            return None, before
        where = self._nav_links.get(element) or self._info(element)[0]
        if where:
            return None, f"in {where}"
        if after is not None:
            return None, after
        return absolute, None

    def _url_verdict(self, href: str) -> tuple[str | None, str | None, str | None]:
        absolute, why = self._resolve(href)  # each href comes here once: no resolve cache
        if absolute is None:
            return None, why, None
        if self._home and absolute.startswith(self._home):
            parts = None  # on the base URL's own host (a netloc never holds "/"): on-site
        else:
            parts = urlsplit(absolute)
            host = parts.hostname
            if _site(host or "") != self.host and not _related(host, self.host):
                return absolute, f"off-site ({host})", None
        if absolute == self.page_url or absolute.rstrip("/") == self._page_bare:
            return absolute, "the page itself", None
        if self.pattern is not None:
            parts = parts or urlsplit(absolute)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if self.pattern.search(target) is None:
                return absolute, None, "does not match link_pattern"
        return absolute, None, None

    def navigation(self, element: Any) -> str | None:
        """What navigation block holds the element (nav, footer, pager…), or None."""
        return self._info(element)[0]

    def _info(self, element: Any) -> tuple[str | None, bool]:
        """(navigation kind of the element or an ancestor, whether it is or is in an article).

        Both depend only on ancestors, so each node is worked out once per page (iteratively:
        no recursion on deep trees).
        """
        cache = self._nav_cache
        known = cache.get(element)
        if known is not None:
            return known
        chain = [element]
        for node in element.iterancestors():
            known = cache.get(node)
            if known is not None:
                break
            chain.append(node)
        above: tuple[str | None, bool] = known or (None, False)
        for current in reversed(chain):
            tag = current.tag
            if not isinstance(tag, str):
                tag = ""
            kind, in_article = above
            if kind is None:
                kind = _nav_kind(current, tag, in_article)
                if kind is not None:
                    # The outermost navigation block: every link in it is in it, whatever lies
                    # between, so its other links need no walk (a bounded number of them).
                    for link in islice(current.iter("a"), _NAV_LINKS):
                        self._nav_links[link] = kind
            above = (kind, in_article or tag == "article")
            cache[current] = above
        return above


def _nav_kind(node: Any, tag: str, in_article: bool) -> str | None:
    if tag in _NAV_TAGS:
        return "navigation" if tag == "nav" else "a sidebar"
    if tag in _EDGE_TAGS and not in_article:
        return f"the page {tag}"
    get = node.get
    role, class_attr, id_attr = get("role"), get("class"), get("id")
    if not (role or class_attr or id_attr):
        return None  # most elements: nothing to look up
    return _attr_kind(role or "", class_attr or "", id_attr or "", in_article)


@functools.lru_cache(maxsize=4096)
def _attr_kind(role_attr: str, class_attr: str, id_attr: str, in_article: bool) -> str | None:
    """The navigation kind named by role, classes and id; cached by value (pages repeat them)."""
    role = role_attr.strip().lower()
    if role in _NAV_ROLES:
        return f"a {role} region"
    for token in [*class_attr.split(), id_attr]:
        lowered = token.lower()
        if not lowered:
            continue
        if _EDGE_CLASS.fullmatch(lowered) and not in_article:
            return f"the page {'header' if 'header' in lowered else 'footer'}"
        words = _WORD_SPLIT.split(lowered)
        hit = next((w for w in words if w in _NAV_WORDS), None)
        if hit:
            return f"a {hit} block"
    return None


def _site(host: str) -> str:
    return host.lower().removeprefix("www.")


def _related(host: str | None, site: str) -> bool:
    """Subdomains of one another are one site (en.etilaf.org and etilaf.org)."""
    other = _site(host or "")
    return bool(other and site) and (other.endswith("." + site) or site.endswith("." + other))
