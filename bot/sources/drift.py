"""Whether a page's entries moved to another layout, and the fingerprint of a body.

Layout change (PAGES.md §4.3, the Vermont 2018 → 2023 pair): a poll whose entries are mostly
new (more than half, and at least MIN_NEW) *and* whose new links mostly follow none of the link
templates this source's earlier items followed. A template is the link's host and path with
the last segment reduced to its extension and numbers generalised
(``/sites/default/files/documents/*.pdf`` against ``/media/*``), plus the names of its query
parameters. A burst of genuinely new entries keeps the old template and passes; an unchanged
page has nothing new. The fingerprint covers the body *and* the way it is read (``page:``), so
editing a selector re-reads an unchanged page.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from urllib.parse import parse_qsl, urlsplit

from bot.model import Item, PageSpec

MIN_NEW = 3
_NUMBER = re.compile(r"^\d+$")


def body_fingerprint(body: bytes, page: PageSpec | None) -> str:
    digest = hashlib.sha256(body)
    digest.update(repr(page).encode())
    return digest.hexdigest()


def link_template(link: str) -> str:
    """The shape of a link: host, path with numbers and the last segment generalised, query keys."""
    try:
        parts = urlsplit(link)
    except ValueError:
        return link
    segments = [s for s in parts.path.split("/") if s]
    shape = ["{n}" if _NUMBER.match(s) else s for s in segments[:-1]]
    if segments:
        last = segments[-1]
        extension = last.rsplit(".", 1)[1].lower() if "." in last[1:] else ""
        shape.append("*." + extension if extension and len(extension) <= 5 else "*")
    keys = sorted({key for key, _ in parse_qsl(parts.query, keep_blank_values=True)})
    host = (parts.hostname or "").removeprefix("www.")
    return host + "/" + "/".join(shape) + ("?" + "&".join(keys) if keys else "")


def layout_change(
    items: Sequence[Item], fresh: Sequence[Item], old_links: Sequence[str]
) -> str | None:
    """Why this poll looks like a new layout rather than new entries; None when it does not."""
    if not old_links or len(fresh) < MIN_NEW or len(fresh) * 2 <= len(items):
        return None
    known = {link_template(link) for link in old_links}
    moved = [item for item in fresh if item.link and link_template(item.link) not in known]
    if len(moved) * 2 <= len(fresh):
        return None
    example_old = link_template(old_links[0])
    example_new = link_template(moved[0].link or "")
    return (
        f"{len(fresh)} of {len(items)} entries are new and {len(moved)} of them have links "
        f"of another shape ({example_new} instead of {example_old}): the page's layout "
        "changed. Alerts are held; check the source with `vigil probe`, fix `page:` if needed, "
        "then accept the new entries without alerts with `vigil rebaseline ID`."
    )
