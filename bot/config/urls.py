"""URLs and patterns in feeds.yaml checked at load time: scheme, host, credentials, private hosts.

This is only the load-time half of the private-network rule: names resolving to private
addresses are refused by the fetcher's guard at connect time (:mod:`bot.fetch.guard`).
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, urlsplit

import re2

MAX_URL_LENGTH = 2048
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

_ODD_NUMERIC_HOST = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+))*\.?")


def split_url(url: str) -> tuple[SplitResult | None, str | None]:
    """The URL's parts with an ASCII host, or the reason it cannot be fetched safely."""
    if len(url) > MAX_URL_LENGTH:
        return None, f"URL is longer than {MAX_URL_LENGTH} characters"
    if any(char.isspace() or not char.isprintable() for char in url):
        return None, "URL contains spaces or control characters (percent-encode them: %20)"
    if "://" not in url:
        return None, "URL needs a scheme: write https://…"
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        return None, f"only http and https URLs are allowed, not {parts.scheme}:"
    try:
        port = parts.port
    except ValueError:
        return None, "URL has an invalid port"
    if parts.username is not None or parts.password is not None:
        return None, "credentials in the URL are not allowed: they would end up in logs"
    host = parts.hostname
    if not host:
        return None, "URL has no host"
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None, "the host is not a valid international domain name"
        netloc = host if port is None else f"{host}:{port}"
        parts = parts._replace(netloc=netloc)
    return parts, None


def private_host(host: str) -> str | None:
    """Why a host literal is not a public destination, or None when it may be."""
    if host == "localhost" or host.endswith(".localhost"):
        return f"{host} is not a public host (loopback)"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if _ODD_NUMERIC_HOST.fullmatch(host):
            return f"{host} is a numeric host that resolvers may read as any IP address"
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif address.sixtofour is not None:
            address = address.sixtofour
        elif address in _NAT64:
            address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    for kind, flag in (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("unspecified", address.is_unspecified),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("special-purpose", not address.is_global),
    ):
        if flag:
            return f"{host} is not a public address ({kind})"
    return None


def regex_problem(pattern: str) -> str | None:
    """Why RE2 will not take the pattern, in words a config author can act on; None if fine."""
    if not pattern.strip():
        return "empty pattern: it would match every item"
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    try:
        compiled = re2.compile(pattern, options)
    except re2.error as exc:
        # RE2 says "invalid escape sequence: \1" or "invalid perl operator: (?=", which does not
        # tell a config author that the feature itself is what is refused, nor why.
        if re.search(r"\\[1-9]|\(\?P=|\\k<", pattern):
            return "backreferences are not supported (RE2 guarantees linear-time matching)"
        if re.search(r"\(\?<?[=!]", pattern):
            return (
                "lookahead and lookbehind are not supported (RE2 guarantees linear-time matching)"
            )
        detail = exc.args[0] if exc.args else exc
        text = detail.decode() if isinstance(detail, bytes) else str(detail)
        return f"invalid regular expression: {text}"
    if compiled.search("") is not None:
        return "the pattern matches empty text, so it would match every item"
    return None
