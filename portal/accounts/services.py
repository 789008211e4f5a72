from __future__ import annotations

from allauth.account.models import EmailAddress
from django.db import transaction

from .models import User


@transaction.atomic
def user_ensure(
    *,
    email: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
    is_staff: bool = False,
    is_superuser: bool = False,
) -> tuple[User, bool]:
    """Create the user with a verified address, or bring an existing one in line.

    Returns ``(user, changed)``; calling it twice with the same arguments
    changes nothing the second time.
    """
    email = email.strip().lower()
    user = User.objects.filter(email=email).first()
    changed = user is None
    if user is None:
        user = User(email=email)
    wanted = {
        "first_name": first_name,
        "last_name": last_name,
        "is_staff": is_staff,
        "is_superuser": is_superuser,
        "is_active": True,
    }
    for field, value in wanted.items():
        if getattr(user, field) != value:
            setattr(user, field, value)
            changed = True
    if changed or not user.check_password(password):
        user.set_password(password)
        changed = True
    if changed:
        user.save()
    address, created = EmailAddress.objects.get_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    if not created and not (address.verified and address.primary):
        address.verified = True
        address.primary = True
        address.save(update_fields=["verified", "primary"])
        changed = True
    return user, changed or created
