"""The client's real address, behind reverse proxies we trust (``KEFU_TRUSTED_PROXIES``).

``X-Forwarded-For`` is believed only when the peer itself is a trusted proxy; the list
is then read from the right (the hop our proxy added last), skipping trusted proxies,
and the first address that is not one is the client. Anything malformed stops the walk
at the last good address. Without ``KEFU_TRUSTED_PROXIES`` the peer address is the
client, whatever the headers say (a client cannot forge its way past the per-address
limits). Used for the guest limits, the socket caps, the audit log and the access log.
"""

from __future__ import annotations

import functools
import ipaddress

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=8)
def parse_networks(spec: str) -> tuple[Network, ...]:
    """``"10.0.0.0/8, 127.0.0.1"`` → networks (raises ValueError on a bad entry)."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False)
                 for part in spec.split(",") if part.strip())


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _trusted(addr: ipaddress.IPv4Address | ipaddress.IPv6Address,
             networks: tuple[Network, ...]) -> bool:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return any(addr.version == n.version and addr in n for n in networks)


def client_address(peer: str, forwarded_for: str | None, trusted: str) -> str:
    """The client's address for a request from ``peer`` carrying ``forwarded_for``."""
    networks = parse_networks(trusted) if trusted else ()
    peer_ip = _ip(peer)
    if not networks or not forwarded_for or peer_ip is None or not _trusted(peer_ip, networks):
        return peer
    address = peer
    for hop in reversed(forwarded_for.split(",")):
        ip = _ip(hop)
        if ip is None:
            break
        address = str(ip)
        if not _trusted(ip, networks):
            break
    return address
