"""The members a file is about: found by member number, else by email address, and loaded with
their current membership, bank account and contact person in a few set-based queries."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from kring.members.models import BankAccount, ContactPerson, Household, Member, Membership
from kring.members.services import SUMMARY_STATUS_ORDER

CHUNK = 2000
# Above this many keys, reading every member's number and email once beats many IN (…) lookups.
LOAD_ALL_ABOVE = 5000

COMPARED_FIELDS = [
    "first_name",
    "initials",
    "name_prefix",
    "last_name",
    "date_of_birth",
    "organisation_name",
    "kvk_number",
    "email",
    "phone",
    "street",
    "house_number",
    "house_number_addition",
    "postcode",
    "city",
    "country",
    "correspondence",
    "member_type_id",
    "notes",
    "household_id",
    "household_role",
    "member_since",
]


@dataclass(slots=True)
class ExistingMembership:
    pk: int
    plan_id: int
    billing_frequency: str
    status: str
    start_date: date
    end_date: date | None


@dataclass(slots=True)
class ExistingBank:
    pk: int
    fingerprint: str
    masked: str
    holder_name: str
    bic: str


@dataclass(slots=True)
class ExistingContact:
    pk: int
    first_name: str
    name_prefix: str
    last_name: str


@dataclass(slots=True)
class ExistingMember:
    pk: int
    member_number: str
    kind: str
    values: dict  # COMPARED_FIELDS by attribute name (member_type_id, household_id)
    household_name: str = ""
    membership: ExistingMembership | None = None
    bank: ExistingBank | None = None
    contact: ExistingContact | None = None

    @property
    def country(self) -> str:
        return self.values["country"]

    @property
    def member_type_id(self) -> int:
        return self.values["member_type_id"]

    @property
    def household_id(self) -> int | None:
        return self.values["household_id"]


def chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass
class Keys:
    by_number: dict[str, int] = field(default_factory=dict)
    by_email: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))


def find_keys(numbers: set[str], emails: set[str]) -> Keys:
    """Which existing members have these member numbers and (lower-cased) email addresses."""
    keys = Keys()
    if len(numbers) + len(emails) > LOAD_ALL_ABOVE:
        for pk, number, email in Member.objects.values_list("pk", "member_number", "email").iterator(
            chunk_size=20000
        ):
            if number in numbers:
                keys.by_number[number] = pk
            if email:
                lowered = email.lower()
                if lowered in emails:
                    keys.by_email[lowered].append(pk)
        return keys
    for chunk in chunks(sorted(numbers)):
        keys.by_number.update(
            Member.objects.filter(member_number__in=chunk).values_list("member_number", "pk")
        )
    for chunk in chunks(sorted(emails)):
        for pk, email in Member.objects.filter(email__in=chunk).values_list("pk", "email"):
            keys.by_email[email.lower()].append(pk)
    return keys


def load_members(pks: set[int], *, for_update: bool) -> dict[int, ExistingMember]:
    """The matched members with what the import compares. With for_update the rows stay locked
    until the import's transaction ends, so nobody changes them in between."""
    members: dict[int, ExistingMember] = {}
    ordered = sorted(pks)
    for chunk in chunks(ordered):
        query = Member.objects.filter(pk__in=chunk)
        if for_update:
            query = query.select_for_update()
        for row in query.values("pk", "member_number", "kind", *COMPARED_FIELDS):
            pk = row.pop("pk")
            members[pk] = ExistingMember(
                pk=pk, member_number=row.pop("member_number"), kind=row.pop("kind"), values=row
            )
    if not members:
        return members
    _attach_households(members)
    rank = {status: position for position, status in enumerate(SUMMARY_STATUS_ORDER)}
    for chunk in chunks(ordered):
        current = Membership.objects.filter(
            member_id__in=chunk, parent_membership__isnull=True, status__in=Membership.CURRENT_STATUSES
        ).values_list("pk", "member_id", "plan_id", "billing_frequency", "status", "start_date", "end_date")
        best: dict[int, tuple] = {}
        for pk, member_id, plan_id, frequency, status, start, end in current:
            key = (rank[status], -start.toordinal(), -pk)
            if member_id not in best or key < best[member_id][0]:
                best[member_id] = (key, ExistingMembership(pk, plan_id, frequency, status, start, end))
        for member_id, (_key, membership) in best.items():
            members[member_id].membership = membership
        banks = BankAccount.objects.filter(member_id__in=chunk, is_primary=True).values_list(
            "member_id", "pk", "iban_fingerprint", "iban_masked", "holder_name", "bic"
        )
        for member_id, pk, fingerprint, masked, holder, bic in banks:
            members[member_id].bank = ExistingBank(pk, fingerprint, masked, holder, bic)
    organisations = [pk for pk, member in members.items() if member.kind == Member.Kind.ORGANISATION]
    for chunk in chunks(organisations):
        contacts = ContactPerson.objects.filter(organisation_id__in=chunk, is_primary=True).values_list(
            "organisation_id", "pk", "first_name", "name_prefix", "last_name"
        )
        for organisation_id, pk, first, prefix, last in contacts:
            members[organisation_id].contact = ExistingContact(pk, first, prefix, last)
    return members


def _attach_households(members: dict[int, ExistingMember]) -> None:
    household_ids = sorted({m.household_id for m in members.values() if m.household_id})
    names = {}
    for chunk in chunks(household_ids):
        names.update(Household.objects.filter(pk__in=chunk).values_list("pk", "name"))
    for member in members.values():
        if member.household_id:
            member.household_name = names.get(member.household_id, "")


def household_heads(household_ids: list[int]) -> dict[int, tuple[int, str]]:
    """The main member (id, member number) of each of these households that has one."""
    heads = {}
    for chunk in chunks(sorted(set(household_ids))):
        found = Member.objects.filter(household_id__in=chunk, household_role=Member.HouseholdRole.HEAD)
        for household_id, pk, number in found.values_list("household_id", "pk", "member_number"):
            heads.setdefault(household_id, (pk, number))
    return heads
