"""The text layer of a PDF, read in a child process that may be killed (PAGES §3.4).

Why a child: PDF parsers have a steady history of infinite loops, memory bombs and crashes in
hostile files, and no in-process bound stops a C crash or a 10 GB allocation. So each PDF is
read by a fresh ``python -P -c`` of this module that first limits its own address space
(``RLIMIT_AS``) and CPU time, then reads at most ``max_pages`` pages; the parent kills it at a
wall-clock deadline. Whatever happens — encrypted, corrupt, cyclic, a bomb, a crash, a hang —
the answer is a :class:`PdfText` with a reason, and the service goes on.

The library is pypdf, chosen by measurement: on the corpus's Arabic PDF it gives the logical
order (``حَبيبي habibi``) where pypdfium2 gives the visual order reversed plus unmapped glyphs
(README "Full text"). Pages whose content stream decompresses past :data:`MAX_STREAM` are
skipped before text extraction (pypdf's own advice). A PDF with no text layer is ``no_text``,
not an error. The text is joined by :func:`bot.sources.pdflayout.join_pages`.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import resource
import signal
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

from bot.sources.pdflayout import join_pages

__all__ = ["PdfLimits", "PdfText", "read_pdf", "read_pdf_in_child"]

MAX_STREAM = 32 * 1024 * 1024  # decompressed content stream of one page
MAX_ANSWER = 16 * 1024 * 1024
_HEADER = struct.Struct("!Q")
_CHILD_CODE = "from bot.sources.pdf import serve_child; serve_child()"


@dataclass(frozen=True, slots=True)
class PdfLimits:
    deadline: float = 20.0  # wall-clock seconds for the whole read
    memory: int = 512 * 1024 * 1024  # RLIMIT_AS of the child
    max_pages: int = 50
    max_chars: int = 100_000


@dataclass(frozen=True, slots=True)
class PdfText:
    """The text of a PDF, or why there is none (``reason``); ``text`` may be partial."""

    text: str = ""
    pages: int = 0  # pages in the document
    read: int = 0  # pages read
    reason: str | None = None  # None, "no_text", "encrypted", "corrupt", "too_large", …
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.reason is None


def read_pdf(data: bytes, max_pages: int, max_chars: int) -> PdfText:
    """Reads a PDF in this process (the child calls it); never raises past ``Exception``."""
    # Imported here: only the child needs pypdf loaded.
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    return PdfText(reason="encrypted", detail="needs a password")
            except (FileNotDecryptedError, NotImplementedError, DependencyError) as exc:
                return PdfText(reason="encrypted", detail=str(exc)[:200])
        total = len(reader.pages)
    except RecursionError:
        return PdfText(reason="corrupt", detail="cyclic or too deeply nested structure")
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        return PdfText(reason="corrupt", detail=f"{type(exc).__name__}: {exc}"[:200])
    texts: list[str] = []
    chars = 0
    skipped = 0
    for index in range(min(total, max_pages)):
        try:
            page = reader.pages[index]
            contents = page.get_contents()
            if contents is not None and len(contents.get_data()) > MAX_STREAM:
                skipped += 1
                texts.append("")
                continue
            text = page.extract_text() or ""
        except RecursionError:
            return PdfText(reason="corrupt", detail=f"page {index + 1}: cyclic structure")
        except MemoryError:
            raise
        except Exception as exc:  # one bad page costs that page only
            text = ""
            skipped += 1
            del exc
        texts.append(text)
        chars += len(text)
        if chars >= max_chars:
            break
    joined = join_pages(texts)[:max_chars]
    if not joined.strip():
        reason = "too_large" if skipped else "no_text"
        return PdfText(pages=total, read=len(texts), reason=reason)
    return PdfText(joined, total, len(texts))


def serve_child() -> None:
    """The child: limits itself, reads one PDF from stdin, answers JSON on stdout."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    max_pages, max_chars, memory, cpu = (int(arg) for arg in sys.argv[1:5])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    sys.setrecursionlimit(5000)
    data = sys.stdin.buffer.read()
    out = sys.stdout.buffer
    sys.stdout = sys.stderr
    try:
        result = read_pdf(data, max_pages, max_chars)
    except MemoryError:
        result = PdfText(reason="too_large", detail="over the memory limit")
    answer = json.dumps(
        {
            "text": result.text,
            "pages": result.pages,
            "read": result.read,
            "reason": result.reason,
            "detail": result.detail,
        }
    ).encode()
    out.write(_HEADER.pack(len(answer)) + answer)
    out.flush()


def _child_env() -> dict[str, str]:
    root = str(Path(__file__).resolve().parents[2])  # the folder holding `bot`
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


async def read_pdf_in_child(data: bytes, limits: PdfLimits, *, code: str = _CHILD_CODE) -> PdfText:
    """Reads ``data`` in a fresh child within ``limits``; never raises (except cancellation).

    ``code`` is the child's program; tests pass one that crashes to show how a crash ends.
    """
    cpu = max(1, int(limits.deadline) + 1)
    argv = [str(limits.max_pages), str(limits.max_chars), str(limits.memory), str(cpu)]
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-P",
            "-c",
            code,
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=_child_env(),
        )
    except OSError as exc:
        return PdfText(reason="extractor_failed", detail=f"cannot start: {exc}"[:200])
    try:
        async with asyncio.timeout(limits.deadline):
            answer, _ = await process.communicate(data)
    except TimeoutError:
        return PdfText(reason="timeout", detail=f"not read within {limits.deadline:g} s")
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    return _answer(answer, process.returncode)


def _answer(answer: bytes, returncode: int | None) -> PdfText:
    if returncode:
        name = _signal_name(-returncode) if returncode < 0 else f"exit code {returncode}"
        return PdfText(reason="extractor_failed", detail=f"extractor process died ({name})")
    if len(answer) < _HEADER.size:
        return PdfText(reason="extractor_failed", detail="no answer from the extractor")
    (size,) = _HEADER.unpack(answer[: _HEADER.size])
    body = answer[_HEADER.size :]
    if size != len(body) or size > MAX_ANSWER:
        return PdfText(reason="extractor_failed", detail="garbled answer from the extractor")
    try:
        fields = json.loads(body)
        return PdfText(
            text=str(fields["text"]),
            pages=int(fields["pages"]),
            read=int(fields["read"]),
            reason=fields["reason"],
            detail=str(fields["detail"]),
        )
    except (ValueError, KeyError, TypeError):
        return PdfText(reason="extractor_failed", detail="garbled answer from the extractor")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
