"""Turn a fetched body into a :class:`~bot.model.ParsedFeed`: items with stable keys and plain text.

Rules enforced here (RELIABILITY.md section A, API-NOTES.md section 5):

- ``parse_feed`` is pure CPU and never raises: every failure becomes an ``error_kind``. It is
  synchronous; the caller runs it in a worker thread, or through :class:`ParserProcesses` in
  child processes (end of this module) when many bodies wait at once.
- feedparser only ever sees ``io.BytesIO``: given bytes or a str it may read a local file or fetch
  a URL. Response headers are passed lowercase (feedparser ignores capitalised ones), with
  ``content-location`` set to the feed URL so relative links resolve.
- We decode the body ourselves (BOM, UTF-16/32 sniffing, strict UTF-8, the declared charsets,
  then windows-1252), drop characters XML forbids (NULs and most C0 controls), and remove DTD
  internal subsets and ``<!ENTITY>`` declarations *on the decoded text*, so no charset trick can
  smuggle a declaration past the check. feedparser's own DOCTYPE filter only looks at line starts;
  without this, 80 KB of nested or repeated entities cost seconds of CPU and over 1 GB of memory.
  The cleaned document is handed on as UTF-8.
- When entity declarations were removed, the feed is still parsed (references stay literal) with a
  warning; if what comes out is garbage (no items, or items showing a removed entity's literal
  reference) the feed is refused with ``ErrorKind.DTD``.
- feedparser runs with ``sanitize_html=False, resolve_relative_uris=False``: we never display feed
  HTML, :func:`bot.text.html_to_text` reduces it to text, so sanitising it first only costs time
  (about half the parse). Element links (``link``, ``id``) are still resolved by feedparser.
- Empty body → ``EMPTY``; a body feedparser cannot identify as RSS, Atom or RDF → ``NOT_A_FEED``;
  a not-well-formed feed with usable entries is accepted with a warning.
- Item keys: the entry's GUID/id, else its normalised link, else a hash of title, summary and
  enclosure URL — never a date. A key shared by several entries of one document is made unique by
  a hash of link and title on *every* entry sharing it, so the result does not depend on the order
  of the entries. Keys longer than 512 characters are replaced by their hash.
- A truncated document keeps its complete entries; the last entry, which may be cut short, is
  dropped so that a later complete copy of it is not mistaken for an item already seen.
- Text fields are capped at ``max_field_chars``; only http and https links are kept; dates come
  from ``published_parsed`` else ``updated_parsed`` and are dropped when absurd (before 1990 or
  more than two days in the future), never replaced by "now".
"""

from __future__ import annotations

import codecs
import hashlib
import html.entities
import io
import os
import pickle
import re
import selectors
import signal
import struct
import subprocess
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import feedparser

from bot.model import ErrorKind, Item, ParsedFeed
from bot.text import clean_text, html_to_text

__all__ = [
    "ParserProcesses",
    "item_key",
    "normalize_link",
    "parse_feed",
    "processes_available",
    "serve_worker",
    "strip_dtd",
]

MAX_KEY_CHARS = 512
MAX_TTL_MINUTES = 7 * 24 * 60
MAX_AUTHOR_CHARS = 512
MIN_YEAR = 1990
FUTURE_SLACK = timedelta(days=2)
# HTML is reduced to text after this many characters of markup per allowed text character:
# markup-heavy fields still yield their text, and the work per field stays bounded.
_MARKUP_FACTOR = 4

# feedparser mutates the global warning filters through catch_warnings(), which is not thread-safe;
# parsing holds the GIL anyway, so serialising parses costs no throughput.
_PARSE_LOCK = threading.Lock()

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# '<' followed by '?' or a letter, as the first character of a BOM-less wide document.
_WIDE_PREFIXES: tuple[tuple[bytes, str], ...] = (
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<", "utf-16-be"),
    (b"<\x00", "utf-16-le"),
)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]{0,512}?\?>")
_DECL_ENCODING = re.compile(r"""encoding\s*=\s*(["'])([A-Za-z0-9._:-]{1,64})\1""")
_HEADER_CHARSET = re.compile(r";\s*charset\s*=\s*[\"']?([^\s;\"']+)[\"']?", re.IGNORECASE)
# Characters XML 1.0 does not allow; expat rejects a document containing any of them.
_NOT_XML_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# DTD scanning. CDATA sections and comments are skipped so that markup quoted inside them stays.
_DTD_START = re.compile(r"<!\[CDATA\[|<!--|<!(DOCTYPE|ENTITY)\b", re.IGNORECASE)
_DECL_TOKEN = re.compile(r"""["'\[\]>]|<!--""")
_ENTITY_NAME = re.compile(r"<!ENTITY\s+(?:%\s+)?([^\s\"'>%]+)", re.IGNORECASE)

_ROOT_CLOSE = re.compile(r"</(?:[A-Za-z_][\w.-]*:)?(?:rss|feed|RDF|channel)\s*>")
_TRUNCATION_MESSAGES = ("no element found", "unclosed token", "unclosed cdata", "partial character")
_HTML_HINT = re.compile(rb"<(?:!doctype\s+html|html|head|body)[\s>]", re.IGNORECASE)
_KNOWN_ENTITIES = frozenset(name.rstrip(";") for name in html.entities.html5)


def parse_feed(
    body: bytes,
    *,
    headers: Mapping[str, str] | None = None,
    url: str = "",
    max_field_chars: int = 100_000,
    max_items: int = 2_000,
    now: datetime | None = None,
) -> ParsedFeed:
    """Parse one fetched body; every failure is reported in the result, never raised.

    ``now`` is the reference for "absurdly far in the future" dates; it defaults to the clock.
    """
    try:
        return _parse(
            body,
            headers=headers or {},
            url=url,
            max_field_chars=max(1, max_field_chars),
            max_items=max(0, max_items),
            now=now or datetime.now(UTC),
        )
    except Exception as exc:  # a bug or a parser crash must cost one feed, not the cycle
        return ParsedFeed(error_kind=ErrorKind.PARSE, error=_describe("parser failed", exc))


def strip_dtd(body: bytes) -> tuple[bytes, bool]:
    """Remove DOCTYPE internal subsets and ``<!ENTITY>`` declarations wherever they appear.

    Works on ASCII-compatible bytes (``parse_feed`` applies the same scan to decoded text). The
    flag says whether anything able to declare entities was removed; a DOCTYPE without an internal
    subset is removed too, silently, because it can only point at an external DTD.
    """
    text, removed, _ = _strip_dtd_text(body.decode("latin-1"))
    return text.encode("latin-1"), removed


def item_key(entry: Mapping[str, Any]) -> str | None:
    """Return the identity of a feed entry: GUID, else normalised link, else a content hash."""
    guid = _str(entry.get("id")).strip()
    if guid:
        return _cap_key(guid)
    link = _str(entry.get("link")).strip()
    if link:
        return _cap_key(normalize_link(link))
    title = _str(entry.get("title"))
    summary = _str(entry.get("summary"))
    enclosure = _enclosure_url(entry)
    if not (title.strip() or summary.strip() or enclosure):
        return None
    return "h:" + _sha256("\x1f".join((title, summary, enclosure)))


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


def _parse(
    body: bytes,
    *,
    headers: Mapping[str, str],
    url: str,
    max_field_chars: int,
    max_items: int,
    now: datetime,
) -> ParsedFeed:
    if not body.strip(b" \t\r\n\x00\xef\xbb\xbf\xfe\xff"):
        return ParsedFeed(error_kind=ErrorKind.EMPTY, error="empty body")
    lower_headers = {str(k).lower(): str(v) for k, v in headers.items()}
    text, encoding_warnings = _decode(body, lower_headers.get("content-type", ""))
    text, invalid_count = _NOT_XML_CHARS.subn("", text)
    text, dtd_removed, entity_names = _strip_dtd_text(text)
    if not text.strip():
        if dtd_removed:
            return _dtd_refused()
        return ParsedFeed(error_kind=ErrorKind.EMPTY, error="empty body")

    warnings_out = list(encoding_warnings)
    if invalid_count:
        warnings_out.append(f"removed {invalid_count} characters not allowed in XML")
    if dtd_removed:
        warnings_out.append("removed DTD entity declarations; entity references left unexpanded")

    result = _run_feedparser(_as_utf8_document(text), lower_headers, url)
    if isinstance(result, BaseException):
        return ParsedFeed(
            error_kind=ErrorKind.PARSE,
            error=_describe("parser failed", result),
            warnings=tuple(warnings_out),
        )

    entries = list(result.get("entries") or [])
    if not result.get("version"):
        if dtd_removed:
            return _dtd_refused(warnings_out)
        return ParsedFeed(
            error_kind=ErrorKind.NOT_A_FEED,
            error=_not_a_feed_reason(body, lower_headers),
            warnings=tuple(warnings_out),
        )
    if result.get("bozo"):
        exc = result.get("bozo_exception")
        if isinstance(exc, feedparser.ThingsNobodyCaresAboutButMe):
            warnings_out.append(_describe("questionable content type", exc))
        else:
            prefix = f"feed is not well-formed; {len(entries)} entries recovered"
            warnings_out.append(_describe(prefix, exc))

    skipped = 0
    if entries and _looks_truncated(text, result.get("bozo_exception")):
        entries.pop()
        skipped += 1
        warnings_out.append("document is truncated; its last entry was ignored")
    if len(entries) > max_items:
        warnings_out.append(f"feed has {len(entries)} entries; only the first {max_items} are used")
        entries = entries[:max_items]

    items, unusable, duplicates = _build_items(entries, max_field_chars, now)
    skipped += unusable
    if duplicates:
        warnings_out.append(f"dropped {duplicates} duplicate entries")

    if dtd_removed and (not items or _shows_entity_refs(items, entity_names)):
        return _dtd_refused(warnings_out)

    feed = result.get("feed") or {}
    return ParsedFeed(
        items=tuple(items),
        title=_typed_text(
            feed.get("title"), feed.get("title_detail"), max_field_chars, "text/plain"
        ),
        ttl_minutes=_ttl(feed.get("ttl")),
        skipped=skipped,
        warnings=tuple(warnings_out),
    )


def _run_feedparser(document: bytes, headers: Mapping[str, str], url: str) -> Any:
    response_headers = {
        key: headers[key] for key in ("content-type", "content-language") if key in headers
    }
    # The document is UTF-8 now, whatever the server said; a missing type would only add a
    # NonXMLContentType complaint about a document we already decoded.
    base_type = _HEADER_CHARSET.sub("", response_headers.get("content-type", "")).strip()
    response_headers["content-type"] = f"{base_type or 'application/xml'}; charset=utf-8"
    if url:
        response_headers["content-location"] = url
    with _PARSE_LOCK, warnings.catch_warnings():
        # feedparser's own DeprecationWarnings must not become errors in callers that escalate them.
        warnings.simplefilter("ignore")
        try:
            return feedparser.parse(
                io.BytesIO(document),
                response_headers=response_headers,
                sanitize_html=False,
                resolve_relative_uris=False,
            )
        except Exception as exc:  # feedparser has raised AssertionError on odd CDATA
            return exc


def _decode(body: bytes, content_type: str) -> tuple[str, list[str]]:
    """Decode the body the way a tolerant reader would, reporting when declarations were wrong."""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(encoding, errors="replace"), []
    for prefix, encoding in _WIDE_PREFIXES:
        if body.startswith(prefix):
            return body.decode(encoding, errors="replace"), []

    found = (_header_charset(content_type), _declared_encoding(body))
    declared = list(dict.fromkeys(name.lower() for name in found if name))
    # Valid UTF-8 with non-ASCII bytes is almost never another charset, while servers often
    # declare a default charset they do not use.
    for candidate in ("utf-8", *declared):
        try:
            text = body.decode(candidate)
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
        return text, []
    named = ", ".join(declared) if declared else "utf-8"
    note = f"body is not valid in its declared encoding ({named}); decoded as windows-1252"
    return body.decode("windows-1252", errors="replace"), [note]


def _header_charset(content_type: str) -> str | None:
    match = _HEADER_CHARSET.search(content_type)
    return match.group(1) if match else None


def _declared_encoding(body: bytes) -> str | None:
    decl = _XML_DECL.match(body[:1024].decode("latin-1"))
    if not decl:
        return None
    match = _DECL_ENCODING.search(decl.group(0))
    return match.group(2) if match else None


def _as_utf8_document(text: str) -> bytes:
    decl = _XML_DECL.match(text)
    if decl:
        fixed = _DECL_ENCODING.sub('encoding="utf-8"', decl.group(0))
        text = fixed + text[decl.end() :]
    return text.encode("utf-8")


def _strip_dtd_text(text: str) -> tuple[str, bool, frozenset[str]]:
    """Remove DOCTYPE declarations and ENTITY declarations; linear in the length of ``text``.

    Returns the text, whether an internal subset or ENTITY declaration was removed, and the names
    of the entities that were declared.
    """
    out: list[str] = []
    names: set[str] = set()
    removed = False
    pos = 0
    while True:
        match = _DTD_START.search(text, pos)
        if match is None:
            out.append(text[pos:])
            break
        opener = match.group(0)
        if opener.startswith("<![") or opener == "<!--":
            closer = "]]>" if opener.startswith("<![") else "-->"
            end = text.find(closer, match.end())
            end = len(text) if end < 0 else end + len(closer)
            out.append(text[pos:end])
            pos = end
            continue
        out.append(text[pos : match.start()])
        end, has_subset = _declaration_end(text, match.end())
        declaration = text[match.start() : end]
        names.update(_ENTITY_NAME.findall(declaration))
        if has_subset or match.group(1).upper() == "ENTITY":
            removed = True
        pos = end
    return "".join(out), removed, frozenset(names)


def _declaration_end(text: str, pos: int) -> tuple[int, bool]:
    """Find the ``>`` closing a markup declaration, skipping quoted strings and a ``[...]`` subset.

    An unterminated declaration runs to the end of the text: whatever follows it was never going
    to parse as intended.
    """
    depth = 0
    has_subset = False
    while True:
        token = _DECL_TOKEN.search(text, pos)
        if token is None:
            return len(text), has_subset
        kind = token.group(0)
        if kind in ('"', "'"):
            close = text.find(kind, token.end())
            if close < 0:
                return len(text), has_subset
            pos = close + 1
        elif kind == "<!--":
            close = text.find("-->", token.end())
            if close < 0:
                return len(text), has_subset
            pos = close + 3
        elif kind == "[":
            depth += 1
            has_subset = True
            pos = token.end()
        elif kind == "]":
            depth = max(0, depth - 1)
            pos = token.end()
        elif depth == 0:
            return token.end(), has_subset
        else:
            pos = token.end()


def _looks_truncated(text: str, exc: object) -> bool:
    message = str(getattr(exc, "getMessage", lambda: "")()).lower() if exc is not None else ""
    if any(marker in message for marker in _TRUNCATION_MESSAGES):
        return True
    return _ROOT_CLOSE.search(text, max(0, len(text) - 65_536)) is None


def _build_items(
    entries: list[Any], max_field_chars: int, now: datetime
) -> tuple[list[Item], int, int]:
    """Return the items, the number of unusable entries, and the number of exact duplicates."""
    base_keys: list[str | None] = []
    for entry in entries:
        try:
            base_keys.append(item_key(entry))
        except Exception:  # a malformed entry is unusable, not fatal
            base_keys.append(None)
    shared = {key for key, count in Counter(k for k in base_keys if k).items() if count > 1}

    items: list[Item] = []
    seen: set[str] = set()
    unusable = duplicates = 0
    for entry, key in zip(entries, base_keys, strict=True):
        if key is None:
            unusable += 1
            continue
        if key in shared:
            link = _str(entry.get("link"))
            title = _str(entry.get("title"))
            key = _cap_key(f"{key}#{_sha256(link + chr(10) + title)[:16]}")
        if key in seen:
            duplicates += 1
            continue
        try:
            items.append(_build_item(entry, key, max_field_chars, now))
        except Exception:  # a malformed entry is unusable, not fatal
            unusable += 1
            continue
        seen.add(key)
    return items, unusable, duplicates


def _build_item(entry: Any, key: str, max_field_chars: int, now: datetime) -> Item:
    title = _typed_text(
        entry.get("title"), entry.get("title_detail"), max_field_chars, "text/plain"
    )
    summary = _typed_text(
        entry.get("summary"), entry.get("summary_detail"), max_field_chars, "text/html"
    )
    parts = [
        _typed_text(part.get("value"), part, max_field_chars, "text/html")
        for part in (entry.get("content") or [])
        if isinstance(part, Mapping)
    ]
    content = "\n".join(part for part in parts if part)[:max_field_chars]
    if content == summary:
        content = ""
    author = clean_text(_str(entry.get("author"))[: MAX_AUTHOR_CHARS * 4])[:MAX_AUTHOR_CHARS]
    return Item(
        key=key,
        title=title,
        link=_http_link(entry.get("link")),
        summary=summary,
        content=content,
        published=_published(entry, now),
        author=author or None,
    )


def _typed_text(value: object, detail: object, cap: int, default_type: str) -> str:
    """Plain text of a feed string, reading it as HTML only when feedparser says it is HTML."""
    raw = _str(value)
    if not raw:
        return ""
    content_type = default_type
    if isinstance(detail, Mapping):
        content_type = _str(detail.get("type")) or default_type
    raw = raw[: cap * _MARKUP_FACTOR]
    text = html_to_text(raw) if "html" in content_type.lower() else clean_text(raw)
    return text[:cap]


def _http_link(value: object) -> str | None:
    link = _str(value).strip()
    try:
        scheme = urlsplit(link).scheme.lower()
    except ValueError:
        return None
    return link if scheme in ("http", "https") and clean_text(link) == link else None


def _published(entry: Any, now: datetime) -> datetime | None:
    for field in ("published_parsed", "updated_parsed"):
        # Membership, not .get(): feedparser maps a missing updated_parsed to published_parsed
        # with a DeprecationWarning.
        if field not in entry:
            continue
        value = entry[field]
        if value is None:
            continue
        try:
            year, month, day, hour, minute, second = (int(v) for v in tuple(value)[:6])
            moment = datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
        except (TypeError, ValueError, OverflowError):
            continue
        if moment.year < MIN_YEAR or moment > now + FUTURE_SLACK:
            return None
        return moment
    return None


def _ttl(value: object) -> int | None:
    try:
        minutes = int(str(value).strip())
    except ValueError:
        return None
    return min(minutes, MAX_TTL_MINUTES) if minutes > 0 else None


def _enclosure_url(entry: Mapping[str, Any]) -> str:
    for link in entry.get("links") or []:
        if isinstance(link, Mapping) and link.get("rel") == "enclosure":
            return _str(link.get("href")).strip()
    return ""


def _shows_entity_refs(items: list[Item], names: frozenset[str]) -> bool:
    suspicious = [name for name in names if name not in _KNOWN_ENTITIES]
    if not suspicious:
        return False
    refs = tuple(f"&{name};" for name in suspicious)
    return any(
        ref in text
        for item in items
        for text in (item.title, item.summary, item.content)
        for ref in refs
    )


def _not_a_feed_reason(body: bytes, headers: Mapping[str, str]) -> str:
    head = body[:4096]
    if _HTML_HINT.search(head) or "html" in headers.get("content-type", "").lower():
        return "not a feed (looks like an HTML page)"
    if head.lstrip().startswith((b"{", b"[")):
        return "not a feed (looks like JSON; JSON Feed is not supported)"
    return "not a feed (no RSS, Atom or RDF document found)"


def _dtd_refused(warnings_out: list[str] | None = None) -> ParsedFeed:
    return ParsedFeed(
        error_kind=ErrorKind.DTD,
        error="rejected: DTD entity declarations",
        warnings=tuple(warnings_out or ()),
    )


def _cap_key(key: str) -> str:
    return key if len(key) <= MAX_KEY_CHARS else "k:" + _sha256(key)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _describe(prefix: str, exc: object) -> str:
    if exc is None:
        return prefix
    return f"{prefix}: {type(exc).__name__}: {exc}"[:300]


# --- Parsing in child processes ------------------------------------------------------------------
#
# feedparser is pure Python, so threads parse one feed at a time under the GIL, and on a cold cycle
# (hundreds of new bodies) parsing is most of the CPU. Child processes parse on the other cores.
# They are Vigil's own minimal interpreters (``python -P -c`` importing only this module, not a
# re-run of the main script as multiprocessing's spawn does), one request at a time each, so a
# worker that hangs past the deadline or dies costs exactly one feed: it is killed and replaced.
# The body goes down a pipe and the ParsedFeed comes back pickled; both ends are this code.

_REQUEST = struct.Struct("!QQ")  # length of the pickled (headers, url), length of the body
_ANSWER = struct.Struct("!Q")  # length of the pickled ParsedFeed
_MAX_ANSWER = 1 << 31  # a larger answer is a corrupt stream, not a feed
_WORKER_CODE = "from bot.parse import serve_worker; serve_worker()"


def serve_worker() -> None:
    """The child's loop: read a request from stdin, answer on stdout, until stdin closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when a worker stops
    warnings.simplefilter("ignore")
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but answers may reach the pipe
    while True:
        header = requests.read(_REQUEST.size)
        if len(header) < _REQUEST.size:
            return
        meta_size, body_size = _REQUEST.unpack(header)
        meta = requests.read(meta_size)
        body = requests.read(body_size)
        if len(meta) < meta_size or len(body) < body_size:
            return  # the parent went away mid-request
        headers, url = pickle.loads(meta)  # noqa: S301 - written by our parent, never by a feed
        data = pickle.dumps(parse_feed(body, headers=headers, url=url), pickle.HIGHEST_PROTOCOL)
        answers.write(_ANSWER.pack(len(data)))
        answers.write(data)
        answers.flush()


def processes_available() -> bool:
    """Child processes pay off with a second core, on POSIX pipes, from a normal interpreter."""
    return os.name == "posix" and (os.cpu_count() or 1) >= 2 and bool(sys.executable)


class _WorkerGone(Exception):
    """The worker died, closed its pipe or answered garbage."""


class _Worker:
    def __init__(self) -> None:
        root = str(Path(__file__).resolve().parent.parent)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and code
            [sys.executable, "-P", "-c", _WORKER_CODE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            bufsize=0,
            close_fds=True,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.requests = self.process.stdin.fileno()
        self.answers = self.process.stdout.fileno()
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.answers, selectors.EVENT_READ)

    def parse(self, body: bytes, headers: dict[str, str], url: str, deadline: float) -> ParsedFeed:
        """Raises TimeoutError past ``deadline`` (monotonic) and _WorkerGone on a dead worker."""
        meta = pickle.dumps((headers, url), pickle.HIGHEST_PROTOCOL)
        try:
            for chunk in (_REQUEST.pack(len(meta), len(body)), meta, body):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(self.requests, view) :]
        except OSError as exc:  # BrokenPipeError: it died
            raise _WorkerGone(str(exc)) from None
        (size,) = _ANSWER.unpack(self._read(_ANSWER.size, deadline))
        if size > _MAX_ANSWER:
            raise _WorkerGone("answer too large")
        parsed = pickle.loads(self._read(size, deadline))  # noqa: S301 - from our own child
        if not isinstance(parsed, ParsedFeed):
            raise _WorkerGone("answer is not a ParsedFeed")
        return parsed

    def _read(self, size: int, deadline: float) -> bytearray:
        buffer = bytearray(size)
        view = memoryview(buffer)
        done = 0
        while done < size:
            left = deadline - time.monotonic()
            if left <= 0 or not self.selector.select(left):
                raise TimeoutError
            try:
                count = os.readv(self.answers, [view[done:]])
            except OSError as exc:  # not expected: EOF is how a dead worker shows
                raise _WorkerGone(str(exc)) from None
            if count == 0:
                raise _WorkerGone(f"exit code {self.process.poll()}")
            done += count
        return buffer

    def stop(self) -> None:
        self.selector.close()
        self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


class ParserProcesses:
    """``parse_feed`` in child processes, started on demand; blocking and thread-safe.

    Each call takes an idle worker (or starts one) for the time of one parse, so the callers'
    thread pool bounds how many workers exist. A parse past its deadline kills its worker; a
    worker that dies costs that one feed. :meth:`shrink` stops the idle workers (their memory
    goes back to the system), :meth:`close` stops them all.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._closed = False

    @property
    def started(self) -> int:
        with self._lock:
            return len(self._idle) + len(self._busy)

    def parse(
        self, body: bytes, *, headers: Mapping[str, str], url: str, timeout: float
    ) -> ParsedFeed:
        """What ``parse_feed`` returns, or a PARSE error if the worker timed out or died."""
        deadline = time.monotonic() + timeout
        try:
            worker = self._take()
        except OSError as exc:
            error = _describe("parser process not started", exc)
            return ParsedFeed(error_kind=ErrorKind.PARSE, error=error)
        try:
            parsed = worker.parse(body, dict(headers), url, deadline)
        except TimeoutError:
            self._give_back(worker, keep=False)
            return ParsedFeed(error_kind=ErrorKind.PARSE, error=f"parsing took over {timeout:.0f}s")
        except _WorkerGone as exc:
            self._give_back(worker, keep=False)
            return ParsedFeed(error_kind=ErrorKind.PARSE, error=f"parser process died ({exc})")
        except BaseException:
            self._give_back(worker, keep=False)
            raise
        self._give_back(worker, keep=True)
        return parsed

    def shrink(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.stop()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            busy = list(self._busy)
        for worker in idle:
            worker.stop()
        for worker in busy:
            # Only killed here: its caller's thread sees the pipe close, reports the feed and
            # closes the pipes itself (closing them under its feet could hand their numbers
            # to another file while it still reads).
            worker.process.kill()

    def _take(self) -> _Worker:
        dead: list[_Worker] = []
        with self._lock:
            if self._closed:
                raise OSError("parser processes closed")
            while self._idle:
                worker = self._idle.pop()
                if worker.process.poll() is not None:
                    dead.append(worker)  # killed while idle (the OOM killer, an operator)
                    continue
                self._busy.add(worker)
                break
            else:
                worker = None
        for gone in dead:
            gone.stop()
        if worker is not None:
            return worker
        worker = _Worker()  # outside the lock: starting takes a moment
        with self._lock:
            accepted = not self._closed
            if accepted:
                self._busy.add(worker)
        if not accepted:
            worker.stop()
            raise OSError("parser processes closed")
        return worker

    def _give_back(self, worker: _Worker, *, keep: bool) -> None:
        with self._lock:
            self._busy.discard(worker)
            if keep and not self._closed:
                self._idle.append(worker)
                return
        worker.stop()
