import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearpixel.domain.tokens import (
    BadSignature,
    ExpiredToken,
    Token,
    TokenError,
    TokenKind,
    TokenSigner,
    WrongKind,
)

KEY_A = b"a" * 32
KEY_B = b"b" * 32
ids = st.integers(min_value=0, max_value=2**40)


@given(ids, ids, st.integers(min_value=0, max_value=2**30))
def test_pixel_token_round_trips(campaign, contact, purposes):
    signer = TokenSigner([KEY_A])
    token = Token(TokenKind.PIXEL, contact_id=contact, campaign_id=campaign, purposes=purposes)
    assert signer.verify(signer.sign(token), TokenKind.PIXEL) == token


def test_tokens_are_compact_enough_for_a_short_url():
    signer = TokenSigner([KEY_A])
    text = signer.sign(Token(TokenKind.CLICK, contact_id=10**9, campaign_id=10**6, link_id=999))
    url = f"https://track.example.org/c/{text}"
    assert len(url) < 120


def test_every_flipped_byte_is_refused():
    signer = TokenSigner([KEY_A])
    text = signer.sign(Token(TokenKind.PIXEL, contact_id=42, campaign_id=7, purposes=1))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for i, char in enumerate(text):
        for replacement in (alphabet[(alphabet.index(char) + 1) % 64], alphabet[0]):
            if replacement == char:
                continue
            forged = text[:i] + replacement + text[i + 1 :]
            with pytest.raises(TokenError):
                signer.verify(forged, TokenKind.PIXEL)


def test_key_rotation_accepts_old_keys_and_signs_with_the_new_one():
    old = TokenSigner([KEY_A])
    rotated = TokenSigner([KEY_B, KEY_A])
    token = Token(TokenKind.PREFERENCES, contact_id=5)
    assert rotated.verify(old.sign(token), TokenKind.PREFERENCES) == token
    with pytest.raises(BadSignature):
        old.verify(rotated.sign(token), TokenKind.PREFERENCES)


def test_a_token_of_one_kind_cannot_stand_in_for_another():
    signer = TokenSigner([KEY_A])
    text = signer.sign(Token(TokenKind.PREFERENCES, contact_id=5))
    with pytest.raises(WrongKind):
        signer.verify(text, TokenKind.UNSUBSCRIBE)


def test_consent_tokens_expire():
    signer = TokenSigner([KEY_A])
    text = signer.sign(Token(TokenKind.CONSENT, contact_id=5, campaign_id=1, expires_at=1000))
    assert signer.verify(text, TokenKind.CONSENT, now=999).contact_id == 5
    with pytest.raises(ExpiredToken):
        signer.verify(text, TokenKind.CONSENT, now=1000)


def test_tokens_never_contain_the_email_address():
    signer = TokenSigner([KEY_A])
    text = signer.sign(Token(TokenKind.PIXEL, contact_id=1, campaign_id=1, purposes=1))
    assert "@" not in text


@given(st.text(max_size=80))
def test_garbage_is_refused_with_a_token_error(garbage):
    with pytest.raises(TokenError):
        TokenSigner([KEY_A]).verify(garbage, TokenKind.PIXEL)


def test_short_keys_are_refused():
    with pytest.raises(ValueError, match="at least 32 bytes"):
        TokenSigner([b"short"])


def test_verify_one_of_accepts_each_listed_kind_and_refuses_others():
    signer = TokenSigner([KEY_A])
    pixel = signer.sign(Token(TokenKind.PIXEL, contact_id=5, campaign_id=1, purposes=1))
    deliverability = signer.sign(Token(TokenKind.DELIVERABILITY, contact_id=5, campaign_id=1))
    kinds = (TokenKind.PIXEL, TokenKind.DELIVERABILITY)
    assert signer.verify_one_of(pixel, kinds).kind is TokenKind.PIXEL
    assert signer.verify_one_of(deliverability, kinds).kind is TokenKind.DELIVERABILITY
    click = signer.sign(Token(TokenKind.CLICK, contact_id=5, campaign_id=1, link_id=2))
    with pytest.raises(WrongKind):
        signer.verify_one_of(click, kinds)
