"""Who may see a live event: the one rule shared by the stream and the replay query.

An event names its audience: the members of one customer whose role grants a
permission, one person, and/or staff. A connection (or a replay) carries the
asking user's grants, read once from their memberships.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from django.db.models import Q

from portal.customers.roles import ROLE_PERMISSIONS, Role

if TYPE_CHECKING:
    from portal.accounts.models import User
    from portal.customers.models import Membership


@cache
def _role_grants(role: str) -> frozenset[str]:
    # One shared set per role, not one per connection.
    return frozenset(p.value for p in ROLE_PERMISSIONS[Role(role)])


class EventAudience(Protocol):
    @property
    def customer_id(self) -> int | None: ...
    @property
    def permission(self) -> str: ...
    @property
    def user_id(self) -> int | None: ...
    @property
    def staff(self) -> bool: ...


@dataclass(frozen=True)
class Viewer:
    """What one signed-in person may see: their id, staff flag, and permissions per customer."""

    user_id: int
    is_staff: bool
    grants: dict[int, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def for_user(cls, user: User) -> Viewer:
        from portal.customers.selectors import memberships_for_user

        return cls.from_memberships(user, memberships_for_user(user=user))

    @classmethod
    def from_memberships(cls, user: Any, memberships: Iterable[Membership]) -> Viewer:
        grants = {m.customer_id: _role_grants(m.role) for m in memberships}
        return cls(user_id=user.pk, is_staff=user.is_staff, grants=grants)

    def may_see(self, event: EventAudience) -> bool:
        if event.user_id is not None and event.user_id == self.user_id:
            return True
        if event.staff and self.is_staff:
            return True
        if event.customer_id is not None and event.customer_id in self.grants:
            return not event.permission or event.permission in self.grants[event.customer_id]
        return False

    def as_q(self) -> Q:
        """The same rule as :meth:`may_see`, as a filter on ``LiveEvent``."""
        q = Q(user_id=self.user_id)
        if self.is_staff:
            q |= Q(staff=True)
        for customer_id, permissions in self.grants.items():
            q |= Q(customer_id=customer_id) & (Q(permission="") | Q(permission__in=permissions))
        return q
