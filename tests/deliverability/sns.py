"""Amazon SNS as seen from the subscriber: a locally generated certificate authority, an
HTTPS server (trusted through SSL_CERT_FILE, as a system CA would be) that serves SNS signing
certificates and answers SubscribeURL visits, and messages signed the way SNS signs them."""

from __future__ import annotations

import base64
import ipaddress
import json
import ssl
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from tests.conftest import FIXED_NOW

TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-bounces"


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _certificate(
    subject: str, key: rsa.RSAPrivateKey, issuer: tuple[str, rsa.RSAPrivateKey] | None = None
) -> x509.Certificate:
    """Valid from before the tests' fixed time until a year from the real time (TLS checks
    the real clock, the SNS check the installation's)."""
    issuer_name, issuer_key = issuer or (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(FIXED_NOW - timedelta(days=30))
        .not_valid_after(datetime.now(UTC) + timedelta(days=365))
    )
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    else:
        names: list[x509.GeneralName] = [x509.DNSName(subject)]
        if subject == "localhost":
            names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


@dataclass
class SnsSite:
    """The HTTPS server standing in for sns.<region>.amazonaws.com (its host is `localhost`;
    `127.0.0.1` reaches the same server under a host that does not match)."""

    port: int
    signing_key: rsa.RSAPrivateKey
    hits: list[str] = field(default_factory=list)

    def url(self, path: str, *, host: str = "localhost") -> str:
        return f"https://{host}:{self.port}{path}"

    @property
    def cert_url(self) -> str:
        return self.url("/SimpleNotificationService-test.pem")

    def sign(
        self,
        fields: dict[str, str],
        *,
        version: str = "1",
        key: rsa.RSAPrivateKey | None = None,
        cert_url: str | None = None,
    ) -> dict[str, str]:
        """`fields` with SignatureVersion, SigningCertURL and Signature as SNS adds them."""
        names = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
        if fields["Type"] != "Notification":
            names = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn")
            names += ("Type",)
        text = "".join(f"{n}\n{fields[n]}\n" for n in names if n in fields).encode()
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = (key or self.signing_key).sign(text, padding.PKCS1v15(), algorithm)
        return {
            **fields,
            "SignatureVersion": version,
            "SigningCertURL": cert_url or self.cert_url,
            "Signature": base64.b64encode(signature).decode(),
        }


@contextmanager
def sns_site(tmp_path: Path) -> Iterator[SnsSite]:
    """Serve the signing certificate and SubscribeURL over HTTPS; the caller makes the CA
    trusted (SSL_CERT_FILE)."""
    ca_key, tls_key, signing_key = _key(), _key(), _key()
    ca = _certificate("clearpixel test CA", ca_key)
    # 127.0.0.1 is in the TLS certificate too, so only the host pattern can refuse it
    tls = _certificate("localhost", tls_key, ("clearpixel test CA", ca_key))
    signing = _certificate("sns.amazonaws.com", signing_key, ("clearpixel test CA", ca_key))
    (tmp_path / "ca.pem").write_bytes(pem(ca))
    (tmp_path / "tls.pem").write_bytes(pem(tls))
    (tmp_path / "tls.key").write_bytes(
        tls_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    site = SnsSite(0, signing_key)
    body = pem(signing)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            site.hits.append(self.path)
            reply = body if self.path.endswith(".pem") else b"<ConfirmSubscriptionResponse/>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "tls.pem", tmp_path / "tls.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    site.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


def notification(ses_event: dict[str, Any], *, at: datetime = FIXED_NOW, topic: str = TOPIC):
    """An unsigned SNS Notification carrying an SES event."""
    return {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": topic,
        "Message": json.dumps(ses_event),
        "Timestamp": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
    }


def ses_bounce(recipient: str, *, source: str, bounce_type: str = "Permanent") -> dict[str, Any]:
    permanent = bounce_type == "Permanent"
    return {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": bounce_type,
            "bounceSubType": "General" if permanent else "MailboxFull",
            "bouncedRecipients": [
                {
                    "emailAddress": recipient,
                    "action": "failed",
                    "status": "5.1.1" if permanent else "4.2.2",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown"
                    if permanent
                    else "smtp; 452 4.2.2 mailbox full",
                }
            ],
            "timestamp": "2026-11-02T09:29:58.000Z",
            "feedbackId": "0100017-bounce-feedback",
            "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com",
        },
        "mail": {
            "timestamp": "2026-11-02T09:29:50.000Z",
            "messageId": "0100017-ses-message",
            "source": source,
            "destination": [recipient],
        },
    }


def ses_complaint(recipient: str, *, return_path: str) -> dict[str, Any]:
    """A complaint whose SES identity includes the original headers (and whose `source` is
    SES's own, so only the Return-Path header can name the contact)."""
    return {
        "notificationType": "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": recipient}],
            "timestamp": "2026-11-02T09:29:59.000Z",
            "feedbackId": "0100017-complaint-feedback",
            "userAgent": "ExampleFBL/1.0",
            "complaintFeedbackType": "abuse",
        },
        "mail": {
            "timestamp": "2026-11-02T09:29:50.000Z",
            "messageId": "0100017-ses-message-2",
            "source": "news@example.org",
            "destination": [recipient],
            "headersTruncated": False,
            "headers": [
                {"name": "Return-Path", "value": f"<{return_path}>"},
                {"name": "From", "value": "News <news@example.org>"},
                {"name": "To", "value": recipient},
            ],
        },
    }
