from typing import Any

from django.db import transaction

from accounts.models import User
from audit.services import audit_record


def buyer_sign_up(*, email: str, full_name: str, password: str) -> User:
    """Create a buyer account (never staff) and record it."""
    with transaction.atomic():
        user = User.objects.create_user(email=email, password=password, full_name=full_name)
        audit_record(actor=user, action="user.signed_up", target=user)
    return user


def staff_user_create(*, actor: Any, email: str, full_name: str, password: str) -> User:
    """Create a staff account; the caller adds it to a role group."""
    with transaction.atomic():
        user = User.objects.create_user(
            email=email, password=password, full_name=full_name, is_staff=True
        )
        audit_record(actor=actor, action="user.staff_created", target=user)
    return user
