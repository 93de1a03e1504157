"""Reports as remote mail servers write them: a DSN (RFC 3464) and an ARF feedback report
(RFC 5965), laid out as Postfix and mailbox providers' feedback loops send them."""

from __future__ import annotations

from email.message import EmailMessage

CRLF = "\r\n"


def _report(report_type: str, headers: list[str], parts: list[tuple[str, str]]) -> bytes:
    boundary = "=_report_boundary_1"
    lines = [
        *headers,
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type={report_type}; boundary="{boundary}"',
        "",
        "This is a MIME-encapsulated message.",
        "",
    ]
    for content_type, body in parts:
        lines += [f"--{boundary}", f"Content-Type: {content_type}", "", body.rstrip("\n"), ""]
    lines.append(f"--{boundary}--")
    return (CRLF.join(lines) + CRLF).replace("\r\r\n", "\r\n").encode("utf-8")


def dsn(
    *,
    verp: str,
    final_recipient: str,
    action: str = "failed",
    status: str = "5.1.1",
    diagnostic: str = "smtp; 550 5.1.1 <gone@example.org>: Recipient address rejected",
) -> bytes:
    return _report(
        "delivery-status",
        [
            "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>",
            f"To: {verp}",
            "Subject: Undelivered Mail Returned to Sender",
        ],
        [
            ("text/plain; charset=us-ascii", "This is the mail system at host mx.example.net."),
            (
                "message/delivery-status",
                CRLF.join(
                    [
                        "Reporting-MTA: dns; mx.example.net",
                        "Arrival-Date: Mon, 2 Nov 2026 09:31:00 +0000",
                        "",
                        f"Final-Recipient: rfc822; {final_recipient}",
                        f"Original-Recipient: rfc822;{final_recipient}",
                        f"Action: {action}",
                        f"Status: {status}",
                        "Remote-MTA: dns; mailstore.example.net",
                        f"Diagnostic-Code: {diagnostic}",
                    ]
                ),
            ),
            (
                "text/rfc822-headers",
                CRLF.join(
                    [
                        "From: News <news@example.org>",
                        f"To: {final_recipient}",
                        "Subject: Hello",
                    ]
                ),
            ),
        ],
    )


def arf(*, original: bytes, feedback_type: str = "abuse", rcpt: str = "") -> bytes:
    return _report(
        "feedback-report",
        [
            "From: Feedback Loop <fbl@mailbox.example.net>",
            "To: fbl@bounces.example.test",
            "Subject: Email Feedback Report for IP 192.0.2.1",
        ],
        [
            ("text/plain", "This is an email abuse report for an email message received."),
            (
                "message/feedback-report",
                CRLF.join(
                    [
                        f"Feedback-Type: {feedback_type}",
                        "User-Agent: ExampleFBL/1.0",
                        "Version: 1",
                        f"Original-Rcpt-To: {rcpt}",
                        "Arrival-Date: Mon, 2 Nov 2026 09:35:00 +0000",
                        "Source-IP: 192.0.2.1",
                    ]
                ),
            ),
            ("message/rfc822", original.decode("utf-8")),
        ],
    )


def plain(text: str) -> bytes:
    message = EmailMessage()
    message["From"] = "someone@example.net"
    message["Subject"] = "hello"
    message.set_content(text)
    return message.as_bytes()
