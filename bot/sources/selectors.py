"""Selectors of a page source: CSS (cssselect) or XPath (lxml), each with an optional ``@attr``.

Rules: ``xpath:`` starts an XPath expression, anything else is CSS (changedetection's
convention); a CSS selector may end in ``@name`` to read an attribute instead of the text
(``time@datetime``). Both are compiled to one lxml XPath, once per text (cached), so
`vigil check` and the reader agree on what is valid. Compilation errors are
:class:`SelectorError` with a message a config author can act on.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from cssselect import HTMLTranslator
from cssselect import SelectorError as CssError
from lxml import etree

XPATH_PREFIX = "xpath:"
_ATTR_SUFFIX = re.compile(r"@([A-Za-z_:][-\w:.]*)\s*$")
_TRANSLATOR = HTMLTranslator()


class SelectorError(ValueError):
    """A selector that does not compile; the message says why."""


@dataclass(frozen=True)
class Selector:
    """A compiled selector: ``find(node)`` gives the matching elements or strings."""

    text: str
    xpath: Any  # lxml.etree.XPath
    attr: str | None

    def find(self, node: Any) -> list[Any]:
        try:
            found = self.xpath(node)
        except etree.XPathError:
            return []
        return found if isinstance(found, list) else [found]

    def first_value(self, node: Any) -> str | None:
        """The attribute (or text) of the first match; None when nothing matches."""
        for hit in self.find(node):
            if isinstance(hit, str):
                return str(hit)
            if not isinstance(getattr(hit, "tag", None), str):
                continue
            if self.attr:
                value = hit.get(self.attr)
                if value is not None:
                    return str(value)
                continue
            return str(hit.text_content())
        return None


@functools.lru_cache(maxsize=512)
def compile_selector(text: str) -> Selector:
    """Compiles one selector; raises SelectorError naming what is wrong."""
    source = text.strip()
    if not source:
        raise SelectorError("empty selector")
    if source.lower().startswith(XPATH_PREFIX):
        expression = source[len(XPATH_PREFIX) :].strip()
        try:
            return Selector(text, etree.XPath(expression), None)
        except etree.XPathSyntaxError as exc:
            raise SelectorError(f"invalid XPath {expression!r}: {exc}") from None
    attr = None
    match = _ATTR_SUFFIX.search(source)
    if match and source.count("[", 0, match.start()) == source.count("]", 0, match.start()):
        attr = match.group(1)
        source = source[: match.start()].strip()
        if not source:
            raise SelectorError(f"`@{attr}` needs a selector before it (e.g. time@{attr})")
    try:
        expression = _TRANSLATOR.css_to_xpath(source, prefix="descendant-or-self::")
    except CssError as exc:
        raise SelectorError(f"invalid CSS selector {source!r}: {exc}") from None
    except Exception as exc:  # cssselect raises ExpressionError and others on odd input
        raise SelectorError(f"invalid CSS selector {source!r}: {exc}") from None
    try:
        return Selector(text, etree.XPath(expression), attr)
    except etree.XPathSyntaxError as exc:
        raise SelectorError(f"invalid CSS selector {source!r}: {exc}") from None
