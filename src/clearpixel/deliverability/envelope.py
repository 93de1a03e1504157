"""The four points where the send path meets deliverability:

1. `suppressed_ids`: which recipients of a batch are on the suppression list (they are
   skipped with the reason `suppressed`, before rendering);
2. `Envelope.sender`: the envelope sender (Return-Path) of one message, a VERP address on
   `CLEARPIXEL_BOUNCE_DOMAIN` naming (campaign, contact), or the From address without one;
3. `Envelope.headers`: headers put in front of a rendered message (`Feedback-ID` on marketing
   mail, for mailbox providers' complaint loops);
4. `record_send_failure`: what an SMTP reply that failed a delivery means for its recipient.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from clearpixel.context import Context
from clearpixel.deliverability.bounces import record_in, soft_policy
from clearpixel.deliverability.suppression import suppress_in
from clearpixel.domain.bounces import (
    BounceEvent,
    SmtpStage,
    SuppressionReason,
    classify_smtp,
    enhanced_status,
    normalise_address,
    verp_address,
)
from clearpixel.domain.policy import MessageKind
from clearpixel.domain.tokens import TokenSigner
from clearpixel.store import Tx
from clearpixel.store import suppression as suppression_store
from clearpixel.store.contacts import Contact

SUPPRESSED = "suppressed"


def suppressed_ids(ctx: Context, contacts: Sequence[Contact]) -> set[int]:
    """Ids of the contacts whose address is on the suppression list."""
    with ctx.db.connect() as conn:
        listed = suppression_store.suppressed_among(
            conn, (normalise_address(c.email) for c in contacts)
        )
    return {c.id for c in contacts if normalise_address(c.email) in listed}


class Envelope:
    """Envelope sender and extra headers for the messages of one campaign."""

    def __init__(
        self,
        *,
        signer: TokenSigner,
        campaign_id: int,
        public_id: str,
        kind: str,
        from_address: str,
        bounce_domain: str,
        feedback_sender: str,
    ) -> None:
        self.signer = signer
        self.campaign_id = campaign_id
        self.from_address = from_address
        self.bounce_domain = bounce_domain.strip().lower()
        self.headers = b""
        if kind == MessageKind.MARKETING.value:
            # campaign : kind : sender (Gmail's Feedback-ID format, a:b:c:SenderId)
            self.headers = f"Feedback-ID: {public_id}:{kind}:{feedback_sender}\r\n".encode()

    @classmethod
    def of(
        cls, ctx: Context, *, campaign_id: int, public_id: str, kind: str, from_address: str
    ) -> Envelope:
        """`from_address`: the envelope form of the From address (the sender without a
        bounce domain)."""
        settings = ctx.settings
        return cls(
            signer=ctx.signer,
            campaign_id=campaign_id,
            public_id=public_id,
            kind=kind,
            from_address=from_address,
            bounce_domain=settings.bounce_domain,
            feedback_sender=settings.feedback_id_sender,
        )

    def sender(self, contact_id: int) -> str:
        """The envelope sender for one recipient."""
        if not self.bounce_domain:
            return self.from_address
        return verp_address(
            self.signer,
            campaign_id=self.campaign_id,
            contact_id=contact_id,
            domain=self.bounce_domain,
        )


def record_send_failure(
    ctx: Context,
    tx: Tx,
    *,
    campaign_id: int,
    contact: Contact,
    stage: str,
    code: int,
    reply: str,
    now: datetime,
) -> None:
    """Inside the caller's transaction: a failed delivery whose reply is about the recipient
    (`domain.bounces.classify_smtp`) becomes one bounce event; anything else is left alone."""
    try:
        smtp_stage = SmtpStage(stage)
    except ValueError:
        return
    kind = classify_smtp(smtp_stage, code, reply)
    if kind is None:
        return
    event = BounceEvent(
        kind=kind,
        email=contact.email,
        source="smtp",
        at=now,
        status=enhanced_status(reply) or str(code),
        diagnostic=f"{code} {reply}".strip()[:1000],
        campaign_id=campaign_id,
        contact_id=contact.id,
        evidence={"stage": smtp_stage.value},
    )
    record_in(tx, event, policy=soft_policy(ctx))


def suppress_inactive(
    tx: Tx, emails: Sequence[str], *, days: int, campaign_id: int, now: datetime
) -> list[str]:
    """`--suppress-inactive DAYS`: the inactive recipients go on the suppression list with
    the reason `inactive`, so every later send skips them too."""
    return suppress_in(
        tx,
        emails,
        reason=SuppressionReason.INACTIVE,
        actor=f"campaign:{campaign_id}",
        evidence={"inactive_days": str(days), "campaign_id": str(campaign_id)},
        now=now,
    )
