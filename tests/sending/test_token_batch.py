"""The batch signers used per recipient return exactly what `TokenSigner.sign` returns, so
every token they make is still a full HMAC over its whole content and verifies alone."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearpixel.domain.tokens import BadSignature, Token, TokenKind, TokenSigner

ids = st.integers(min_value=0, max_value=2**40)
keys = st.binary(min_size=32, max_size=130)  # longer than a SHA-256 block is hashed first


@given(keys, ids, ids, st.lists(st.integers(min_value=0, max_value=2**20), max_size=50))
def test_sign_links_equals_sign_for_every_link(key, campaign, contact, link_ids):
    signer = TokenSigner([key])
    batch = signer.sign_links(campaign_id=campaign, contact_id=contact, link_ids=link_ids)
    expected = [
        signer.sign(Token(TokenKind.CLICK, contact, campaign_id=campaign, link_id=link))
        for link in link_ids
    ]
    assert batch == expected


tokens = st.builds(
    Token,
    kind=st.sampled_from(list(TokenKind)),
    contact_id=ids,
    campaign_id=ids,
    purposes=st.integers(min_value=0, max_value=255),
    link_id=ids,
    expires_at=ids,
)


@given(keys, st.lists(tokens, max_size=10))
def test_sign_many_equals_sign(key, batch):
    signer = TokenSigner([key])
    assert signer.sign_many(batch) == [signer.sign(t) for t in batch]


def test_a_click_token_with_an_altered_link_id_is_refused():
    signer = TokenSigner([b"k" * 32])
    (token,) = signer.sign_links(campaign_id=3, contact_id=9, link_ids=[1])
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[4] = 2  # header, key id, campaign 3, contact 9, link id
    forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(BadSignature):
        signer.verify(forged, TokenKind.CLICK)
    assert signer.verify(token, TokenKind.CLICK).link_id == 1
