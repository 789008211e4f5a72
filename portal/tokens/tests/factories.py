from __future__ import annotations

from portal.accounts.models import User
from portal.customers.models import Customer
from portal.tokens.models import PersonalAccessToken, TokenScope
from portal.tokens.services import token_create


def make_token(
    user: User,
    customer: Customer,
    scope: str = TokenScope.WRITE,
    *,
    name: str = "Integration",
    days: int = 30,
) -> tuple[PersonalAccessToken, str]:
    """A token made through the service, as the account page makes it; returns (token, secret)."""
    return token_create(
        user=user, customer=customer, name=name, scope=TokenScope(scope), expires_in_days=days
    )
