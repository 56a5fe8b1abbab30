"""Corrections when a membership changes after its dues were invoiced: a plan switch, a cancellation
or an end mid-term.

For every dues invoice of the old membership that covers days after its new end, a credit note
referencing that invoice takes back those days, pro rata per line by days. After a plan switch the
new membership gets its own dues invoice for the rest of each instalment (the new plan's dues,
pro rata, split over its payers), with `dues_period_start` and `payer_position` set as an invoice
run sets them, so a later run for that period invoices nothing twice.

The numbers always add up, per invoice line: what the old invoice keeps is
``round(line × days kept / days covered)``, the credit note takes back the rest, so
``old invoice − credit note = the old plan's days``; ``new invoice = the new plan's days``.

Safe to call again (`adjust_for_membership_change` is idempotent): what earlier credit notes took
back counts, and an instalment the new membership was invoiced for already is left alone.
Invoices in a direct-debit collection cannot be credited; their instalment is left as it is and
returned in `AdjustmentResult.in_collection`, to correct after the collection with
`correct_invoices(membership)`.

`kring.members` does not know about invoices: the back office (and later the member portal) call
`switch_plan`, `cancel_membership` and `end_membership` here, which run the members service and the
adjustment in one transaction.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kring.billing import services
from kring.billing.invoicing import covered_dates, instalments_overlapping, prorated, split_shares
from kring.billing.models import ZERO, BillingSettings, Invoice
from kring.billing.services import LineInput, money, payer_recipient
from kring.core.models import Association
from kring.members import services as member_services
from kring.members.models import CancellationReason, Membership, MembershipChange, Plan
from kring.members.queries import dues_breakdown

HUNDRED = Decimal("100")


@dataclass
class AdjustmentResult:
    """What an adjustment created, and what it had to leave for later."""

    credit_notes: list[Invoice] = field(default_factory=list)
    new_invoices: list[Invoice] = field(default_factory=list)
    # Invoices in a direct-debit collection: to correct after the collection.
    in_collection: list[Invoice] = field(default_factory=list)

    @property
    def created_anything(self) -> bool:
        return bool(self.credit_notes or self.new_invoices)


# --- days and amounts: the rules of the invoice run (kring.billing.invoicing) ---------------------


def _days(start: date, end: date) -> int:
    return (end - start).days + 1


def _pro_rata(amount: Decimal, days: int, of_days: int) -> Decimal:
    if days >= of_days:
        return amount
    return money(amount * days / of_days)


def _short(day: date) -> str:
    return day.strftime("%d-%m-%Y")


# --- the adjustment -------------------------------------------------------------------------------


def adjust_for_membership_change(
    old_membership: Membership,
    *,
    new_membership: Membership | None = None,
    effective_date: date,
    actor,
    on_date: date | None = None,
) -> AdjustmentResult:
    """Credit the old membership's dues from `effective_date` on; invoice the new one's (after a switch).

    `effective_date` is the first day the old membership no longer covers: the new plan's start
    date after a switch, the day after the end date after a cancellation. `on_date` is the date of
    the documents (today by default).
    """
    on_date = on_date or timezone.localdate()
    result = AdjustmentResult()
    with transaction.atomic():
        # One adjustment per membership at a time: a second caller waits and then finds it done.
        old_membership = (
            Membership.objects.select_for_update().select_related("plan").get(pk=old_membership.pk)
        )
        affected = list(
            Invoice.objects.select_for_update()
            .filter(
                membership=old_membership,
                kind=Invoice.Kind.INVOICE,
                dues_period_start__isnull=False,
                period_end__gte=effective_date,
            )
            .order_by("dues_period_start", "payer_position", "pk")
        )
        # Add-ons end with their main membership (kring.members ends them on the same day, or at
        # the latest when a cancelled main membership reaches its end date).
        for addon in old_membership.addon_memberships.all():
            addon_effective = (
                min(effective_date, addon.end_date + timedelta(days=1)) if addon.end_date else effective_date
            )
            addon_result = adjust_for_membership_change(
                addon, effective_date=addon_effective, actor=actor, on_date=on_date
            )
            result.credit_notes += addon_result.credit_notes
            result.in_collection += addon_result.in_collection
        if not affected:
            return result
        instalments: dict[date, list[Invoice]] = {}
        for invoice in affected:
            instalments.setdefault(invoice.dues_period_start, []).append(invoice)
        deferred: list[tuple[date, date]] = []
        reason = _reason(old_membership, new_membership, effective_date)
        for invoices in instalments.values():
            waiting = [i for i in invoices if i.status == Invoice.Status.IN_COLLECTION]
            if waiting:
                # Correct the whole instalment after the collection, so its payers stay in step.
                result.in_collection.extend(waiting)
                deferred.append((min(i.period_start for i in invoices), max(i.period_end for i in invoices)))
                continue
            for invoice in invoices:
                note = _credit_days_after(
                    invoice, effective_date, reason=reason, actor=actor, on_date=on_date
                )
                if note is not None:
                    result.credit_notes.append(note)
        if new_membership is not None:
            invoiced_until = max(i.period_end for i in affected)
            result.new_invoices = _invoice_new_membership(
                new_membership,
                until=invoiced_until,
                deferred=deferred,
                actor=actor,
                on_date=on_date,
            )
    return result


def _reason(old: Membership, new: Membership | None, effective_date: date) -> str:
    if new is not None:
        return _("Plan switched from %(old)s to %(new)s on %(date)s.") % {
            "old": old.plan.name,
            "new": new.plan.name,
            "date": _short(effective_date),
        }
    return _("Membership %(plan)s ends on %(date)s.") % {
        "plan": old.plan.name,
        "date": _short(effective_date - timedelta(days=1)),
    }


def _credit_days_after(invoice: Invoice, effective_date: date, *, reason: str, actor, on_date: date):
    """A credit note for the days of `invoice` from `effective_date` on; None when nothing is left to credit."""
    if invoice.status in (Invoice.Status.CREDITED, Invoice.Status.WRITTEN_OFF):
        return None
    covered = _days(invoice.period_start, invoice.period_end)
    kept_days = max(0, min(covered, (effective_date - invoice.period_start).days))
    credit_from = max(effective_date, invoice.period_start)
    lines = list(invoice.lines.all())
    # What the invoice keeps, per line: the days before the effective date.
    credits = [line.amount - _pro_rata(line.amount, kept_days, covered) for line in lines]
    already = sum((-note.total for note in invoice.credit_notes.all()), ZERO)
    to_credit = sum(credits, ZERO) - already
    if to_credit <= 0:
        return None
    if already == 0 and kept_days == 0:
        # The whole invoice: credit its lines exactly, VAT included.
        return services.create_credit_note(invoice, actor=actor, reason=reason, credit_date=on_date)
    credits = _less_what_was_credited(credits, already)
    line_inputs = [
        LineInput(
            description=_("%(line)s: %(start)s – %(end)s (%(days)s of %(covered)s days)")
            % {
                "line": line.description,
                "start": _short(credit_from),
                "end": _short(invoice.period_end),
                "days": covered - kept_days,
                "covered": covered,
            },
            unit_price=amount,
            vat_rate=line.vat_rate,
        )
        for line, amount in zip(lines, credits, strict=True)
        if amount
    ]
    return services.create_credit_note(
        invoice, actor=actor, reason=reason, lines=line_inputs, credit_date=on_date
    )


def _less_what_was_credited(credits: list[Decimal], already: Decimal) -> list[Decimal]:
    """Earlier credit notes (an earlier adjustment, a goodwill credit) count: take them off the last lines first."""
    credits = list(credits)
    for index in reversed(range(len(credits))):
        if already <= 0:
            break
        if credits[index] > 0:
            taken = min(credits[index], already)
            credits[index] -= taken
            already -= taken
    return credits


# --- invoicing the new membership -----------------------------------------------------------------


def _invoice_new_membership(
    membership: Membership, *, until: date, deferred: list[tuple[date, date]], actor, on_date: date
) -> list[Invoice]:
    """Dues invoices for the new membership's instalments that start on or before `until`.

    Those are the instalments an invoice run has passed already (the old membership was invoiced
    up to `until`); later ones are left to the run.
    """
    membership = (
        Membership.objects.select_related("plan", "member__member_type")
        .prefetch_related("plan__prices", "plan__price_rules", "payers__payer_member")
        .get(pk=membership.pk)
    )
    settings = BillingSettings.current()
    association = Association.current()
    payers = sorted(membership.payers.all(), key=lambda p: p.pk)
    created = []
    for instalment in instalments_overlapping(
        membership.start_date,
        until,
        membership.billing_frequency,
        start_month=settings.billing_year_start_month,
    ):
        covered = covered_dates(instalment, membership.start_date, membership.end_date)
        if covered is None or any(covered[0] <= end and start <= covered[1] for start, end in deferred):
            continue
        created += _invoice_instalment(
            membership,
            payers=payers,
            instalment=(instalment.start, instalment.end),
            covered=covered,
            association=association,
            actor=actor,
            on_date=on_date,
        )
    return created


def dues_lines(
    membership: Membership, *, instalment: tuple[date, date], covered: tuple[date, date], association=None
) -> list[tuple[str, Decimal]]:
    """The dues of `membership` for the `covered` days of one instalment: (label, amount) per breakdown line.

    Each line is its yearly amount / instalments per year × days covered / days of the instalment,
    rounded half up to the cent. Empty when the dues come to nothing (honorary members).
    """
    breakdown = dues_breakdown(membership, on_date=covered[0], association=association)
    if breakdown.yearly_total <= 0:
        return []
    days, of_days = _days(*covered), _days(*instalment)
    per_year = breakdown.instalments_per_year
    lines = []
    for line in breakdown.lines:
        amount = prorated(line.yearly_amount, per_year=per_year, covered_days=days, instalment_days=of_days)
        if amount:
            lines.append((line.label, amount))
    if sum((amount for _label, amount in lines), ZERO) <= 0:
        return []
    return lines


def _invoice_instalment(
    membership: Membership, *, payers, instalment, covered, association, actor, on_date
) -> list[Invoice]:
    lines = dues_lines(membership, instalment=instalment, covered=covered, association=association)
    if not lines:
        return []
    plan = membership.plan
    shares = [payer.share_percent for payer in payers] or [HUNDRED]
    per_payer = [split_shares(amount, shares) for _label, amount in lines]
    description = _("Dues %(plan)s, %(start)s – %(end)s") % {
        "plan": plan.name,
        "start": _short(covered[0]),
        "end": _short(covered[1]),
    }
    existing = set(
        Invoice.objects.filter(membership=membership, dues_period_start=instalment[0]).values_list(
            "payer_position", flat=True
        )
    )
    created = []
    for position, share in enumerate(shares):
        if position in existing:
            continue
        line_inputs = [
            LineInput(description=label, unit_price=amounts[position], vat_rate=plan.vat_rate)
            for (label, _amount), amounts in zip(lines, per_payer, strict=True)
            if amounts[position]
        ]
        if not line_inputs:
            continue
        payer = payers[position] if payers else None
        recipient_fields = {}
        if payer is not None:
            recipient_fields = {
                "recipient": payer_recipient(payer, membership.member),
                "payer_member": payer.payer_member,
                "membership_payer": payer,
                "share_percent": share,
            }
        created.append(
            services.create_invoice(
                member=membership.member,
                lines=line_inputs,
                actor=actor,
                invoice_date=on_date,
                description=description,
                vat_exemption_text=plan.vat_exemption_text,
                period_start=covered[0],
                period_end=covered[1],
                membership=membership,
                dues_period_start=instalment[0],
                payer_position=position,
                **recipient_fields,
            )
        )
    return created


def correct_invoices(membership: Membership, *, actor, on_date: date | None = None) -> AdjustmentResult:
    """Correct the dues invoices of a membership that has an end date, as far as not done yet.

    For when a correction had to wait (an invoice was in a direct-debit collection): call it once
    the collection came in. After a plan switch the membership that followed it is found again (it
    starts the day after the end date and records the switch). Safe to call any number of times.
    """
    membership = Membership.objects.get(pk=membership.pk)
    if membership.end_date is None:
        return AdjustmentResult()
    effective_date = membership.end_date + timedelta(days=1)
    successor = (
        Membership.objects.filter(
            member_id=membership.member_id,
            start_date=effective_date,
            parent_membership_id=membership.parent_membership_id,
            changes__kind=MembershipChange.Kind.PLAN_SWITCH,
        )
        .exclude(pk=membership.pk)
        .order_by("pk")
        .first()
    )
    return adjust_for_membership_change(
        membership, new_membership=successor, effective_date=effective_date, actor=actor, on_date=on_date
    )


# --- the membership changes with their invoices ---------------------------------------------------


def switch_plan(
    membership: Membership,
    new_plan: Plan,
    *,
    actor,
    effective_date: date,
    billing_frequency: str | None = None,
    note: str = "",
) -> tuple[Membership, AdjustmentResult]:
    """Switch plans (kring.members) and correct the invoices, in one transaction."""
    with transaction.atomic():
        new_membership = member_services.switch_plan(
            membership,
            new_plan,
            actor=actor,
            effective_date=effective_date,
            billing_frequency=billing_frequency,
            note=note,
        )
        result = adjust_for_membership_change(
            membership, new_membership=new_membership, effective_date=effective_date, actor=actor
        )
    return new_membership, result


def cancel_membership(
    membership: Membership,
    *,
    actor,
    reason: CancellationReason,
    cancelled_on: date,
    end_date: date | None = None,
    note: str = "",
) -> tuple[Membership, AdjustmentResult]:
    """Cancel (kring.members) and credit the dues invoiced for after the end date, in one transaction."""
    with transaction.atomic():
        membership = member_services.cancel_membership(
            membership, actor=actor, reason=reason, cancelled_on=cancelled_on, end_date=end_date, note=note
        )
        result = adjust_for_membership_change(
            membership, effective_date=membership.end_date + timedelta(days=1), actor=actor
        )
    return membership, result


def end_membership(
    membership: Membership, *, actor, effective_date: date, note: str = ""
) -> tuple[Membership, AdjustmentResult]:
    """End a membership now (kring.members) and credit the dues invoiced for after its end date."""
    with transaction.atomic():
        membership = member_services.change_membership_status(
            membership, Membership.Status.ENDED, actor=actor, effective_date=effective_date, note=note
        )
        result = adjust_for_membership_change(
            membership, effective_date=membership.end_date + timedelta(days=1), actor=actor
        )
    return membership, result
