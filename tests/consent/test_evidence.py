"""The one IP truncation (R17): what a consent decision keeps of the requester's address."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from clearpixel.consent.evidence import truncate_ip

v4 = st.integers(min_value=0, max_value=2**32 - 1).map(ipaddress.IPv4Address)
v6 = st.integers(min_value=0, max_value=2**128 - 1).map(ipaddress.IPv6Address)


@given(v4, st.integers(min_value=0, max_value=255))
def test_ipv4_keeps_only_its_24_bit_network(address, host):
    kept = ipaddress.IPv4Address(truncate_ip(str(address)))
    assert int(kept) == int(address) & 0xFFFFFF00
    neighbour = ipaddress.IPv4Address((int(address) & 0xFFFFFF00) | host)
    assert truncate_ip(str(neighbour)) == str(kept)


@given(v6.filter(lambda a: a.ipv4_mapped is None))
def test_ipv6_keeps_only_its_48_bit_network(address):
    kept = ipaddress.IPv6Address(truncate_ip(str(address)))
    assert int(kept) == int(address) >> 80 << 80


@given(v4)
def test_an_ipv4_mapped_address_is_truncated_as_the_ipv4_address_it_carries(address):
    mapped = f"::ffff:{address}"
    assert truncate_ip(mapped) == truncate_ip(str(address))


@given(st.text(max_size=40))
def test_anything_else_keeps_nothing_or_a_network(text):
    kept = truncate_ip(text)
    if kept:
        network = ipaddress.ip_address(kept)
        assert int(network) & (0xFF if network.version == 4 else (1 << 80) - 1) == 0
