"""Commands of the member administration. Every state change goes through one function here:
it checks, locks, saves with ``update_fields``, writes the audit entry and records the
membership change. Views, the import, the admin and commands call these; nothing else sets a
status field.
"""

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, CharField, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from kring.core.audit import diff, display_value, log_action, snapshot
from kring.core.models import Association, NumberSequence
from kring.members import validation
from kring.members.models import (
    BankAccount,
    CancellationReason,
    ContactPerson,
    Household,
    Member,
    Membership,
    MembershipChange,
    MembershipPayer,
    MemberType,
    Plan,
)

MEMBER_NUMBER_SEQUENCE = "member_number"

# Fields of Member that the secretariat (and later the member) may change, audited one by one.
MEMBER_FIELDS = [
    "kind",
    "member_type",
    "first_name",
    "initials",
    "name_prefix",
    "last_name",
    "date_of_birth",
    "student_until",
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
    "household",
    "household_role",
    "guardian",
    "member_since",
    "may_be_named_for_anniversary",
    "notes",
]


# --- members ------------------------------------------------------------------------------


def next_member_numbers(count: int) -> list[str]:
    association = Association.current()
    numbers = NumberSequence.reserve(MEMBER_NUMBER_SEQUENCE, count)
    return [association.format_member_number(n) for n in numbers]


def normalise_member_fields(data: dict) -> dict:
    """Apply the shared validation to raw member data; raises ValidationError per field."""
    cleaned = dict(data)
    errors = {}
    country = cleaned.get("country") or "NL"
    for field, check in (
        ("postcode", lambda v: validation.check_postcode(v, country)),
        ("phone", lambda v: validation.check_phone(v, country)),
        ("email", validation.check_email),
        ("kvk_number", validation.check_kvk_number),
    ):
        if field in cleaned:
            try:
                cleaned[field] = check(cleaned[field] or "")
            except ValidationError as exc:
                errors[field] = exc.messages
    kind = cleaned.get("kind", Member.Kind.PERSON)
    if kind == Member.Kind.PERSON and "last_name" in cleaned and not (cleaned.get("last_name") or "").strip():
        errors["last_name"] = [_("Enter the last name.")]
    if (
        kind == Member.Kind.ORGANISATION
        and "organisation_name" in cleaned
        and not (cleaned.get("organisation_name") or "").strip()
    ):
        errors["organisation_name"] = [_("Enter the organisation's name.")]
    if errors:
        raise ValidationError(errors)
    return cleaned


def create_member(*, actor, member_type: MemberType, **fields) -> Member:
    fields = normalise_member_fields(fields)
    with transaction.atomic():
        if not fields.get("member_number"):
            fields["member_number"] = next_member_numbers(1)[0]
        elif Member.objects.filter(member_number=fields["member_number"]).exists():
            raise ValidationError(
                {
                    "member_number": _("Member number %(number)s is already in use.")
                    % {"number": fields["member_number"]}
                }
            )
        member = Member(member_type=member_type, **fields)
        member.full_clean(exclude=["sort_name", "search_name"])
        member.save()
        log_action(
            "kring.member.created",
            actor=actor,
            obj=member,
            member_id=member.pk,
            changes=diff({}, snapshot(member, ["member_number", *MEMBER_FIELDS])),
        )
    return member


def update_member(member: Member, *, actor, **changes) -> list[dict]:
    """Change member data; returns the audited field changes (empty when nothing changed)."""
    unknown = set(changes) - set(MEMBER_FIELDS)
    if unknown:
        raise ValueError(f"Not a member field: {', '.join(sorted(unknown))}")
    if "country" not in changes:
        changes["country"] = member.country
    changes = normalise_member_fields(changes)
    with transaction.atomic():
        member = Member.objects.select_for_update().get(pk=member.pk)
        before = snapshot(member, MEMBER_FIELDS)
        old_household_id = member.household_id
        for name, value in changes.items():
            setattr(member, name, value)
        member.full_clean(exclude=["sort_name", "search_name"])
        field_changes = diff(before, snapshot(member, MEMBER_FIELDS))
        if not field_changes:
            return []
        member.save(update_fields=[c["field"] for c in field_changes] + ["updated_at"])
        log_action(
            "kring.member.changed", actor=actor, obj=member, member_id=member.pk, changes=field_changes
        )
        if {"household", "household_role"} & {c["field"] for c in field_changes}:
            # Who is covered by a household plan changed, in the old household and the new one.
            refresh_membership_summary(
                [
                    member.pk,
                    *Member.objects.filter(household_id=old_household_id).values_list("pk", flat=True),
                ]
            )
    return field_changes


def set_bank_account(member: Member, *, actor, iban: str, holder_name: str, bic: str = "") -> BankAccount:
    """Record the member's (new) bank account; the old one is kept, no longer in use."""
    checked = validation.check_iban(iban, bic)
    holder_name = (holder_name or "").strip() or member.display_name
    with transaction.atomic():
        current = BankAccount.objects.select_for_update().filter(member=member, is_primary=True).first()
        if current and current.iban == checked.iban:
            if current.holder_name == holder_name and current.bic == checked.bic:
                return current
            before = snapshot(current, ["holder_name", "bic"])
            current.holder_name, current.bic = holder_name, checked.bic
            current.save(update_fields=["holder_name", "bic"])
            log_action(
                "kring.bank_account.changed",
                actor=actor,
                obj=current,
                member_id=member.pk,
                changes=diff(before, snapshot(current, ["holder_name", "bic"])),
            )
            return current
        if current:
            current.is_primary = False
            current.save(update_fields=["is_primary"])
        account = BankAccount.objects.create(
            member=member, iban=checked.iban, bic=checked.bic, holder_name=holder_name
        )
        log_action(
            "kring.bank_account.changed",
            actor=actor,
            obj=account,
            member_id=member.pk,
            changes=[
                {
                    "field": "iban",
                    "before": current.iban_masked if current else "",
                    "after": account.iban_masked,
                },
                *diff(
                    {
                        "holder_name": current.holder_name if current else "",
                        "bic": current.bic if current else "",
                    },
                    {"holder_name": account.holder_name, "bic": account.bic},
                ),
            ],
        )
    return account


# --- memberships --------------------------------------------------------------------------


def term_end(start: date, plan: Plan) -> date:
    return start + relativedelta(months=plan.term_months) - timedelta(days=1)


def check_plan_for(
    member: Member, plan: Plan, billing_frequency: str, parent_membership: Membership | None
) -> None:
    errors = {}
    if not plan.prices.filter(frequency=billing_frequency).exists():
        allowed = ", ".join(str(p.get_frequency_display()) for p in plan.prices.all())
        errors["billing_frequency"] = _(
            "The plan %(plan)s cannot be paid %(frequency)s. Choose: %(allowed)s."
        ) % {
            "plan": plan.name,
            "frequency": dict(Membership._meta.get_field("billing_frequency").choices).get(
                billing_frequency, billing_frequency
            ),
            "allowed": allowed or "–",
        }
    if plan.member_types.exists() and not plan.member_types.filter(pk=member.member_type_id).exists():
        errors["plan"] = _("The plan %(plan)s is not available for %(type)s.") % {
            "plan": plan.name,
            "type": member.member_type.name,
        }
    if plan.is_addon and parent_membership is None:
        errors["plan"] = _("%(plan)s is an add-on: choose the membership it adds to.") % {"plan": plan.name}
    if parent_membership is not None and parent_membership.member_id != member.pk:
        errors["parent_membership"] = _("An add-on belongs to a membership of the same member.")
    if parent_membership is not None and not parent_membership.plan.addons.filter(pk=plan.pk).exists():
        errors["plan"] = _("%(addon)s cannot be added to %(plan)s.") % {
            "addon": plan.name,
            "plan": parent_membership.plan.name,
        }
    if plan.for_organisations and member.kind != Member.Kind.ORGANISATION:
        errors["plan"] = _("The plan %(plan)s is for organisations only.") % {"plan": plan.name}
    if errors:
        raise ValidationError(errors)


def start_membership(
    member: Member,
    plan: Plan,
    *,
    actor,
    start_date: date,
    billing_frequency: str,
    status: str = Membership.Status.ACTIVE,
    parent_membership: Membership | None = None,
    note: str = "",
) -> Membership:
    if status not in (Membership.Status.PENDING, Membership.Status.ACTIVE):
        raise ValidationError(_("A new membership is pending or active."))
    check_plan_for(member, plan, billing_frequency, parent_membership)
    with transaction.atomic():
        membership = Membership.objects.create(
            member=member,
            plan=plan,
            billing_frequency=billing_frequency,
            status=status,
            start_date=start_date,
            current_term_end=term_end(start_date, plan),
            parent_membership=parent_membership,
        )
        MembershipChange.objects.create(
            membership=membership,
            kind=MembershipChange.Kind.STARTED,
            effective_date=start_date,
            to_value=plan.name,
            note=note,
            created_by=_user(actor),
        )
        if member.member_since is None or member.member_since > start_date:
            Member.objects.filter(pk=member.pk).update(member_since=start_date)
            member.member_since = start_date
        log_action(
            "kring.membership.started",
            actor=actor,
            obj=membership,
            member_id=member.pk,
            changes=diff({}, snapshot(membership, ["plan", "billing_frequency", "status", "start_date"])),
        )
        refresh_membership_summary([member.pk])
    return membership


def change_membership_status(
    membership: Membership, new_status: str, *, actor, effective_date: date, note: str = ""
) -> Membership:
    """The only way a membership's status changes; Membership.TRANSITIONS says what may follow what."""
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        if not membership.can_become(new_status):
            raise ValidationError(
                _("A membership that is %(current)s cannot become %(new)s.")
                % {
                    "current": membership.get_status_display(),
                    "new": Membership.Status(new_status).label,
                }
            )
        before = snapshot(membership, ["status", "end_date"])
        old_label = membership.get_status_display()
        membership.status = new_status
        fields = ["status"]
        if new_status == Membership.Status.ENDED:
            membership.end_date = membership.end_date or effective_date
            if membership.end_date < membership.start_date:
                membership.end_date = membership.start_date
            fields.append("end_date")
        if new_status == Membership.Status.ACTIVE and membership.cancelled_on:
            membership.cancelled_on, membership.cancellation_reason, membership.end_date = None, None, None
            fields += ["cancelled_on", "cancellation_reason", "end_date"]
        membership.save(update_fields=fields)
        MembershipChange.objects.create(
            membership=membership,
            kind=MembershipChange.Kind.STATUS,
            effective_date=effective_date,
            from_value=old_label,
            to_value=membership.get_status_display(),
            note=note,
            created_by=_user(actor),
        )
        log_action(
            "kring.membership.status_changed",
            actor=actor,
            obj=membership,
            member_id=membership.member_id,
            changes=diff(before, snapshot(membership, ["status", "end_date"])),
            note=note,
        )
        if new_status == Membership.Status.ENDED:
            for addon in membership.addon_memberships.exclude(status=Membership.Status.ENDED):
                change_membership_status(
                    addon,
                    Membership.Status.ENDED,
                    actor=actor,
                    effective_date=effective_date,
                    note=_("Main membership ended."),
                )
        refresh_membership_summary([membership.member_id])
    return membership


def earliest_end_date(membership: Membership, cancelled_on: date) -> date:
    """The end of the term in which the notice period is still met."""
    end = membership.current_term_end or term_end(membership.start_date, membership.plan)
    while end - cancelled_on < timedelta(days=membership.plan.notice_period_days):
        end = end + relativedelta(months=membership.plan.term_months)
    return end


def cancel_membership(
    membership: Membership,
    *,
    actor,
    reason: CancellationReason,
    cancelled_on: date,
    end_date: date | None = None,
    note: str = "",
) -> Membership:
    """Record a cancellation: the membership runs until the end date, then ends.

    Without an end date it ends at the end of the term in which the notice period is met. Staff
    may give an earlier end date (e.g. on death or by agreement); it is recorded as given.
    """
    if reason is None:
        raise ValidationError({"reason": _("Choose why the membership ends.")})
    with transaction.atomic():
        membership = Membership.objects.select_for_update().select_related("plan").get(pk=membership.pk)
        if not membership.can_become(Membership.Status.CANCELLED):
            raise ValidationError(
                _("A membership that is %(current)s cannot be cancelled.")
                % {"current": membership.get_status_display()}
            )
        end = end_date or earliest_end_date(membership, cancelled_on)
        if end < membership.start_date:
            raise ValidationError(
                {
                    "end_date": _("The end date cannot be before the start date (%(start)s).")
                    % {"start": membership.start_date.strftime("%d-%m-%Y")}
                }
            )
        before = snapshot(membership, ["status", "end_date", "cancellation_reason", "cancelled_on"])
        membership.status = Membership.Status.CANCELLED
        membership.end_date, membership.cancellation_reason, membership.cancelled_on = (
            end,
            reason,
            cancelled_on,
        )
        membership.save(update_fields=["status", "end_date", "cancellation_reason", "cancelled_on"])
        MembershipChange.objects.create(
            membership=membership,
            kind=MembershipChange.Kind.CANCELLED,
            effective_date=end,
            reason=reason,
            note=note,
            created_by=_user(actor),
        )
        log_action(
            "kring.membership.cancelled",
            actor=actor,
            obj=membership,
            member_id=membership.member_id,
            changes=diff(
                before, snapshot(membership, ["status", "end_date", "cancellation_reason", "cancelled_on"])
            ),
            note=note,
        )
        refresh_membership_summary([membership.member_id])
    return membership


def withdraw_cancellation(membership: Membership, *, actor, on_date: date) -> Membership:
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        if membership.status != Membership.Status.CANCELLED:
            raise ValidationError(_("Only a cancelled membership can have its cancellation withdrawn."))
        change_membership_status(
            membership,
            Membership.Status.ACTIVE,
            actor=actor,
            effective_date=on_date,
            note=_("Cancellation withdrawn."),
        )
        MembershipChange.objects.create(
            membership=membership,
            kind=MembershipChange.Kind.CANCELLATION_WITHDRAWN,
            effective_date=on_date,
            created_by=_user(actor),
        )
    membership.refresh_from_db()
    return membership


def switch_plan(
    membership: Membership,
    new_plan: Plan,
    *,
    actor,
    effective_date: date,
    billing_frequency: str | None = None,
    note: str = "",
) -> Membership:
    """End the membership the day before `effective_date` and start the new plan on that day.

    The member keeps their number and 'member since' date: a switch is not a re-entry.
    """
    frequency = billing_frequency or membership.billing_frequency
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update().select_related("plan", "member").get(pk=membership.pk)
        )
        if membership.status not in (
            Membership.Status.ACTIVE,
            Membership.Status.PENDING,
            Membership.Status.LAPSED,
        ):
            raise ValidationError(_("Only a current membership can switch plans."))
        if new_plan.pk == membership.plan_id:
            raise ValidationError({"plan": _("The member already has this plan.")})
        if effective_date <= membership.start_date:
            raise ValidationError(
                {
                    "effective_date": _("A switch takes effect after the start date (%(start)s).")
                    % {"start": membership.start_date.strftime("%d-%m-%Y")}
                }
            )
        check_plan_for(membership.member, new_plan, frequency, membership.parent_membership)
        old_plan_name = membership.plan.name
        membership.end_date = effective_date - timedelta(days=1)
        membership.save(update_fields=["end_date"])
        change_membership_status(
            membership,
            Membership.Status.ENDED,
            actor=actor,
            effective_date=membership.end_date,
            note=_("Switched to %(plan)s.") % {"plan": new_plan.name},
        )
        MembershipChange.objects.create(
            membership=membership,
            kind=MembershipChange.Kind.PLAN_SWITCH,
            effective_date=effective_date,
            from_value=old_plan_name,
            to_value=new_plan.name,
            note=note,
            created_by=_user(actor),
        )
        new_membership = start_membership(
            membership.member,
            new_plan,
            actor=actor,
            start_date=effective_date,
            billing_frequency=frequency,
            status=Membership.Status.ACTIVE,
            parent_membership=membership.parent_membership,
            note=_("Switched from %(plan)s.") % {"plan": old_plan_name},
        )
        MembershipChange.objects.create(
            membership=new_membership,
            kind=MembershipChange.Kind.PLAN_SWITCH,
            effective_date=effective_date,
            from_value=old_plan_name,
            to_value=new_plan.name,
            note=note,
            created_by=_user(actor),
        )
        # Payers carry over to the new plan.
        MembershipPayer.objects.bulk_create(
            [
                MembershipPayer(
                    membership=new_membership,
                    kind=p.kind,
                    payer_member=p.payer_member,
                    external_name=p.external_name,
                    external_email=p.external_email,
                    external_address=p.external_address,
                    external_reference=p.external_reference,
                    share_percent=p.share_percent,
                )
                for p in membership.payers.all()
            ]
        )
    return new_membership


def change_billing_frequency(
    membership: Membership, frequency: str, *, actor, effective_date: date
) -> Membership:
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update().select_related("plan", "member").get(pk=membership.pk)
        )
        if frequency == membership.billing_frequency:
            return membership
        check_plan_for(membership.member, membership.plan, frequency, membership.parent_membership)
        before = snapshot(membership, ["billing_frequency"])
        old_label = membership.get_billing_frequency_display()
        membership.billing_frequency = frequency
        membership.save(update_fields=["billing_frequency"])
        MembershipChange.objects.create(
            membership=membership,
            kind=MembershipChange.Kind.FREQUENCY,
            effective_date=effective_date,
            from_value=old_label,
            to_value=membership.get_billing_frequency_display(),
            created_by=_user(actor),
        )
        log_action(
            "kring.membership.frequency_changed",
            actor=actor,
            obj=membership,
            member_id=membership.member_id,
            changes=diff(before, snapshot(membership, ["billing_frequency"])),
        )
    return membership


def confirm_renewal(membership: Membership, *, actor) -> Membership:
    """The member confirms the next term of a plan that asks for active confirmation."""
    with transaction.atomic():
        membership = Membership.objects.select_for_update().select_related("plan").get(pk=membership.pk)
        if membership.status not in (Membership.Status.ACTIVE, Membership.Status.LAPSED):
            raise ValidationError(_("Only an active or lapsed membership can be renewed."))
        next_end = membership.current_term_end + relativedelta(months=membership.plan.term_months)
        membership.renewal_confirmed_until = next_end
        membership.save(update_fields=["renewal_confirmed_until"])
        log_action(
            "kring.membership.renewal_confirmed",
            actor=actor,
            obj=membership,
            member_id=membership.member_id,
            changes=[{"field": "renewal_confirmed_until", "before": "", "after": next_end.isoformat()}],
        )
        if membership.status == Membership.Status.LAPSED:
            change_membership_status(
                membership,
                Membership.Status.ACTIVE,
                actor=actor,
                effective_date=date.today(),
                note=_("Renewal confirmed."),
            )
    return membership


def process_term_ends(*, on_date: date, actor=None) -> dict[str, int]:
    """Daily batch: end cancelled memberships whose end date passed, renew terms that ended.

    Plans that renew automatically get a new term; plans that need confirmation lapse when the
    member did not confirm. Safe to run any number of times a day.
    """
    counts = {"ended": 0, "renewed": 0, "lapsed": 0}
    due_to_end = Membership.objects.filter(
        status__in=[Membership.Status.CANCELLED, Membership.Status.ACTIVE, Membership.Status.LAPSED],
        end_date__lt=on_date,
    )
    for membership in due_to_end.iterator():
        change_membership_status(
            membership,
            Membership.Status.ENDED,
            actor=actor,
            effective_date=membership.end_date,
            note=_("End date reached."),
        )
        counts["ended"] += 1
    due = Membership.objects.filter(
        status=Membership.Status.ACTIVE, end_date__isnull=True, current_term_end__lt=on_date
    )
    for membership in due.select_related("plan").iterator():
        needs_confirmation = membership.plan.renewal == Plan.Renewal.CONFIRMATION
        confirmed = (
            membership.renewal_confirmed_until
            and membership.renewal_confirmed_until > membership.current_term_end
        )
        if needs_confirmation and not confirmed:
            change_membership_status(
                membership,
                Membership.Status.LAPSED,
                actor=actor,
                effective_date=membership.current_term_end + timedelta(days=1),
                note=_("Renewal was not confirmed."),
            )
            counts["lapsed"] += 1
            continue
        new_end = membership.current_term_end
        while new_end < on_date:
            new_end = new_end + relativedelta(months=membership.plan.term_months)
        Membership.objects.filter(pk=membership.pk).update(current_term_end=new_end)
        MembershipChange.objects.create(
            membership=membership,
            kind=MembershipChange.Kind.RENEWED,
            effective_date=membership.current_term_end + timedelta(days=1),
            to_value=new_end.isoformat(),
            created_by=_user(actor),
        )
        counts["renewed"] += 1
    return counts


def set_payers(membership: Membership, payers: list[dict], *, actor) -> list[MembershipPayer]:
    """Replace who pays the membership. Each payer dict: kind, payer_member or external_name, share_percent.

    Shares must add up to exactly 100%. An empty list means the member pays everything.
    """
    rows = []
    errors = []
    for position, data in enumerate(payers, start=1):
        row = MembershipPayer(membership=membership, **data)
        try:
            row.full_clean(exclude=["membership"])
        except ValidationError as exc:
            errors.append(_("Payer %(n)s: %(errors)s") % {"n": position, "errors": " ".join(exc.messages)})
        if row.payer_member_id and row.external_name:
            errors.append(_("Payer %(n)s: choose a member or enter a name, not both.") % {"n": position})
        if not row.payer_member_id and not row.external_name:
            errors.append(
                _("Payer %(n)s: choose a paying member or enter the name of the payer.") % {"n": position}
            )
        rows.append(row)
    total = sum((r.share_percent or Decimal(0) for r in rows), Decimal(0))
    if rows and total != Decimal(100):
        errors.append(_("The shares add up to %(total)s%%; they must add up to 100%%.") % {"total": total})
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        before = {"payers": "; ".join(str(p) for p in membership.payers.all())}
        membership.payers.all().delete()
        MembershipPayer.objects.bulk_create(rows)
        after = {"payers": "; ".join(str(p) for p in rows)}
        MembershipChange.objects.create(
            membership=membership,
            kind=MembershipChange.Kind.PAYERS,
            effective_date=date.today(),
            from_value=before["payers"][:200],
            to_value=after["payers"][:200],
            created_by=_user(actor),
        )
        log_action(
            "kring.membership.payers_changed",
            actor=actor,
            obj=membership,
            member_id=membership.member_id,
            changes=diff(before, after),
        )
    return rows


# --- households ---------------------------------------------------------------------------


def create_household(*, actor, name: str, head: Member) -> Household:
    with transaction.atomic():
        household = Household.objects.create(name=name)
        add_to_household(head, household, role=Member.HouseholdRole.HEAD, actor=actor)
    return household


def add_to_household(member: Member, household: Household, *, role: str, actor) -> Member:
    if member.household_id and member.household_id != household.pk:
        raise ValidationError(
            _("%(name)s already belongs to another household; let them leave it first.")
            % {"name": member.display_name}
        )
    update_member(member, actor=actor, household=household, household_role=role)
    member.refresh_from_db()
    return member


def leave_household(
    member: Member,
    *,
    actor,
    on_date: date,
    new_plan: Plan | None = None,
    billing_frequency: str | None = None,
) -> Membership | None:
    """A person leaves their household (moves out, divorce, …). They keep their member number and
    'member since'. With a plan, their own membership starts that day: a change, not a re-entry."""
    if not member.household_id:
        raise ValidationError(_("%(name)s is not in a household.") % {"name": member.display_name})
    with transaction.atomic():
        household_name = member.household.name
        update_member(member, actor=actor, household=None, household_role="", guardian=None)
        member.refresh_from_db()
        membership = None
        if new_plan is not None:
            membership = start_membership(
                member,
                new_plan,
                actor=actor,
                start_date=on_date,
                billing_frequency=billing_frequency
                or Membership._meta.get_field("billing_frequency").default,
                note=_("Left household %(name)s.") % {"name": household_name},
            )
            MembershipChange.objects.create(
                membership=membership,
                kind=MembershipChange.Kind.HOUSEHOLD_LEFT,
                effective_date=on_date,
                from_value=household_name,
                created_by=_user(actor),
            )
    return membership


def come_of_age(
    member: Member,
    *,
    actor,
    on_date: date,
    member_type: MemberType,
    new_plan: Plan | None = None,
    billing_frequency: str | None = None,
) -> Membership | None:
    """A youth member turns 18: new member type (and plan), same member, same 'member since'."""
    with transaction.atomic():
        update_member(member, actor=actor, member_type=member_type, guardian=None)
        member.refresh_from_db()
        if new_plan is None:
            return None
        current = member.memberships.filter(
            status__in=[Membership.Status.ACTIVE, Membership.Status.PENDING], plan__is_addon=False
        ).first()
        if current is not None:
            membership = switch_plan(
                current,
                new_plan,
                actor=actor,
                effective_date=on_date,
                billing_frequency=billing_frequency,
                note=_("Turned 18."),
            )
        else:
            membership = start_membership(
                member,
                new_plan,
                actor=actor,
                start_date=on_date,
                billing_frequency=billing_frequency or "yearly",
                note=_("Turned 18."),
            )
        MembershipChange.objects.create(
            membership=membership,
            kind=MembershipChange.Kind.CAME_OF_AGE,
            effective_date=on_date,
            created_by=_user(actor),
        )
    return membership


# --- derived summary ----------------------------------------------------------------------

SUMMARY_STATUS_ORDER = [
    Membership.Status.ACTIVE,
    Membership.Status.CANCELLED,
    Membership.Status.PENDING,
    Membership.Status.LAPSED,
    Membership.Status.ENDED,
]


def refresh_membership_summary(member_ids: Iterable[int] | None = None) -> int:
    """Set Member.current_plan and membership_status from the memberships, in one UPDATE.

    The main membership that counts is the member's own most relevant one: active before cancelled
    before pending before lapsed before ended, then the latest start. A member without one of their
    own who lives in a household is covered by the main member's household plan, if it has one.
    The other people in the households of `member_ids` are refreshed too.
    """
    members = Member.objects.all()
    if member_ids is not None:
        member_ids = list(member_ids)
        households = Member.objects.filter(pk__in=member_ids, household__isnull=False).values("household")
        members = members.filter(Q(pk__in=member_ids) | Q(household__in=households))
    return _update_summary(members)


def _update_summary(members) -> int:
    rank = Case(
        *[When(status=status, then=Value(position)) for position, status in enumerate(SUMMARY_STATUS_ORDER)],
        output_field=CharField(),
    )
    own = (
        Membership.objects.filter(member=OuterRef("pk"), parent_membership__isnull=True)
        .annotate(rank=rank)
        .order_by("rank", "-start_date", "-pk")
    )
    household = (
        Membership.objects.filter(
            member__household=OuterRef("household"),
            member__household_role=Member.HouseholdRole.HEAD,
            plan__covers_household=True,
            parent_membership__isnull=True,
        )
        .annotate(rank=rank)
        .order_by("rank", "-start_date", "-pk")
    )
    return members.update(
        current_plan=Coalesce(Subquery(own.values("plan")[:1]), Subquery(household.values("plan")[:1])),
        membership_status=Coalesce(
            Subquery(own.values("status")[:1]), Subquery(household.values("status")[:1]), Value("")
        ),
    )


def _user(actor):
    return actor if getattr(actor, "pk", None) else None


# --- reads that must leave a trace -------------------------------------------------------


def record_member_export(*, actor, filters: dict[str, str], row_count: int):
    """Exporting personal data is logged: who exported which selection, and how many members."""
    described = "; ".join(f"{name}={value}" for name, value in filters.items() if value) or "all members"
    return log_action(
        "kring.member.exported", actor=actor, obj=actor, note=f"rows: {row_count}; filter: {described}"
    )


# --- contact persons ----------------------------------------------------------------------

CONTACT_PERSON_FIELDS = ["first_name", "name_prefix", "last_name", "role", "email", "phone", "is_primary"]


def check_contact_person_fields(organisation: Member, fields: dict) -> dict:
    """Validate and normalise a contact person's data; raises ValidationError per field."""
    unknown = set(fields) - set(CONTACT_PERSON_FIELDS)
    if unknown:
        raise ValueError(f"Not a contact person field: {', '.join(sorted(unknown))}")
    cleaned = dict(fields)
    errors = {}
    for name in ("first_name", "name_prefix", "last_name", "role"):
        if name in cleaned:
            cleaned[name] = (cleaned[name] or "").strip()
    if "last_name" in cleaned and not cleaned["last_name"]:
        errors["last_name"] = [_("Enter the last name.")]
    for name, check in (
        ("email", validation.check_email),
        ("phone", lambda value: validation.check_phone(value, organisation.country)),
    ):
        if name in cleaned:
            try:
                cleaned[name] = check(cleaned[name] or "")
            except ValidationError as exc:
                errors[name] = exc.messages
    if errors:
        raise ValidationError(errors)
    return cleaned


def add_contact_person(organisation: Member, *, actor, **fields) -> ContactPerson:
    """Add a contact person to an organisation. The first one becomes the main contact; a new main
    contact replaces the old one (an organisation has one)."""
    if organisation.kind != Member.Kind.ORGANISATION:
        raise ValidationError(_("Only an organisation has contact persons."))
    fields = check_contact_person_fields(organisation, fields)
    with transaction.atomic():
        # Locking the organisation serialises changes to its main contact.
        Member.objects.select_for_update().filter(pk=organisation.pk).first()
        has_main = organisation.contact_persons.filter(is_primary=True).exists()
        if not has_main:
            fields["is_primary"] = True
        elif fields.get("is_primary"):
            _demote_main_contact(organisation, actor=actor)
        contact = ContactPerson(organisation=organisation, **fields)
        contact.full_clean(exclude=["organisation", "user"])
        contact.save()
        log_action(
            "kring.contact_person.added",
            actor=actor,
            obj=contact,
            member_id=organisation.pk,
            changes=diff({}, snapshot(contact, CONTACT_PERSON_FIELDS)),
        )
    return contact


def update_contact_person(contact: ContactPerson, *, actor, **changes) -> list[dict]:
    """Change a contact person; returns the audited field changes (empty when nothing changed)."""
    organisation = contact.organisation
    changes = check_contact_person_fields(organisation, changes)
    with transaction.atomic():
        Member.objects.select_for_update().filter(pk=organisation.pk).first()
        contact = ContactPerson.objects.select_for_update().get(pk=contact.pk)
        if contact.is_primary and changes.get("is_primary") is False:
            raise ValidationError(
                {
                    "is_primary": _(
                        "An organisation needs a main contact. To change it, open the person who should become the "
                        "main contact and tick 'main contact' there."
                    )
                }
            )
        if changes.get("is_primary") and not contact.is_primary:
            _demote_main_contact(organisation, actor=actor)
        before = snapshot(contact, CONTACT_PERSON_FIELDS)
        for name, value in changes.items():
            setattr(contact, name, value)
        contact.full_clean(exclude=["organisation", "user"])
        field_changes = diff(before, snapshot(contact, CONTACT_PERSON_FIELDS))
        if not field_changes:
            return []
        contact.save(update_fields=[c["field"] for c in field_changes])
        log_action(
            "kring.contact_person.changed",
            actor=actor,
            obj=contact,
            member_id=organisation.pk,
            changes=field_changes,
        )
    return field_changes


def remove_contact_person(contact: ContactPerson, *, actor) -> ContactPerson | None:
    """Remove a contact person. When it was the main contact, the next one (by name) takes over;
    returns that new main contact, if any."""
    organisation = contact.organisation
    with transaction.atomic():
        Member.objects.select_for_update().filter(pk=organisation.pk).first()
        contact = ContactPerson.objects.select_for_update().get(pk=contact.pk)
        log_action(
            "kring.contact_person.removed",
            actor=actor,
            obj=contact,
            member_id=organisation.pk,
            changes=diff(snapshot(contact, CONTACT_PERSON_FIELDS), dict.fromkeys(CONTACT_PERSON_FIELDS, "")),
        )
        was_main = contact.is_primary
        contact.delete()
        if not was_main:
            return None
        successor = organisation.contact_persons.order_by("last_name", "first_name", "pk").first()
        if successor is not None:
            successor.is_primary = True
            successor.save(update_fields=["is_primary"])
            log_action(
                "kring.contact_person.changed",
                actor=actor,
                obj=successor,
                member_id=organisation.pk,
                changes=[
                    {"field": "is_primary", "before": display_value(False), "after": display_value(True)}
                ],
            )
        return successor


def _demote_main_contact(organisation: Member, *, actor) -> None:
    for current in organisation.contact_persons.select_for_update().filter(is_primary=True):
        current.is_primary = False
        current.save(update_fields=["is_primary"])
        log_action(
            "kring.contact_person.changed",
            actor=actor,
            obj=current,
            member_id=organisation.pk,
            changes=[{"field": "is_primary", "before": display_value(True), "after": display_value(False)}],
        )
