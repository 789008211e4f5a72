"""``/api/v1/me``: the person behind the token or session, and their memberships."""

# No ``from __future__ import annotations`` here: ninja reads these annotations at run time.

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Field, Router, Schema
from pydantic import ConfigDict, StringConstraints

from portal.apikit.auth import ApiPrincipal, principal
from portal.apikit.schemas import Text
from portal.customers.api import MembershipOut, membership_out

from . import services
from .forms import ProfileForm
from .models import User

router = Router(tags=["me"])

if TYPE_CHECKING:
    Language = str
else:  # the languages the portal offers, whatever settings say they are
    Language = Literal[tuple(code for code, _ in settings.LANGUAGES)]
# The profile form's rule: digits and + ( ) - . / and spaces, at least five digits.
Phone = Annotated[
    str, StringConstraints(max_length=40, pattern=r"^$|^[ +()\-./]*(?:[0-9][ +()\-./]*){5,}$")
]


class TokenOut(Schema):
    id: int
    name: str
    customer_id: int
    expires_at: datetime


class AuthenticationOut(Schema):
    via: Literal["token", "session"] = Field(description="How this request authenticated.")
    scopes: list[Literal["read", "write"]]
    token: TokenOut | None = Field(description="The token used, if any.")


class MeOut(Schema):
    id: int
    email: str
    first_name: str
    last_name: str
    phone: str
    address_line1: str
    address_line2: str
    postal_code: str
    city: str
    country: str
    preferred_language: Language
    memberships: list[MembershipOut] = Field(
        description="The customers this request may act for: with a token, only its customer."
    )
    authentication: AuthenticationOut


class MeUpdate(Schema):
    """Profile fields to change; fields left out stay as they are. Nothing else can be set."""

    model_config = ConfigDict(extra="forbid")

    first_name: Text(150) | None = None  # type: ignore[valid-type]
    last_name: Text(150) | None = None  # type: ignore[valid-type]
    phone: Phone | None = None
    address_line1: Text(200) | None = None  # type: ignore[valid-type]
    address_line2: Text(200) | None = None  # type: ignore[valid-type]
    postal_code: Text(20) | None = None  # type: ignore[valid-type]
    city: Text(100) | None = None  # type: ignore[valid-type]
    country: Text(100) | None = None  # type: ignore[valid-type]
    preferred_language: Language | None = None


def me_out(caller: ApiPrincipal) -> MeOut:
    user = caller.user
    token = caller.token
    return MeOut(
        id=user.pk,
        email=user.email,
        first_name=user.first_name,
        last_name=user.last_name,
        phone=user.phone,
        address_line1=user.address_line1,
        address_line2=user.address_line2,
        postal_code=user.postal_code,
        city=user.city,
        country=user.country,
        preferred_language=user.preferred_language,
        memberships=[membership_out(m) for m in caller.memberships],
        authentication=AuthenticationOut(
            via="token" if token is not None else "session",
            scopes=caller.scopes,  # type: ignore[arg-type]
            token=(
                TokenOut(
                    id=token.pk,
                    name=token.name,
                    customer_id=token.customer_id,
                    expires_at=token.expires_at,
                )
                if token is not None
                else None
            ),
        ),
    )


@router.get("/me", response=MeOut, summary="Who am I")
def me_get(request: HttpRequest) -> MeOut:
    """Your profile, the customers this request may act for, and how it authenticated."""
    return me_out(principal(request))


@router.patch("/me", response=MeOut, summary="Change my profile")
def me_update(request: HttpRequest, payload: MeUpdate) -> MeOut:
    """Change profile fields, validated as the profile page does. E-mail and password are
    changed in the portal, where they are confirmed."""
    caller = principal(request)
    user: User = User.objects.get(pk=caller.user.pk)
    changes = payload.model_dump(exclude_unset=True, exclude_none=True)
    form = ProfileForm(
        data={**{f: getattr(user, f) for f in ProfileForm.Meta.fields}, **changes}, instance=user
    )
    if not form.is_valid():
        raise ValidationError(form.errors.as_data())
    services.profile_update(user=caller.user, data=form.cleaned_data, request=request)
    return me_out(caller)
