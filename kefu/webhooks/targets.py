"""Where a webhook may point (the SSRF rule).

A target is an ``http`` or ``https`` URL with a host and no credentials. Its host must
resolve only to global unicast addresses — never loopback, private, link-local,
multicast, reserved, shared or unspecified ones — unless ``KEFU_WEBHOOK_ALLOW_PRIVATE=1``.

The rule is checked when a hook is created or changed (a clear 400) and again at each
delivery: :class:`GuardedResolver` is the resolver of the delivery client, so the
addresses it checks are the very addresses the connection uses (a DNS answer that
changes between the check and the connection — DNS rebinding — cannot slip a private
address past it). Redirects are never followed (a 3xx is a failed delivery).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from tornado.netutil import DefaultExecutorResolver, Resolver

MAX_URL = 2000


class RefusedTarget(ValueError):
    """The URL or its address may not be a webhook's target; ``str()`` says why."""


def address_allowed(address: str, allow_private: bool) -> bool:
    """Whether a resolved address may be connected to (``allow_private``: any)."""
    if allow_private:
        return True
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str) -> tuple[str, int]:
    """The URL's (host, port), or :class:`RefusedTarget` (scheme, credentials, host)."""
    if len(url) > MAX_URL:
        raise RefusedTarget(f"at most {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RefusedTarget(f"not a URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise RefusedTarget("the scheme must be http or https")
    if parts.username is not None or parts.password is not None:
        raise RefusedTarget("no credentials in the URL (the signature authenticates us)")
    if not parts.hostname:
        raise RefusedTarget("the URL has no host")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def check_target(url: str, allow_private: bool) -> None:
    """Check ``url`` and the addresses its host resolves to now. Blocking (DNS): called
    from the executor. A host that does not resolve (yet) is accepted: each delivery
    checks again and logs the failure."""
    host, port = check_url(url)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return
    refused = sorted({str(info[4][0]) for info in found
                      if not address_allowed(str(info[4][0]), allow_private)})
    if refused:
        raise RefusedTarget(f"{host} resolves to a private or local address "
                            f"({', '.join(refused)}); KEFU_WEBHOOK_ALLOW_PRIVATE=1 allows it")


class GuardedResolver(Resolver):
    """Tornado's resolver that drops every address the rule refuses; none left → the
    connection fails with :class:`RefusedTarget`. Runs on the IOLoop (DNS in the
    default executor)."""

    def initialize(self, allow_private: bool = False) -> None:
        self.inner = DefaultExecutorResolver()
        self.allow_private = allow_private

    async def resolve(self, host: str, port: int,
                      family: socket.AddressFamily = socket.AF_UNSPEC
                      ) -> list[tuple[int, Any]]:
        found = await self.inner.resolve(host, port, family)
        allowed = [(fam, addr) for fam, addr in found
                   if address_allowed(str(addr[0]), self.allow_private)]
        if not allowed:
            raise RefusedTarget(f"{host} resolves to a private or local address only")
        return allowed

    def close(self) -> None:
        self.inner.close()
