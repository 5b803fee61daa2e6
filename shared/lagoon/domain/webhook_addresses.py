"""Where a webhook may be sent: the network addresses a receiver may have (docs/webhooks.md "Addresses").

A webhook URL is chosen by whoever holds an organization's API key, and the dispatcher POSTs to it from
inside AWS — so a URL must not reach what only the deployment can reach (server-side request forgery):
- **public addresses**: always;
- **private networks** (RFC 1918 `10/8`, `172.16/12`, `192.168/16`, the shared `100.64/10`, unique-local
  `fc00::/7`): only for an organization an operator allowed (`python -m lagoon.admin webhook-private-networks
  ORG_ID on`) — receivers inside the operator's own network, reached by a dispatcher in a VPC;
- **anything else** — loopback (`127/8`, `::1`: on Lambda, the runtime API), link-local (`169.254/16`,
  `fe80::/10`), the instance metadata service (`169.254.169.254`, `fd00:ec2::254`), unspecified, multicast,
  reserved, and those same addresses written as IPv4-mapped IPv6 — never, unless the deployment's
  `WEBHOOK_ALLOWED_NETWORKS` lists them (the local stack lists loopback: its receivers run on this machine).

`literal_address` finds what a URL's host names without DNS (checked when an endpoint is created or
changed); a host name is checked on every delivery, after resolution, on the very address connected to.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

PRIVATE_NETWORKS: tuple[Network, ...] = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)
METADATA_ADDRESSES: frozenset[Address] = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "169.254.170.2", "169.254.169.123")
)
"""The instance metadata service, the ECS credentials endpoint and the Amazon Time Sync service."""


def category(address: Address) -> str:
    """`public`, `private`, `loopback`, `link-local`, `metadata` or `reserved` (everything else)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if address in METADATA_ADDRESSES:
        return "metadata"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast or address.is_unspecified or address.is_reserved:
        return "reserved"
    if any(address in network for network in PRIVATE_NETWORKS):
        return "private"
    return "public" if address.is_global else "reserved"


@dataclass(frozen=True)
class AddressPolicy:
    """The addresses this deployment (`allowed_networks`) and this organization (`private_networks`) allow."""

    allowed_networks: tuple[Network, ...] = ()
    private_networks: bool = False

    def refusal(self, address: Address) -> str | None:
        """None when a webhook may be sent to `address`; else why not (for the attempt log)."""
        plain = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
        if any(
            a in n for n in self.allowed_networks for a in (address, plain) if a and a.version == n.version
        ):
            return None
        kind = category(address)
        if kind == "public" or (kind == "private" and self.private_networks):
            return None
        return f"{address} is a {kind} address, not allowed for webhooks"


def parse_networks(text: str) -> tuple[Network, ...]:
    """`WEBHOOK_ALLOWED_NETWORKS`: CIDR blocks (or single addresses) separated by commas or spaces."""
    return tuple(ipaddress.ip_network(item, strict=False) for item in text.replace(",", " ").split())


def literal_address(host: str) -> Address | None:
    """The address a URL host names by itself, or None for a name DNS must resolve: an IP literal; an IPv4 in
    the short forms resolvers accept (`127.1`, `2130706433`, `0x7f.0.0.1`, as C's inet_aton reads them); a
    `localhost` name (RFC 6761: always loopback)."""
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return ipaddress.ip_address("127.0.0.1")
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        pass
    if name and all(part and part[0].isdigit() for part in name.split(".")):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(name))  # parsing only: no I/O
        except OSError:
            return None
    return None
