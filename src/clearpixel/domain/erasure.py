"""What is kept of an erased address: a keyed hash of it, and nothing that reads back.

An erased person's address must not come back through a later import, yet the installation
must not keep the address. It keeps `erased_key(key, address)`: HMAC-SHA-256 under the
installation's secret key, so nobody without that key can test a guessed address against
the list, and an import can recognise the address it is given.
"""

from __future__ import annotations

from collections.abc import Sequence

from clearpixel.domain.mac import hmac_sha256

PREFIX = "erased:"
REASON = "erased"


def erased_key(secret: str, address: str) -> str:
    """The suppression-list key of an erased address (already normalised)."""
    mac = hmac_sha256(secret.encode(), b"clearpixel-erased-address\x00" + address.encode())
    return PREFIX + mac.hex()


def erased_keys(secrets: Sequence[str], address: str) -> list[str]:
    """The address's key under each of the installation's secret keys (the first signs new
    entries; the others are older keys still accepted)."""
    return [erased_key(secret, address) for secret in secrets]
