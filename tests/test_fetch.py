"""The fetch envelope against a hostile server on 127.0.0.1 (RELIABILITY §B)."""

from __future__ import annotations

import asyncio
import gzip
import io
import logging
import shutil
import socket
import ssl
import subprocess
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import feedparser
import httpcore
import httpx
import pytest

from bot.fetch import Fetcher, FetchPolicy, classify_error, parse_retry_after
from bot.fetch.body import BodyTooLarge, BoundedDecoder, UnsupportedEncoding
from bot.fetch.guard import DestinationRefused, GuardedBackend, refusal_reason, resolve_system
from bot.model import ErrorKind, Outcome
from tests.servers.feeds import FeedServer, FeedServerThread, atom, gzip_bytes, rdf, rss

MiB = 1024 * 1024
LOCAL = FetchPolicy(allow_private_networks=True, timeout=2.0, max_bytes=MiB)
FEED = rss([{"title": "Statement", "link": "http://example.test/1", "guid": "s-1"}])


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    async with FeedServer() as running:
        yield running


def fake_resolver(table: dict[str, list[str]]) -> Callable[[str, int], Awaitable[list[str]]]:
    """A resolver that answers from a table and fails like DNS for anything else."""

    async def resolve(host: str, port: int) -> list[str]:
        if host in table:
            return table[host]
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    return resolve


def dead_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- B1–B14: hostile responses ---------------------------------------------------------------


@dataclass(frozen=True)
class Hostile:
    setup: Callable[[FeedServer], None]
    kind: ErrorKind | None
    outcome: Outcome = Outcome.FAILED
    policy: FetchPolicy = LOCAL
    message: str | None = None
    retry_after: float | None = None


def _setup_retry_after(value: str, status: int = 429) -> Callable[[FeedServer], None]:
    return lambda s: s.status("/feed", status, retry_after=value)


def _redirect_then(server: FeedServer, mode: Callable[[str], None], path: str) -> None:
    server.redirect("/feed", path)
    mode(path)


HOSTILE = {
    "B1-slowloris": Hostile(
        lambda s: s.drip("/feed", FEED, interval=0.3),
        ErrorKind.TIMEOUT,
        policy=replace(LOCAL, timeout=1.0),
    ),
    "B2-never-answers": Hostile(
        lambda s: s.hang("/feed"), ErrorKind.TIMEOUT, policy=replace(LOCAL, timeout=1.0)
    ),
    "B2-hang-after-redirect": Hostile(
        lambda s: _redirect_then(s, s.hang, "/hang"),
        ErrorKind.TIMEOUT,
        policy=replace(LOCAL, timeout=1.0),
    ),
    "B3-endless-chunked": Hostile(lambda s: s.endless("/feed"), ErrorKind.TOO_LARGE),
    "B4-huge-content-length": Hostile(
        lambda s: s.huge_length("/feed"), ErrorKind.TOO_LARGE, message="Content-Length"
    ),
    "B5-gzip-bomb": Hostile(lambda s: s.gzip_bomb("/feed", size=64 * MiB), ErrorKind.TOO_LARGE),
    "B5-gzip-gzip-bomb": Hostile(
        lambda s: s.gzip_bomb("/feed", size=64 * MiB, layers=2), ErrorKind.TOO_LARGE
    ),
    "B5-brotli-unsupported": Hostile(
        lambda s: s.set("/feed", b"\x0b\x02\x80hello\x03", headers={"Content-Encoding": "br"}),
        ErrorKind.REFUSED,
        message="br",
    ),
    "B6-redirect-loop": Hostile(lambda s: s.redirect_loop("/feed"), ErrorKind.REFUSED),
    "B6-redirect-chain-30": Hostile(
        lambda s: s.redirect_chain("/feed", 30, final="/end"), ErrorKind.REFUSED
    ),
    "B9-redirect-to-file": Hostile(
        lambda s: s.redirect("/feed", "file:///etc/passwd"), ErrorKind.REFUSED, message="file"
    ),
    "B9-redirect-to-ftp": Hostile(
        lambda s: s.redirect("/feed", "ftp://127.0.0.1/feed"), ErrorKind.REFUSED
    ),
    "B9-redirect-to-gopher": Hostile(
        lambda s: s.redirect("/feed", "gopher://127.0.0.1:70/1"), ErrorKind.REFUSED
    ),
    "B9-redirect-to-data": Hostile(
        lambda s: s.redirect("/feed", "data:text/xml,<rss/>"), ErrorKind.REFUSED
    ),
    "B9-redirect-to-invalid-url": Hostile(
        lambda s: s.redirect("/feed", "http://[::1"), ErrorKind.REFUSED, message="invalid"
    ),
    "B11-cloudflare-challenge": Hostile(
        lambda s: s.cloudflare("/feed"),
        ErrorKind.HTTP_STATUS,
        message="blocked by a Cloudflare challenge",
    ),
    "B12-304-without-validators": Hostile(
        lambda s: s.status("/feed", 304, body=b""), None, outcome=Outcome.NOT_MODIFIED
    ),
    "B14-429-seconds": Hostile(
        _setup_retry_after("120"), ErrorKind.RATE_LIMITED, retry_after=120.0
    ),
    "B14-429-negative": Hostile(_setup_retry_after("-5"), ErrorKind.RATE_LIMITED),
    "B14-429-huge": Hostile(
        _setup_retry_after("999999999"), ErrorKind.RATE_LIMITED, retry_after=999999999.0
    ),
    "B14-429-garbage": Hostile(_setup_retry_after("abc"), ErrorKind.RATE_LIMITED),
    "B14-503-retry-after": Hostile(
        _setup_retry_after("30", status=503), ErrorKind.RATE_LIMITED, retry_after=30.0
    ),
    "B15-503-plain": Hostile(
        lambda s: s.status("/feed", 503),
        ErrorKind.HTTP_STATUS,
        message="HTTP 503 Service Unavailable",
    ),
    "B15-404": Hostile(
        lambda s: s.status("/feed", 404), ErrorKind.HTTP_STATUS, message="HTTP 404 Not Found"
    ),
    "B15-410": Hostile(
        lambda s: s.status("/feed", 410), ErrorKind.HTTP_STATUS, message="HTTP 410 Gone"
    ),
    "empty-body": Hostile(lambda s: s.empty("/feed"), ErrorKind.EMPTY),
    "html-page-is-fetched": Hostile(lambda s: s.html("/feed"), None, outcome=Outcome.OK),
}


@pytest.mark.parametrize("case", list(HOSTILE.values()), ids=list(HOSTILE))
async def test_hostile_http(server: FeedServer, case: Hostile) -> None:
    """Each hostile behaviour ends in the classified outcome, within the deadline."""
    case.setup(server)
    async with Fetcher(case.policy) as fetcher:
        # Generous outer bound: the point is that the fetch ends by itself.
        result = await asyncio.wait_for(fetcher.fetch(server.url("/feed")), 30)
    assert result.outcome == case.outcome, result
    assert result.error_kind == case.kind, result
    if case.message is not None:
        assert result.error is not None
        assert case.message in result.error
    if case.kind == ErrorKind.RATE_LIMITED:
        assert result.retry_after == case.retry_after
    assert len(result.body) <= case.policy.max_bytes


async def test_gzip_bomb_memory_stays_small(server: FeedServer) -> None:
    """A `gzip, gzip` bomb is stopped inside decompression, with memory near the cap."""
    server.gzip_bomb("/bomb", size=256 * MiB, layers=2)
    async with Fetcher(LOCAL) as fetcher:
        tracemalloc.start()
        try:
            result = await fetcher.fetch(server.url("/bomb"))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert result.error_kind == ErrorKind.TOO_LARGE
    assert peak < 8 * MiB


async def test_redirect_limit_is_exact(server: FeedServer) -> None:
    """Five redirects are followed; the sixth is refused (B6)."""
    server.set("/end", FEED)
    server.redirect_chain("/five", 5, final="/end")
    server.redirect_chain("/six", 6, final="/end")
    async with Fetcher(LOCAL) as fetcher:
        five = await fetcher.fetch(server.url("/five"))
        six = await fetcher.fetch(server.url("/six"))
    assert five.outcome == Outcome.OK
    assert five.final_url == server.url("/end")
    assert six.error_kind == ErrorKind.REFUSED
    assert "redirects" in (six.error or "")


async def test_permanent_redirect_reports_final_url(server: FeedServer) -> None:
    """A 301 is followed and the result names the final URL while keeping the configured one."""
    server.set("/new", FEED)
    server.redirect("/old", "/new", status=301)
    async with Fetcher(LOCAL) as fetcher:
        result = await fetcher.fetch(server.url("/old"))
    assert result.outcome == Outcome.OK
    assert result.url == server.url("/old")
    assert result.final_url == server.url("/new")
    assert result.body == FEED


# --- Conditional GET, bodies, headers --------------------------------------------------------


async def test_conditional_get_round_trip(server: FeedServer) -> None:
    """Validators come back from a 200 and are sent verbatim, turning the next GET into a 304."""
    server.set("/feed", FEED)
    async with Fetcher(LOCAL) as fetcher:
        first = await fetcher.fetch(server.url("/feed"))
        by_etag = await fetcher.fetch(server.url("/feed"), etag=first.etag)
        by_date = await fetcher.fetch(server.url("/feed"), last_modified=first.last_modified)
    assert first.outcome == Outcome.OK
    assert first.body == FEED
    assert first.etag
    assert first.last_modified
    assert first.headers["content-type"].startswith("application/rss+xml")
    assert by_etag.outcome == Outcome.NOT_MODIFIED
    assert by_date.outcome == Outcome.NOT_MODIFIED
    sent = server.requests_for("/feed")
    assert "if-none-match" not in sent[0].headers
    assert sent[1].headers["if-none-match"] == first.etag
    assert sent[2].headers["if-modified-since"] == first.last_modified


async def test_304_without_validators_warns(
    server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A 304 to an unconditional GET is 'no change' plus a warning (B12)."""
    server.status("/feed", 304, body=b"")
    with caplog.at_level(logging.WARNING, logger="vigil.fetch"):
        async with Fetcher(LOCAL) as fetcher:
            result = await fetcher.fetch(server.url("/feed"))
    assert result.outcome == Outcome.NOT_MODIFIED
    assert any("no validators" in record.getMessage() for record in caplog.records)


def _deflate_raw(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


ENCODED: dict[str, tuple[str | None, Callable[[bytes], bytes]]] = {
    "identity": (None, lambda data: data),
    "gzip": ("gzip", gzip_bytes),
    "x-gzip": ("x-gzip", gzip_bytes),
    "deflate-zlib": ("deflate", zlib.compress),
    "deflate-raw": ("deflate", _deflate_raw),
    "gzip-gzip": ("gzip, gzip", lambda data: gzip_bytes(gzip_bytes(data))),
    "gzip-two-members": ("gzip", lambda data: gzip.compress(data[:50]) + gzip.compress(data[50:])),
}


@pytest.mark.parametrize(("encoding", "encode"), list(ENCODED.values()), ids=list(ENCODED))
async def test_content_encodings_decode(
    server: FeedServer, encoding: str | None, encode: Callable[[bytes], bytes]
) -> None:
    """Every coding we accept is decoded from the raw wire bytes to the original body."""
    headers = {"Content-Encoding": encoding} if encoding else {}
    server.set("/feed", encode(FEED), headers=headers)
    async with Fetcher(LOCAL) as fetcher:
        result = await fetcher.fetch(server.url("/feed"))
    assert result.outcome == Outcome.OK, result
    assert result.body == FEED
    assert server.requests[0].headers["accept-encoding"] == "gzip, deflate"


async def test_cap_counts_decompressed_bytes(server: FeedServer) -> None:
    """A body small on the wire but larger than the cap once decoded is too large."""
    body = b"<rss>" + b"a" * (2 * MiB) + b"</rss>"
    server.set("/feed", gzip_bytes(body), headers={"Content-Encoding": "gzip"})
    async with Fetcher(LOCAL) as fetcher:
        result = await fetcher.fetch(server.url("/feed"))
    assert result.error_kind == ErrorKind.TOO_LARGE


def test_bounded_decoder_refuses_unknown_coding() -> None:
    """Codings we never asked for are refused before any byte is decoded."""
    with pytest.raises(UnsupportedEncoding):
        BoundedDecoder("br", MiB)


def test_bounded_decoder_feeds_small_pieces() -> None:
    """Decoding is the same whatever the network chunking, and the cap holds exactly."""
    body = bytes(range(256)) * 4096
    blob = gzip_bytes(gzip_bytes(body))
    decoder = BoundedDecoder("gzip, gzip", len(body))
    for start in range(0, len(blob), 7):
        decoder.feed(blob[start : start + 7])
    assert decoder.finish() == body
    tight = BoundedDecoder("gzip, gzip", len(body) - 1)
    with pytest.raises(BodyTooLarge):
        tight.feed(blob)


async def test_b20_honest_user_agent(server: FeedServer) -> None:
    """The User-Agent names Vigil and a contact URL, never a browser (B20)."""
    server.set("/feed", FEED)
    async with Fetcher(LOCAL) as fetcher:
        await fetcher.fetch(server.url("/feed"))
    agent = server.requests[0].headers["user-agent"]
    assert agent == FetchPolicy().user_agent
    assert agent.startswith("Vigil/")
    assert "+https://" in agent
    assert "Mozilla" not in agent


@pytest.mark.parametrize(
    "url", ["not a url", "http://", "file:///etc/passwd", "ftp://127.0.0.1/feed", "data:,x"]
)
async def test_bad_configured_urls_are_refused(url: str) -> None:
    """A URL without a host or with a non-http scheme is refused, not raised (B9)."""
    async with Fetcher(LOCAL) as fetcher:
        result = await fetcher.fetch(url)
    assert result.outcome == Outcome.FAILED
    assert result.error_kind == ErrorKind.REFUSED


# --- B7, B8: private destinations ------------------------------------------------------------

REFUSED_IPS = [
    "127.0.0.1",
    "127.8.9.10",
    "0.0.0.0",
    "::1",
    "::",
    "::ffff:127.0.0.1",
    "169.254.169.254",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "100.64.0.1",
    "100.127.255.254",
    "fd00::1",
    "fe80::1",
    "fe80::1%lo",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b::7f00:1",
    "2002:7f00:1::",
    "2002:a00:1::",
    "224.0.0.1",
    "ff02::1",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.2.1",
    "198.18.0.1",
]
PUBLIC_IPS = [
    "93.184.216.34",
    "1.1.1.1",
    "2606:4700:4700::1111",
    "64:ff9b::808:808",
    "2002:808:808::",
]


@pytest.mark.parametrize("address", REFUSED_IPS)
def test_classifier_refuses_non_public(address: str) -> None:
    """Every B7/B8 address, unwrapped from its IPv6 wrapper, is refused."""
    assert refusal_reason(address) is not None


@pytest.mark.parametrize("address", PUBLIC_IPS)
def test_classifier_allows_public(address: str) -> None:
    """Public unicast addresses, including NAT64/6to4 wrappers of public IPv4, pass."""
    assert refusal_reason(address) is None


@pytest.mark.parametrize("spelling", ["2130706433", "0x7f000001", "127.1", "017700000001"])
async def test_real_resolver_expands_numeric_spellings(spelling: str) -> None:
    """The OS resolver turns odd IPv4 spellings into 127.0.0.1, which is why we vet its answer."""
    assert await resolve_system(spelling, 80) == ["127.0.0.1"]


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "0.0.0.0",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "2130706433",
        "0x7f000001",
        "127.1",
        "017700000001",
    ],
)
async def test_b7_private_destination_refused(server: FeedServer, host: str) -> None:
    """A loopback destination however spelled is refused at connect time; nothing is sent."""
    server.set("/feed", FEED)
    async with Fetcher(FetchPolicy(timeout=5.0)) as fetcher:
        result = await fetcher.fetch(f"http://{host}:{server.port}/feed")
    assert result.error_kind == ErrorKind.REFUSED, result
    assert server.requests == []


async def test_b7_name_resolving_to_loopback_refused(server: FeedServer) -> None:
    """A DNS name whose answer is private is refused, through the injected resolver."""
    server.set("/feed", FEED)
    resolver = fake_resolver({"feeds.example": ["127.0.0.1"]})
    async with Fetcher(FetchPolicy(timeout=5.0), resolver=resolver) as fetcher:
        result = await fetcher.fetch(f"http://feeds.example:{server.port}/feed")
    assert result.error_kind == ErrorKind.REFUSED
    assert "127.0.0.1" in (result.error or "")
    assert server.requests == []


async def test_b7_redirect_from_allowed_host_to_private_refused() -> None:
    """A trusted host that redirects to a private address is followed no further.

    ``public.test`` resolves to 127.0.0.1 and is made a trusted endpoint (the mechanism the proxy
    uses), so it stands in for a public server; its redirect to another loopback port must be
    refused at connect time, and the second server must see nothing.
    """
    async with FeedServer() as public, FeedServer() as private:
        private.set("/feed", FEED)
        public.redirect("/feed", private.url("/feed"))
        public.set("/ok", FEED)
        resolver = fake_resolver({"public.test": ["127.0.0.1"]})
        policy = FetchPolicy(timeout=5.0)
        trusted = [("public.test", public.port)]
        async with Fetcher(policy, resolver=resolver, trusted_endpoints=trusted) as fetcher:
            allowed = await fetcher.fetch(f"http://public.test:{public.port}/ok")
            redirected = await fetcher.fetch(f"http://public.test:{public.port}/feed")
    assert allowed.outcome == Outcome.OK
    assert public.requests[0].headers["host"] == f"public.test:{public.port}"
    assert redirected.error_kind == ErrorKind.REFUSED
    assert redirected.final_url == private.url("/feed")
    assert private.requests == []


class RecordingBackend(httpcore.AsyncNetworkBackend):
    """An inner backend that records connection attempts and never opens a socket."""

    def __init__(self) -> None:
        self.attempts: list[tuple[str, int]] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.attempts.append((host, port))
        raise httpcore.ConnectError("recorded, not connected")


@pytest.mark.parametrize(
    "answers",
    [["93.184.216.34", "127.0.0.1"], ["10.0.0.5"], ["2606:4700::1", "::ffff:169.254.169.254"]],
    ids=["rebinding-mix", "private", "mapped-metadata"],
)
async def test_guard_vets_every_address_before_connecting(answers: list[str]) -> None:
    """One private answer refuses the host, and no connection is attempted to any address."""
    inner = RecordingBackend()
    backend = GuardedBackend(resolver=fake_resolver({"mixed.test": answers}), inner=inner)
    with pytest.raises(DestinationRefused):
        await backend.connect_tcp("mixed.test", 80)
    assert inner.attempts == []


async def test_guard_dials_the_vetted_address() -> None:
    """The address handed to the socket layer is the vetted one, not the name again."""
    inner = RecordingBackend()
    backend = GuardedBackend(resolver=fake_resolver({"ok.test": ["93.184.216.34"]}), inner=inner)
    with pytest.raises(httpcore.ConnectError):
        await backend.connect_tcp("ok.test", 443)
    assert inner.attempts == [("93.184.216.34", 443)]


# --- B16, B17: TLS and network errors --------------------------------------------------------


async def test_b16_tls_to_plain_http_server(server: FeedServer) -> None:
    """An https URL served by a server speaking plain HTTP fails as TLS."""
    server.set("/feed", FEED)
    async with Fetcher(LOCAL) as fetcher:
        result = await fetcher.fetch(server.url("/feed").replace("http://", "https://"))
    assert result.error_kind == ErrorKind.TLS, result


@pytest.fixture
def self_signed(tmp_path: Path) -> ssl.SSLContext:
    """A server TLS context with a fresh self-signed certificate for 127.0.0.1."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def test_b16_self_signed_certificate(self_signed: ssl.SSLContext) -> None:
    """A self-signed certificate fails as TLS; verification is on by default."""
    async with FeedServer(ssl_context=self_signed) as tls_server:
        tls_server.set("/feed", FEED)
        async with Fetcher(LOCAL) as fetcher:
            result = await fetcher.fetch(tls_server.url("/feed"))
    assert result.error_kind == ErrorKind.TLS, result
    assert tls_server.requests == []


def _wrapped(outer: Exception, inner: BaseException) -> Exception:
    outer.__cause__ = inner
    return outer


CLASSIFIED = {
    "cert-verify": (
        _wrapped(httpx.ConnectError("handshake"), ssl.SSLCertVerificationError("expired")),
        ErrorKind.TLS,
    ),
    "ssl-error-in-core": (
        _wrapped(httpcore.ConnectError("x"), ssl.SSLError(1, "bad record")),
        ErrorKind.TLS,
    ),
    "asyncio-timeout": (TimeoutError(), ErrorKind.TIMEOUT),
    "read-timeout": (httpx.ReadTimeout("slow"), ErrorKind.TIMEOUT),
    "connect-timeout-core": (httpcore.ConnectTimeout("slow"), ErrorKind.TIMEOUT),
    "refused": (httpx.ConnectError("[Errno 111] Connection refused"), ErrorKind.NETWORK),
    "reset": (ConnectionResetError(104, "reset"), ErrorKind.NETWORK),
    "dns": (socket.gaierror(-2, "Name or service not known"), ErrorKind.NETWORK),
    "protocol": (httpx.RemoteProtocolError("peer closed"), ErrorKind.NETWORK),
    "private": (DestinationRefused("loopback"), ErrorKind.REFUSED),
    "private-wrapped": (
        _wrapped(httpx.ConnectError("x"), DestinationRefused("y")),
        ErrorKind.REFUSED,
    ),
    "too-large": (BodyTooLarge("big"), ErrorKind.TOO_LARGE),
    "unsupported-encoding": (UnsupportedEncoding("br"), ErrorKind.REFUSED),
}


@pytest.mark.parametrize(("exc", "kind"), list(CLASSIFIED.values()), ids=list(CLASSIFIED))
def test_b16_error_classifier(exc: Exception, kind: ErrorKind) -> None:
    """Exceptions map to error kinds by type, looking through the cause chain for TLS."""
    assert classify_error(exc)[0] == kind


async def test_b17_connection_refused() -> None:
    """A port with nothing listening fails as a network error."""
    async with Fetcher(LOCAL) as fetcher:
        result = await fetcher.fetch(f"http://127.0.0.1:{dead_port()}/feed")
    assert result.error_kind == ErrorKind.NETWORK


async def test_b17_dns_failure() -> None:
    """A name that does not resolve fails as a network error naming the host."""
    async with Fetcher(LOCAL, resolver=fake_resolver({})) as fetcher:
        result = await fetcher.fetch("http://nxdomain.test/feed")
    assert result.error_kind == ErrorKind.NETWORK
    assert "nxdomain.test" in (result.error or "")


# --- B14: Retry-After parsing ----------------------------------------------------------------

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
RETRY_AFTER = {
    "seconds": ("120", 120.0),
    "zero": ("0", 0.0),
    "padded": (" 30 ", 30.0),
    "huge": ("999999999", 999999999.0),
    "negative": ("-5", None),
    "fraction": ("1.5", None),
    "garbage": ("abc", None),
    "empty": ("", None),
    "missing": (None, None),
    "http-date": (format_datetime(datetime(2026, 1, 1, 12, 2, tzinfo=UTC), usegmt=True), 120.0),
    "http-date-past": ("Thu, 01 Jan 2015 00:00:00 GMT", 0.0),
    "not-a-date": ("Mon, 99 Foo 2026 99:99:99 GMT", None),
}


@pytest.mark.parametrize(("value", "expected"), list(RETRY_AFTER.values()), ids=list(RETRY_AFTER))
def test_b14_retry_after_parsing(value: str | None, expected: float | None) -> None:
    """Retry-After is seconds or an HTTP-date; anything else is None for the caller's default."""
    assert parse_retry_after(value, now=NOW) == expected


# --- B18, B19: concurrency and proxies -------------------------------------------------------


async def test_b18_per_host_and_global_concurrency(server: FeedServer) -> None:
    """At most two requests per host are in flight, and at most max_concurrency overall."""
    server.set("/slow", FEED, delay=0.4)
    one_host = FetchPolicy(allow_private_networks=True, timeout=20.0, per_host_concurrency=2)
    async with Fetcher(one_host) as fetcher:
        results = await asyncio.gather(*(fetcher.fetch(server.url("/slow")) for _ in range(8)))
    assert all(result.outcome == Outcome.OK for result in results)
    assert server.max_in_flight == 2

    server.reset_stats()
    # 127.0.0.1 and localhost are two hosts for the fetcher but one server here.
    two_hosts = replace(one_host, per_host_concurrency=2, max_concurrency=3)
    urls = [server.url("/slow"), f"http://localhost:{server.port}/slow"] * 4
    async with Fetcher(two_hosts) as fetcher:
        results = await asyncio.gather(*(fetcher.fetch(url) for url in urls))
    assert all(result.outcome == Outcome.OK for result in results)
    assert server.max_in_flight == 3


async def test_b19_environment_proxy_ignored(
    server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY and friends pointing at a dead port change nothing (B19)."""
    proxy = f"http://127.0.0.1:{dead_port()}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, proxy)
    server.set("/feed", FEED)
    async with Fetcher(LOCAL) as fetcher:
        result = await fetcher.fetch(server.url("/feed"))
    assert result.outcome == Outcome.OK


async def test_b19_configured_proxy_is_used(server: FeedServer) -> None:
    """With policy.proxy set, requests go to the proxy (here the feed server answers for it)."""
    server.set("/feed", FEED)
    resolver = fake_resolver({"origin.test": ["127.0.0.1"]})
    policy = replace(LOCAL, proxy=server.url("/"))
    async with Fetcher(policy, resolver=resolver) as fetcher:
        # Nothing listens on the origin's port: only the proxy can have answered.
        result = await fetcher.fetch(f"http://origin.test:{dead_port()}/feed")
    assert result.outcome == Outcome.OK, result
    assert result.body == FEED


async def test_b19_private_destination_through_proxy_refused(server: FeedServer) -> None:
    """The proxy may be private; a destination resolving to a private address still is not."""
    server.set("/feed", FEED)
    resolver = fake_resolver({"internal.test": ["127.0.0.1"]})
    policy = FetchPolicy(timeout=5.0, proxy=server.url("/"))
    async with Fetcher(policy, resolver=resolver) as fetcher:
        result = await fetcher.fetch("http://internal.test/feed")
    assert result.error_kind == ErrorKind.REFUSED
    assert server.requests == []


# --- The server helpers themselves -----------------------------------------------------------


def test_feed_server_thread_serves_sync_callers() -> None:
    """The threaded server works for code without an event loop of its own."""
    with FeedServerThread() as threaded:
        threaded.set("/feed", FEED)
        response = httpx.get(threaded.url("/feed"), trust_env=False)
        again = httpx.get(
            threaded.url("/feed"),
            headers={"If-None-Match": response.headers["etag"]},
            trust_env=False,
        )
    assert response.content == FEED
    assert again.status_code == 304
    assert [request.path for request in threaded.requests] == ["/feed", "/feed"]


ITEMS = [
    {"title": "A & B", "link": "http://example.test/a", "guid": "a", "description": "<b>x</b>"},
    {"title": "Second", "link": "http://example.test/b", "guid": "b", "pubDate": "2026-01-01"},
]


@pytest.mark.parametrize(
    ("build", "version"),
    [(rss, "rss20"), (atom, "atom10"), (rdf, "rss10")],
    ids=["rss", "atom", "rdf"],
)
def test_feed_builders_parse(build: Callable[[list[dict[str, str]]], bytes], version: str) -> None:
    """Each builder produces a document feedparser reads as its format, text escaped."""
    parsed = feedparser.parse(io.BytesIO(build(ITEMS)))
    assert parsed.version == version
    assert [entry.title for entry in parsed.entries] == ["A & B", "Second"]
