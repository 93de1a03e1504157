"""Amazon SNS messages delivered over HTTPS, authenticated by SNS's own signature.

SNS signs each message it posts with a certificate it publishes: the signature covers a
canonical string of the message type's fields (`Key\\nValue\\n` in a fixed order), with
SHA1withRSA (`SignatureVersion` 1) or SHA256withRSA (2). The certificate is fetched only from
an https URL whose host matches `CLEARPIXEL_SES_SNS_HOST_PATTERN` (`sns.<region>.amazonaws.com`)
and whose path is SNS's own (`/SimpleNotificationService-<id>.pem`, no query), over TLS
checked against the system's certificate authorities, and cached by URL.

A message is trusted only when, in this order: it is JSON with a known `Type`; its `TopicArn`
is one of `CLEARPIXEL_SES_TOPIC_ARNS`; its `Timestamp` is within
`CLEARPIXEL_SES_MAX_AGE_SECONDS` (and not in the future); its certificate URL is SNS's; the
certificate is valid now; the signature checks out. The cheap checks come first, so an
unauthenticated request never makes us fetch anything.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from clearpixel.domain.errors import ClearpixelError
from clearpixel.domain.webhooks import BadWebhookSignature

NOTIFICATION = "Notification"
SUBSCRIPTION = "SubscriptionConfirmation"
UNSUBSCRIBE = "UnsubscribeConfirmation"
SIGNED_FIELDS = {
    NOTIFICATION: ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    SUBSCRIPTION: (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
SIGNED_FIELDS[UNSUBSCRIBE] = SIGNED_FIELDS[SUBSCRIPTION]
HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
FUTURE_SKEW = timedelta(minutes=5)
FETCH_TIMEOUT = 10.0
MAX_CERTIFICATE = 64 * 1024
CACHE_SIZE = 32
CERTIFICATE_PATH = re.compile(r"/SimpleNotificationService-[A-Za-z0-9]{1,64}\.pem")

Fetch = Callable[[str], bytes]


class SnsRefused(BadWebhookSignature):
    """An SNS message that must not be trusted (signature, certificate, topic or age)."""


@dataclass(frozen=True, slots=True)
class SnsMessage:
    """A message whose signature, topic and age have been checked."""

    type: str
    message_id: str
    topic_arn: str
    message: str
    subscribe_url: str


def parse(body: bytes) -> dict[str, str]:
    """The fields of an SNS message body; ClearpixelError when it is not one."""
    try:
        fields: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ClearpixelError("the body is not an SNS message (not JSON)") from None
    if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
        raise ClearpixelError("the body is not an SNS message (expected an object of strings)")
    if fields.get("Type") not in SIGNED_FIELDS:
        raise ClearpixelError(
            f"not an SNS message type this endpoint reads: {str(fields.get('Type'))[:40]!r}"
        )
    return fields


def canonical_string(fields: dict[str, str]) -> bytes:
    """What SNS signs: `Key\\nValue\\n` for each signed field of the type that is present."""
    names = SIGNED_FIELDS[fields["Type"]]
    return "".join(f"{name}\n{fields[name]}\n" for name in names if name in fields).encode()


def https_get(url: str) -> bytes:
    """GET over https with the system's certificate authorities; no redirect is followed."""
    context = ssl.create_default_context()
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=context), _NoRedirect()
    )
    request = urllib.request.Request(url, method="GET")  # noqa: S310 (https checked by callers)
    with opener.open(request, timeout=FETCH_TIMEOUT) as response:
        data: bytes = response.read(MAX_CERTIFICATE + 1)
    return data


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class Certificates:
    """SNS signing certificates by URL, fetched once (at most `CACHE_SIZE` kept)."""

    def __init__(self, fetch: Fetch = https_get) -> None:
        self.fetch = fetch
        self._lock = threading.Lock()
        self._by_url: dict[str, x509.Certificate] = {}

    def get(self, url: str) -> x509.Certificate:
        """The certificate at `url` (already checked to be SNS's); SnsRefused when it cannot
        be fetched or is not a PEM certificate."""
        with self._lock:
            cached = self._by_url.get(url)
        if cached is not None:
            return cached
        try:
            data = self.fetch(url)
        except (OSError, urllib.error.URLError) as exc:
            raise SnsRefused(f"the signing certificate could not be fetched: {exc}") from None
        if len(data) > MAX_CERTIFICATE:
            raise SnsRefused("the signing certificate is too large")
        try:
            certificate = x509.load_pem_x509_certificate(data)
        except ValueError:
            raise SnsRefused("the signing certificate URL did not give a PEM certificate") from None
        with self._lock:
            if len(self._by_url) >= CACHE_SIZE:
                self._by_url.pop(next(iter(self._by_url)))
            self._by_url[url] = certificate
        return certificate


CERTIFICATES = Certificates()


def sns_url(url: str, host_pattern: str, *, what: str) -> str:
    """`url` when it is https on a host matching `host_pattern`; SnsRefused otherwise."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not re.fullmatch(host_pattern, host) or parts.username:
        raise SnsRefused(f"the {what} is not an https URL of Amazon SNS: {url[:200]!r}")
    return url


def verify(
    fields: dict[str, str],
    *,
    topics: list[str],
    host_pattern: str,
    max_age: timedelta,
    now: datetime,
    certificates: Certificates = CERTIFICATES,
) -> SnsMessage:
    """Check one parsed message (see the module's docstring for the order); SnsRefused
    names the first check that failed."""
    topic = fields.get("TopicArn", "")
    if not topics:
        raise SnsRefused("no SNS topic is configured (CLEARPIXEL_SES_TOPIC_ARNS)")
    if topic not in topics:
        raise SnsRefused(f"topic {topic[:200]!r} is not one of CLEARPIXEL_SES_TOPIC_ARNS")
    try:
        stamp = datetime.fromisoformat(fields.get("Timestamp", ""))
    except ValueError:
        raise SnsRefused("the message has no valid Timestamp") from None
    if stamp.tzinfo is None:
        raise SnsRefused("the message Timestamp has no time zone")
    if stamp < now - max_age:
        raise SnsRefused(f"the message is older than {int(max_age.total_seconds())} s")
    if stamp > now + FUTURE_SKEW:
        raise SnsRefused("the message Timestamp is in the future")
    algorithm = HASHES.get(fields.get("SignatureVersion", ""))
    if algorithm is None:
        raise SnsRefused("unknown SignatureVersion (1 and 2 are read)")
    url = sns_url(fields.get("SigningCertURL", ""), host_pattern, what="signing certificate URL")
    parts = urlsplit(url)
    if not CERTIFICATE_PATH.fullmatch(parts.path) or parts.query or parts.fragment:
        raise SnsRefused(f"the signing certificate URL is not an SNS certificate: {url[:200]!r}")
    certificate = certificates.get(url)
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise SnsRefused("the signing certificate is not valid at the message's time")
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SnsRefused("the signing certificate does not hold an RSA key")
    try:
        signature = base64.b64decode(fields.get("Signature", ""), validate=True)
        key.verify(signature, canonical_string(fields), padding.PKCS1v15(), algorithm())
    except (binascii.Error, ValueError, InvalidSignature):
        raise SnsRefused("the signature does not match the message") from None
    return SnsMessage(
        type=fields["Type"],
        message_id=fields.get("MessageId", ""),
        topic_arn=topic,
        message=fields.get("Message", ""),
        subscribe_url=fields.get("SubscribeURL", ""),
    )


def confirm_subscription(message: SnsMessage, *, host_pattern: str, fetch: Fetch) -> None:
    """Confirm a verified SubscriptionConfirmation by visiting its SubscribeURL (only an
    https URL of SNS). Raises SnsRefused or OSError when that cannot be done."""
    url = sns_url(message.subscribe_url, host_pattern, what="SubscribeURL")
    fetch(url)
