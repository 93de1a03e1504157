"""What a consent decision keeps as evidence of how it was made: a truncated IP address (never
the full one), the user agent, and the page the person was on."""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MAX_USER_AGENT = 300
MAX_URL = 500


def truncate_ip(value: str | None) -> str:
    """IPv4 keeps its /24 network, IPv6 its /48; anything unparsable becomes ''."""
    if not value:
        return ""
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return ""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 48
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    return str(network.network_address)


def page_without_query(url: str) -> str:
    """A page's address cut to its path: a query string or fragment may hold an address or a
    session (`?email=...&sid=...`), and the ledger cannot forget it later."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return ""
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))[:MAX_URL]


def web_evidence(*, ip: str | None, user_agent: str | None, page_url: str) -> dict[str, Any]:
    """The evidence of a decision made on a web page."""
    return {
        "ip": truncate_ip(ip),
        "user_agent": (user_agent or "")[:MAX_USER_AGENT],
        "page_url": page_without_query(page_url),
    }
