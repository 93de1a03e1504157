"""Where outgoing webhooks may go: to public addresses only, unless the installation allows
private ones (`CLEARPIXEL_WEBHOOK_ALLOW_PRIVATE=true`, for receivers on its own network).

Without that setting, a receiver whose address is loopback (127.0.0.0/8, ::1), private
(10/8, 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16, where cloud metadata
services answer; fe80::/10), shared (100.64/10), unspecified, multicast or reserved is
refused: an endpoint URL must not turn the server into a way to reach the services beside
it (its database, NATS, a metadata service) or to map them from the delivery log.

The rule is checked when an endpoint is added (an address written in the URL, or every
address its name resolves to; a name that does not resolve yet is accepted) and again at each
delivery on the addresses the connection is then made to, so a name that resolves elsewhere
later (DNS rebinding) gains nothing. Redirects are never followed (a redirect is an answer).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from urllib.parse import urlsplit

from clearpixel.domain.errors import N_, ClearpixelError, Message

DEFAULT_PORTS = {"http": 80, "https": 443}


class TargetRefused(ClearpixelError):
    """A webhook URL whose host is (or resolves to) an address webhooks may not reach."""


def refused_address(address: str) -> str | None:
    """Why webhooks may not reach `address` (an IP address as text), or None when they may."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return N_("not an IP address")
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return N_("a loopback address")
    if ip.is_link_local:
        return N_("a link-local address (where cloud metadata services answer)")
    if ip.is_unspecified or ip.is_multicast or not ip.is_global:
        return N_("a private or reserved address")
    return None


def _refuse(host: str, address: str, reason: str) -> TargetRefused:
    shown = host if host == address else f"{host} ({address})"
    return TargetRefused(
        N_(
            "webhooks may not reach %(host)s: it is %(reason)s; set "
            "CLEARPIXEL_WEBHOOK_ALLOW_PRIVATE=true if this receiver is on your own network"
        ),
        host=shown,
        reason=Message(reason),
    )


def _resolve(host: str, port: int) -> list[tuple[int, int, int, tuple[str, int]]]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [
        (family, kind, proto, (str(addr[0]), int(addr[1])))
        for family, kind, proto, _, addr in infos
    ]


def check_url(url: str, *, allow_private: bool) -> None:
    """Raise TargetRefused when `url`'s host is, or resolves to, an address webhooks may
    not reach (nothing is checked when private addresses are allowed)."""
    if allow_private:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        found = _resolve(host, parts.port or DEFAULT_PORTS.get(parts.scheme, 80))
    except (OSError, UnicodeError, ValueError):
        return  # does not resolve yet: each delivery checks again
    for *_, (address, _port) in found:
        if reason := refused_address(address):
            raise _refuse(host, address, reason)


def connect(host: str, port: int, timeout: float, *, allow_private: bool) -> socket.socket:
    """A TCP connection to `host`, made only to addresses it may reach (all of them are
    checked before any is tried). Raises TargetRefused, or OSError when none answers."""
    found = _resolve(host, port)
    if not allow_private:
        for *_, (address, _port) in found:
            if reason := refused_address(address):
                raise _refuse(host, address, reason)
    error: OSError = OSError(f"{host} has no address")
    for family, kind, proto, sockaddr in found:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        return sock
    raise error


class _Http(http.client.HTTPConnection):
    allow_private = False

    def connect(self) -> None:
        self.sock = connect(self.host, self.port, self._timeout(), allow_private=self.allow_private)

    def _timeout(self) -> float:
        return float(self.timeout) if isinstance(self.timeout, int | float) else 10.0


class _Https(_Http):
    def connect(self) -> None:
        raw = connect(self.host, self.port, self._timeout(), allow_private=self.allow_private)
        self.sock = ssl.create_default_context().wrap_socket(raw, server_hostname=self.host)


def post(
    url: str, body: bytes, headers: dict[str, str], *, timeout: float, allow_private: bool
) -> int:
    """POST `body` to `url` (http or https, TLS checked against the system's authorities)
    without following a redirect; the HTTP status. Raises TargetRefused, or OSError when
    nothing answered."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise TargetRefused(
            N_("webhook URL %(url)r: expected http:// or https://host/..."), url=url[:200]
        )
    kind = _Https if parts.scheme == "https" else _Http
    conn = kind(parts.hostname, parts.port or DEFAULT_PORTS[parts.scheme], timeout=timeout)
    conn.allow_private = allow_private
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request("POST", target, body=body, headers=headers)
        return int(conn.getresponse().status)
    finally:
        conn.close()
