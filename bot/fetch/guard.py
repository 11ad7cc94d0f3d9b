"""Connect-time destination guard for feed fetches (RELIABILITY B7, B8, B19).

Rules enforced here:

- Every TCP connection the fetcher opens goes through :class:`GuardedBackend`. It resolves the
  host itself, vets **every** resolved address, and only then connects to one of the vetted
  addresses. Checking at connect time (not at URL-parse time) covers redirect hops, numeric
  host spellings such as ``2130706433`` or ``0x7f000001``, and DNS names that resolve (or
  rebind) to private addresses: the address that was vetted is the address that is dialled.
- An address is refused unless it is globally routable unicast: loopback, private, link-local,
  CGNAT ``100.64.0.0/10``, unspecified, multicast and reserved ranges are refused. IPv4 wrapped in
  IPv6 (``::ffff:0:0/96`` mapped, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``) is judged by the
  embedded IPv4 address, because :mod:`ipaddress` calls several of those wrappers global.
- Endpoints named in ``trusted`` (``(host, port)`` exactly as the URL spells them) skip the check.
  The configured proxy is the one such endpoint in production (B19: a proxy on a private address
  must keep working).
- TLS still verifies the hostname: httpcore passes the origin's host as ``server_hostname`` to
  ``start_tls``, so dialling an IP at the socket level changes nothing for SNI or certificates.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Collection, Iterable

import httpcore

Resolver = Callable[[str, int], Awaitable[list[str]]]

_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class DestinationRefused(Exception):
    """A connection was not opened because its destination is not a public address."""


async def resolve_system(host: str, port: int) -> list[str]:
    """Resolves with the OS resolver, so numeric spellings (``127.1``) expand as a socket would."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def unwrap_ip(address: IPAddress) -> IPAddress:
    """Returns the IPv4 address carried inside mapped, NAT64 and 6to4 IPv6 addresses."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    return address


def refusal_reason(address: str) -> str | None:
    """Says why an address may not be dialled, or None when it is public unicast."""
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    inner = unwrap_ip(parsed)
    checks = (
        (inner.is_loopback, "loopback"),
        (inner.is_unspecified, "unspecified"),
        (inner.is_link_local, "link-local"),
        (inner.is_multicast, "multicast"),
        (isinstance(inner, ipaddress.IPv4Address) and inner in _CGNAT, "carrier-grade NAT"),
        (inner.is_private, "private"),
        (inner.is_reserved, "reserved"),
        (not inner.is_global, "not globally routable"),
    )
    for hit, reason in checks:
        if hit:
            return reason
    return None


def is_public_ip(address: str) -> bool:
    """True when the address is globally routable unicast (after unwrapping IPv4-in-IPv6)."""
    return refusal_reason(address) is None


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """A network backend that dials only vetted addresses; wraps httpcore's default backend."""

    def __init__(
        self,
        *,
        resolver: Resolver | None = None,
        allow_private: bool = False,
        trusted: Collection[tuple[str, int]] = (),
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._resolve = resolver or resolve_system
        self._allow_private = allow_private
        self._trusted = frozenset((host.lower(), port) for host, port in trusted)
        self._inner = inner or httpcore.AnyIOBackend()

    async def vet(self, host: str, port: int) -> list[str]:
        """Resolves a host and returns its addresses, raising if any of them is not allowed."""
        host = host.strip("[]")
        try:
            addresses = [host] if _is_ip_literal(host) else await self._resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"DNS lookup failed for {host}: {exc}") from exc
        if not addresses:
            raise httpcore.ConnectError(f"DNS lookup for {host} returned no address")
        if self._allow_private or (host.lower(), port) in self._trusted:
            return addresses
        for address in addresses:
            reason = refusal_reason(address)
            if reason is not None:
                # One bad address refuses the host: a resolver that mixes a public and a private
                # answer is how DNS rebinding gets a second connection through.
                raise DestinationRefused(
                    f"refused to connect to {host}: it resolves to {address} ({reason})"
                )
        return addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self.vet(host, port)
        last_error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        if last_error is None:  # unreachable: vet() never returns an empty list
            raise httpcore.ConnectError(f"no address to connect to for {host}")
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise DestinationRefused("unix sockets are not feed destinations")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
