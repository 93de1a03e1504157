"""Email addresses as a list keys them: validated without DNS, normalised the same way always.

`normalise_email` strips the address, validates it with email-validator (no deliverability
lookup) and returns its normalised form (Unicode NFC), lower-cased as a whole: mailbox
providers ignore the case of the local part, and a list that kept `Ann@x.org` and
`ann@x.org` apart would mail one person twice under two consent states. Plain ASCII
addresses, the vast majority of a real file, take a fast path whose result is the one
email-validator gives; a test holds the two equal.
"""

from __future__ import annotations

import re

from email_validator import (
    SPECIAL_USE_DOMAIN_NAMES,
    EmailNotValidError,
    validate_email,
)

from clearpixel.domain.errors import N_, ClearpixelError

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN = re.compile(
    rf"(?P<local>{_ATOM}(?:\.{_ATOM})*)@(?P<domain>(?:{_LABEL}\.)+(?P<tld>[A-Za-z]{{2,63}}))"
)
_SPECIAL = frozenset(SPECIAL_USE_DOMAIN_NAMES)


class InvalidEmail(ClearpixelError, ValueError):
    """An address that cannot be delivered to; the message says why."""


def normalise_email(raw: str) -> str:
    """The normalised form of `raw`; raises InvalidEmail naming the problem."""
    text = raw.strip()
    match = _PLAIN.fullmatch(text)
    if (
        match
        and len(text) <= 254
        and len(match["local"]) <= 64
        and len(match["domain"]) <= 253
        and match["tld"].lower() not in _SPECIAL
        and "--" not in match["domain"]  # punycode and reserved labels: email-validator decides
    ):
        return text.lower()
    if not text:
        raise InvalidEmail(N_("empty email address"))
    try:
        return str(validate_email(text, check_deliverability=False).normalized).lower()
    except EmailNotValidError as exc:
        raise InvalidEmail(
            N_("invalid email address %(address)r: %(problem)s"), address=text, problem=str(exc)
        ) from None
