"""A small PDF writer for tests: real text layers, and the hostile shapes the reader must survive.

Text is drawn with the standard Helvetica font; characters outside Latin-1 (Arabic, its
presentation forms) are given one-byte codes and a ``/ToUnicode`` map, which is how real PDFs
carry them. No binary file is committed: every PDF a test needs is built here.
"""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Sequence

_RTL_RUN = re.compile(
    "[\u0600-\u06ff\ufb50-\ufdff\ufe70-\ufeff]+(?:\\s+[\u0600-\u06ff\ufb50-\ufdff\ufe70-\ufeff]+)*"
)


def visual(line: str) -> str:
    """A left-to-right line in the order a PDF draws it: each Arabic run reversed."""
    return _RTL_RUN.sub(lambda run: run.group()[::-1], line)


def _literal(data: bytes) -> bytes:
    return b"<" + data.hex().encode() + b">"


class _Codes:
    """One-byte codes for the characters used, with the ToUnicode CMap that maps them back."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}

    def encode(self, text: str) -> bytes:
        out = bytearray()
        for ch in text:
            if ch not in self.codes:
                self.codes[ch] = 32 + len(self.codes)
                if self.codes[ch] > 255:
                    raise ValueError("too many distinct characters for one simple font")
            out.append(self.codes[ch])
        return bytes(out)

    def cmap(self) -> bytes:
        lines = [
            b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap",
            b"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
            b"/CMapName /Adobe-Identity-UCS def /CMapType 2 def",
            b"1 begincodespacerange <00> <FF> endcodespacerange",
        ]
        items = sorted(self.codes.items(), key=lambda pair: pair[1])
        for start in range(0, len(items), 100):
            chunk = items[start : start + 100]
            lines.append(f"{len(chunk)} beginbfchar".encode())
            for ch, code in chunk:
                lines.append(f"<{code:02X}> <{ch.encode('utf-16-be').hex().upper()}>".encode())
            lines.append(b"endbfchar")
        lines.append(b"endcmap CMapName currentdict /CMap defineresource pop end end")
        return b"\n".join(lines)


def _content(lines: Sequence[str], codes: _Codes) -> bytes:
    parts = [b"BT /F1 11 Tf 14 TL 72 770 Td"]
    for line in lines:
        parts.append(_literal(codes.encode(visual(line))) + b" Tj T*")
    parts.append(b"ET")
    return b"\n".join(parts)


def make_pdf(
    pages: Sequence[Sequence[str]],
    *,
    compress: bool = True,
    shared_pages: int = 0,
    raw_content: bytes | None = None,
    cyclic: bool = False,
) -> bytes:
    """A PDF with one page per entry of ``pages`` (each a list of text lines).

    ``shared_pages``: that many pages all drawing the first page's content (a 10,000-page PDF in
    a few KB). ``raw_content``: the first page's content stream as given (already compressed
    when ``compress``), for bombs and drawings without text. ``cyclic``: the page tree lists
    itself as its own kid.
    """
    codes = _Codes()
    contents = [_content(lines, codes) for lines in pages]
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    def stream(data: bytes, *, already: bool = False) -> int:
        if compress and not already:
            data = zlib.compress(data)
        flt = b" /Filter /FlateDecode" if compress else b""
        return add(b"<< /Length %d%s >>\nstream\n" % (len(data), flt) + data + b"\nendstream")

    catalog = add(b"")  # filled below
    tree = add(b"")
    tounicode = stream(codes.cmap())
    font = add(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode %d 0 R >>" % tounicode
    )
    content_ids = [stream(c) for c in contents]
    if raw_content is not None:
        content_ids[0] = stream(raw_content, already=True)
    page_ids: list[int] = []
    count = max(len(pages), shared_pages)
    for index in range(count):
        content = content_ids[index] if index < len(content_ids) else content_ids[0]
        page_ids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] "
                b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>"
                % (tree, font, content)
            )
        )
    kids = [b"%d 0 R" % pid for pid in page_ids]
    if cyclic:
        kids.append(b"%d 0 R" % tree)
    objects[tree - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(kids),
        count + (1 if cyclic else 0),
    )
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % tree
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
        % (len(objects) + 1, catalog, xref)
    )
    return out.getvalue()


def bomb_content(size: int) -> bytes:
    """A Flate stream of ``size`` bytes of text operators, compressed to almost nothing."""
    compressor = zlib.compressobj(1)  # fast; still about 170:1
    piece = b"BT /F1 11 Tf 72 700 Td (a) Tj ET\n" * 4096
    out = [compressor.compress(piece) for _ in range(max(1, size // len(piece)))]
    out.append(compressor.flush())
    return b"".join(out)


def encrypt(pdf: bytes, password: str) -> bytes:
    """The same PDF encrypted with a user password (RC4, no optional crypto package needed)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
