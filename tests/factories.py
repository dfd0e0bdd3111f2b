"""factory_boy factories for the domain; personas are built from these in conftest."""

from datetime import timedelta

import factory
from django.utils import timezone

from accounts.models import User
from payments.models import (
    GroupOrder,
    GroupOrderItem,
    PaymentMethod,
    Submission,
    SubmissionLine,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Faker("name")
    password = factory.django.Password("correct-horse-battery")


class StaffFactory(UserFactory):
    is_staff = True


class PaymentMethodFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PaymentMethod

    owner = factory.SubFactory(StaffFactory)
    template_code = "ph-gcash"
    method_type = "gcash"
    country = "PH"
    display_name = "GCash"
    account_name = "SAMPLE GOM"
    account_number = "09171234567"


class GroupOrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GroupOrder
        skip_postgeneration_save = True

    owner = factory.SubFactory(StaffFactory)
    title = factory.Sequence(lambda n: f"Album group order {n}")
    country = "PH"
    currency = "PHP"
    order_deadline = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))
    payment_deadline = factory.LazyFunction(lambda: timezone.now() + timedelta(days=10))


class GroupOrderItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GroupOrderItem

    group_order = factory.SubFactory(GroupOrderFactory)
    name = factory.Sequence(lambda n: f"Photocard set {n}")
    unit_price_minor = 125_000


class SubmissionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Submission

    group_order = factory.SubFactory(GroupOrderFactory)
    buyer = factory.SubFactory(UserFactory)
    buyer_name = factory.LazyAttribute(lambda o: o.buyer.full_name or o.buyer.email)
    amount_due_minor = 125_000
    currency = factory.LazyAttribute(lambda o: o.group_order.currency)


class SubmissionLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SubmissionLine

    submission = factory.SubFactory(SubmissionFactory)
    description = "Photocard set"
    quantity = 1
    unit_price_minor = 125_000
