"""REST API: `POST /lists/{list_id}/signups`, what a website's key (scope `signup`) may do:
start a signup, which only mails the address a confirmation link (R18). The answer is the
same whether or not the address is known."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from clearpixel.audience import contacts as contact_service
from clearpixel.consent import signups
from clearpixel.consent.evidence import page_without_query
from clearpixel.i18n import normalise_locale
from clearpixel.web.api_base import ApiRoute, IdPath, KeyDep
from clearpixel.web.deps import get_ctx

# Included by `api.router`, which adds the prefix, the key check and the error responses.
router = APIRouter(route_class=ApiRoute)


class SignupIn(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    purposes: list[str] = Field(
        default_factory=list, max_length=31, description="The purposes the person ticked."
    )
    locale: str = Field("en", max_length=16, description="Language of the confirmation mail.")
    page_url: str = Field(
        "", max_length=2000, description="The page the form was on (kept without its query)."
    )


class SignupOut(BaseModel):
    status: str = Field(
        description="Always `confirmation_sent`: nothing is recorded until "
        "the address's owner confirms through the emailed link."
    )


@router.post(
    "/lists/{list_id}/signups", response_model=SignupOut, status_code=202, tags=["consent"]
)
def post_signup(request: Request, body: SignupIn, list_id: IdPath, key_id: KeyDep) -> SignupOut:
    """Start a signup: the address gets a confirmation mail; its flags and subscription
    change only when its owner confirms (double opt-in). Limits per address and per key."""
    ctx = get_ctx(request)
    target = contact_service.get_list(ctx, list_id)
    signups.start_signup(
        ctx,
        target.name,
        email=body.email,
        ticked=set(body.purposes),
        notice_ids={},
        locale=normalise_locale(body.locale) or "en",
        evidence={"page_url": page_without_query(body.page_url), "api_key": key_id},
        network=f"api-key:{key_id}",
        channel="api",
    )
    return SignupOut(status="confirmation_sent")
