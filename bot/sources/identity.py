"""The identity of an item: what makes two sightings the same statement.

Rules: an entry's GUID/id, else its normalised link, else a hash of title, summary and
enclosure URL — never a date or a position. Keys longer than MAX_KEY_CHARS are replaced by
their hash. A normalised link lowers scheme and host, drops the default port, the fragment and
``utm_*`` parameters, and keeps the path as is. A page entry's identity is its
:func:`canonical_link`: the normalised link with every known tracking parameter dropped and
http and https read as the same.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MAX_KEY_CHARS = 512
# Parameters that only say where a click came from; everything else in a query can matter
# (Drupal ?page=, German government PDFs' __blob=publicationFile).
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid",
        "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "ref_src",
        "oly_anon_id", "oly_enc_id", "vero_id", "wt_mc", "at_medium", "at_campaign",
    }
)  # fmt: skip
_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")
_SIMPLE_LINK = re.compile(r"https?://[a-z0-9.-]+(?:/[A-Za-z0-9/._~!$&'()*+,;=:@-]*)?")


def item_key(entry: Mapping[str, Any]) -> str | None:
    """Return the identity of a feed entry: GUID, else normalised link, else a content hash."""
    guid = _str(entry.get("id")).strip()
    if guid:
        return cap_key(guid)
    link = _str(entry.get("link")).strip()
    if link:
        return cap_key(normalize_link(link))
    title = _str(entry.get("title"))
    summary = _str(entry.get("summary"))
    enclosure = _enclosure_url(entry)
    if not (title.strip() or summary.strip() or enclosure):
        return None
    return "h:" + sha256("\x1f".join((title, summary, enclosure)))


def normalize_link(url: str) -> str:
    """Canonical form of a link for identity: case-insensitive parts lowered, noise removed.

    Scheme and host are lowercased, the default port and the fragment dropped, and ``utm_*``
    tracking parameters removed; the path, including a trailing slash, is kept as is.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    userinfo, _, hostport = parts.netloc.rpartition("@")
    hostport = hostport.lower()
    default_port = {"http": ":80", "https": ":443"}.get(scheme)
    if default_port and hostport.endswith(default_port):
        hostport = hostport[: -len(default_port)]
    hostport = hostport.removesuffix(":")
    netloc = f"{userinfo}@{hostport}" if userinfo else hostport
    query = "&".join(
        param
        for param in parts.query.split("&")
        if param and not param.split("=", 1)[0].lower().startswith("utm_")
    )
    return urlunsplit((scheme, netloc, parts.path, query, ""))


def canonical_link(url: str) -> str:
    """Identity of a page entry's link: :func:`normalize_link`, then tracking parameters,
    the ``http``/``https`` difference and the case of percent-escapes removed."""
    if _SIMPLE_LINK.fullmatch(url):
        # Lower-case host, no port, query, fragment or escape: nothing to normalise but the
        # scheme and an empty path (the general path below gives the same, slower).
        rest = url[url.index("//") + 2 :]
        return "https://" + (rest if "/" in rest else rest + "/")
    return _canonical_link(url)


def _canonical_link(url: str) -> str:
    normal = normalize_link(url)
    try:
        parts = urlsplit(normal)
    except ValueError:
        return normal
    scheme = "https" if parts.scheme in ("http", "https") else parts.scheme
    netloc = parts.netloc.removesuffix(":443") if scheme == "https" else parts.netloc
    query = "&".join(
        param
        for param in parts.query.split("&")
        if param and param.split("=", 1)[0].lower() not in TRACKING_PARAMS
    )
    path = _ESCAPE.sub(lambda m: m.group(0).upper(), parts.path) or "/"
    return urlunsplit((scheme, netloc, path, query, ""))


def cap_key(key: str) -> str:
    return key if len(key) <= MAX_KEY_CHARS else "k:" + sha256(key)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _enclosure_url(entry: Mapping[str, Any]) -> str:
    for link in entry.get("links") or []:
        if isinstance(link, Mapping) and link.get("rel") == "enclosure":
            return _str(link.get("href")).strip()
    return ""
