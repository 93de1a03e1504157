import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given
from hypothesis import strategies as st

from clearpixel.audience.emails import InvalidEmail, normalise_email


def reference(raw: str) -> str | None:
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def ours(raw: str) -> str | None:
    try:
        return normalise_email(raw)
    except InvalidEmail:
        return None


@pytest.mark.parametrize(
    "raw",
    [
        " Ann.Lee+news@Example.ORG ",
        "a@b.co",
        "x@sub.example.museum",
        "a..b@example.org",
        ".a@example.org",
        "a.@example.org",
        "a@-x.org",
        "a@x-.org",
        "a@x.test",
        "a@localhost",
        "a@x.local",
        "a@1.2.3.4",
        "a@x.c",
        "a@x",
        "@x.org",
        "a@",
        "",
        "  ",
        "a b@x.org",
        "Zoë@exämple.org",
        '"quoted"@example.org',
        "a@[192.0.2.1]",
        "a" * 65 + "@x.org",
        "a@" + "b" * 64 + ".org",
        "a@" + ".".join(["abcdefghij"] * 25) + ".org",
        "o'neil@example.ie",
        "user@xn--bcher-kva.example",
        "user@ab--cd.example",
    ],
)
def test_normalisation_agrees_with_email_validator(raw):
    assert ours(raw) == reference(raw)


@given(
    st.from_regex(
        r"[A-Za-z0-9.!#'+_-]{1,70}@[A-Za-z0-9.-]{1,40}\.(?:[A-Za-z0-9-]{1,8}|xn--[a-z0-9]{1,6})",
        fullmatch=True,
    )
)
def test_fast_path_never_disagrees_with_email_validator(raw):
    assert ours(raw) == reference(raw)
