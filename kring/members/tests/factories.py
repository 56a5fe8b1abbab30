from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import factory
from django.contrib.auth.models import Group

from kring.core import roles
from kring.core.models import User
from kring.members import services
from kring.members.models import (
    BillingFrequency,
    Member,
    Membership,
    MemberType,
    Plan,
    PlanPrice,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ["email"]

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    password = factory.django.Password("kring-test-password")


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plan
        django_get_or_create = ["code"]
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"plan-{n}")
    name = factory.Sequence(lambda n: f"Plan {n}")
    yearly_price = Decimal("120.00")

    @factory.post_generation
    def frequencies(plan, create, extracted, **kwargs):
        for frequency in extracted or [
            BillingFrequency.YEARLY,
            BillingFrequency.QUARTERLY,
            BillingFrequency.MONTHLY,
        ]:
            per_year = BillingFrequency.instalments_per_year(frequency)
            PlanPrice.objects.get_or_create(
                plan=plan, frequency=frequency, defaults={"instalment_price": plan.yearly_price / per_year}
            )


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    member_number = factory.Sequence(lambda n: f"T{n:06d}")
    member_type = factory.LazyFunction(lambda: MemberType.objects.get(code="lid"))
    first_name = "Anna"
    name_prefix = "van den"
    last_name = factory.Sequence(lambda n: f"Berg{n}")
    email = factory.Sequence(lambda n: f"member{n}@example.test")
    street = "Dorpsstraat"
    house_number = 1
    postcode = "1234 AB"
    city = "Utrecht"
    country = "NL"


def ensure_default_lists() -> None:
    """Transactional (live-server) tests flush the database, taking the migration's lists with it."""
    from importlib import import_module

    from django.apps import apps

    import_module("kring.members.migrations.0003_default_lists").create_lists(apps, None)


def member_type(code: str) -> MemberType:
    return MemberType.objects.get(code=code)


def active_membership(
    member, plan=None, start=date(2024, 1, 1), frequency=BillingFrequency.YEARLY
) -> Membership:
    return services.start_membership(
        member, plan or PlanFactory(), actor=None, start_date=start, billing_frequency=frequency
    )


@dataclass
class Cast:
    member: Member
    household_member: Member
    other_member: Member
    former_member: Member
    secretariat: User
    treasurer: User
    board: User
    audit_committee: User
    plan: Plan


def staff_user(email: str, role: str) -> User:
    user = UserFactory(email=email, is_staff=True, mfa_exempt=True)
    user.groups.add(Group.objects.get(name=role))
    return user


def make_cast() -> Cast:
    ensure_default_lists()
    plan = PlanFactory(code="gewoon", name="Gewoon lid")
    member = MemberFactory(
        first_name="Anna",
        name_prefix="van den",
        last_name="Berg",
        email="anna@example.test",
        user=UserFactory(email="anna@example.test"),
    )
    household = services.create_household(actor=None, name="Familie Van den Berg", head=member)
    household_member = MemberFactory(
        first_name="Pim",
        name_prefix="van den",
        last_name="Berg",
        email="pim@example.test",
        user=UserFactory(email="pim@example.test"),
    )
    services.add_to_household(household_member, household, role=Member.HouseholdRole.CHILD, actor=None)
    other_member = MemberFactory(
        first_name="Bram",
        name_prefix="",
        last_name="Jansen",
        email="bram@example.test",
        user=UserFactory(email="bram@example.test"),
    )
    former_member = MemberFactory(
        first_name="Cor", name_prefix="de", last_name="Vries", email="cor@example.test"
    )
    for person in (member, other_member, former_member):
        active_membership(person, plan)
    ended = former_member.memberships.get()
    services.change_membership_status(
        ended, Membership.Status.ENDED, actor=None, effective_date=date(2024, 12, 31)
    )
    return Cast(
        member=member,
        household_member=household_member,
        other_member=other_member,
        former_member=former_member,
        secretariat=staff_user("secretariaat@example.test", roles.SECRETARIAT),
        treasurer=staff_user("penningmeester@example.test", roles.TREASURER),
        board=staff_user("bestuur@example.test", roles.BOARD),
        audit_committee=staff_user("kascommissie@example.test", roles.AUDIT_COMMITTEE),
        plan=plan,
    )
