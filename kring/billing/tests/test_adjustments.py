"""Plan switches, cancellations and ends mid-term: credit notes for the days after the end, a new
invoice for the new plan, amounts that add up (numbers worked out by hand in the comments)."""

from datetime import date
from decimal import Decimal

import pytest

from kring.billing import adjustments, services
from kring.billing.adjustments import adjust_for_membership_change
from kring.billing.models import BillingSettings, Invoice
from kring.billing.services import LineInput
from kring.members import services as member_services
from kring.members.models import BillingFrequency, CancellationReason, Membership, MembershipPayer
from kring.members.tests.factories import MemberFactory, PlanFactory

pytestmark = pytest.mark.django_db

QUARTERLY, YEARLY = BillingFrequency.QUARTERLY, BillingFrequency.YEARLY
ON = date(2026, 11, 23)


@pytest.fixture
def plans():
    # Gewoon: € 120 a year (€ 30 a quarter); Junior: € 60 a year (€ 15 a quarter).
    return PlanFactory(code="gewoon", name="Gewoon", yearly_price=Decimal("120.00")), PlanFactory(
        code="junior", name="Junior", yearly_price=Decimal("60.00")
    )


def start(plan, frequency, *, member=None, start_date=date(2026, 1, 1)) -> Membership:
    return member_services.start_membership(
        member or MemberFactory(), plan, actor=None, start_date=start_date, billing_frequency=frequency
    )


def dues_invoice(membership, period_start, period_end, amount, *, payer=None, position=0) -> Invoice:
    """A dues invoice as an invoice run makes it (one line per plan)."""
    extra = {}
    if payer is not None:
        extra = {
            "recipient": services.payer_recipient(payer, membership.member),
            "payer_member": payer.payer_member,
            "membership_payer": payer,
            "share_percent": payer.share_percent,
        }
    return services.create_invoice(
        member=membership.member,
        lines=[LineInput(membership.plan.name, Decimal(amount))],
        actor=None,
        invoice_date=period_start,
        membership=membership,
        dues_period_start=period_start,
        payer_position=position,
        period_start=period_start,
        period_end=period_end,
        **extra,
    )


def cancellation_reason():
    return CancellationReason.objects.order_by("pk").first()


def refreshed(invoice):
    invoice.refresh_from_db()
    return invoice


# --- switches ---------------------------------------------------------------------------------------


def test_switch_mid_quarter_credits_the_rest_and_invoices_the_new_plan(plans):
    gewoon, junior = plans
    membership = start(gewoon, QUARTERLY)
    old = dues_invoice(membership, date(2026, 4, 1), date(2026, 6, 30), "30.00")  # 91 days

    new_membership, result = adjustments.switch_plan(
        membership, junior, actor=None, effective_date=date(2026, 5, 16)
    )

    # Kept: 1 April – 15 May = 45 days: 30 × 45 / 91 = 14.835… → 14.84; credited 30 − 14.84 = 15.16.
    [note] = result.credit_notes
    assert note.credited_invoice == old and note.total == Decimal("-15.16")
    assert note.kind == Invoice.Kind.CREDIT_NOTE
    # New: 16 May – 30 June = 46 days of Junior: 60 / 4 × 46 / 91 = 7.582… → 7.58.
    [new] = result.new_invoices
    assert new.membership == new_membership and new.total == Decimal("7.58")
    assert (new.dues_period_start, new.payer_position) == (date(2026, 4, 1), 0)
    assert (new.period_start, new.period_end) == (date(2026, 5, 16), date(2026, 6, 30))
    assert old.total + note.total + new.total == Decimal("14.84") + Decimal("7.58")
    assert result.in_collection == []
    assert refreshed(old).status == Invoice.Status.PARTIALLY_PAID and refreshed(old).open_amount == Decimal(
        "14.84"
    )


def test_switch_mid_year_on_a_yearly_invoice(plans):
    gewoon, junior = plans
    membership = start(gewoon, YEARLY)
    old = dues_invoice(membership, date(2026, 1, 1), date(2026, 12, 31), "120.00")  # 365 days
    services.record_payment(
        old, amount=Decimal("120"), paid_on=date(2026, 1, 20), method="transfer", actor=None
    )

    _new_membership, result = adjustments.switch_plan(
        membership, junior, actor=None, effective_date=date(2026, 7, 1)
    )

    # Kept: January – June = 181 days: 120 × 181 / 365 = 59.506… → 59.51; credited 60.49.
    [note] = result.credit_notes
    assert note.total == Decimal("-60.49")
    # Paid in full already: the credit note is money to refund (or to set against the new invoice).
    assert refreshed(note).open_amount == Decimal("-60.49")
    # New: July – December = 184 days: 60 × 184 / 365 = 30.246… → 30.25.
    [new] = result.new_invoices
    assert new.total == Decimal("30.25") and new.dues_period_start == date(2026, 1, 1)
    assert old.total + note.total + new.total == Decimal("59.51") + Decimal("30.25")


def test_switch_with_a_new_frequency_invoices_each_passed_instalment_of_the_new_frequency(plans):
    gewoon, junior = plans
    membership = start(gewoon, YEARLY)
    dues_invoice(membership, date(2026, 1, 1), date(2026, 12, 31), "120.00")
    _new, result = adjustments.switch_plan(
        membership, junior, actor=None, effective_date=date(2026, 8, 1), billing_frequency=QUARTERLY
    )
    # The yearly invoice covered up to 31 December: Q3 from 1 August (61 of 92 days) and Q4 in full.
    assert [(i.dues_period_start, i.period_start, i.total) for i in result.new_invoices] == [
        (date(2026, 7, 1), date(2026, 8, 1), Decimal("9.95")),  # 15 × 61 / 92 = 9.945… → 9.95
        (date(2026, 10, 1), date(2026, 10, 1), Decimal("15.00")),
    ]


def test_a_back_dated_switch_credits_an_invoice_that_starts_after_it_in_full(plans):
    gewoon, junior = plans
    membership = start(gewoon, QUARTERLY)
    q2 = dues_invoice(membership, date(2026, 4, 1), date(2026, 6, 30), "30.00")
    q3 = dues_invoice(membership, date(2026, 7, 1), date(2026, 9, 30), "30.00")

    _new, result = adjustments.switch_plan(membership, junior, actor=None, effective_date=date(2026, 6, 1))

    # Q2 keeps April and May, 61 of 91 days: 30 × 61 / 91 = 20.109… → 20.11; credit 9.89. Q3: all of it.
    assert [(n.credited_invoice, n.total) for n in result.credit_notes] == [
        (q2, Decimal("-9.89")),
        (q3, Decimal("-30.00")),
    ]
    assert refreshed(q3).status == Invoice.Status.CREDITED
    # New: June (30 of 91 days: 15 × 30 / 91 = 4.945… → 4.95) and Q3 in full.
    assert [(i.dues_period_start, i.total) for i in result.new_invoices] == [
        (date(2026, 4, 1), Decimal("4.95")),
        (date(2026, 7, 1), Decimal("15.00")),
    ]


def test_a_split_payer_membership_75_25_is_credited_and_invoiced_per_payer(plans):
    gewoon, junior = plans
    parent = MemberFactory(first_name="Petra")
    membership = start(gewoon, YEARLY)
    member_services.set_payers(
        membership,
        [
            {
                "kind": MembershipPayer.Kind.FUND,
                "external_name": "Jeugdfonds",
                "share_percent": Decimal("75"),
            },
            {"kind": MembershipPayer.Kind.GUARDIAN, "payer_member": parent, "share_percent": Decimal("25")},
        ],
        actor=None,
    )
    fund, guardian = membership.payers.order_by("pk")
    fund_invoice = dues_invoice(
        membership, date(2026, 1, 1), date(2026, 12, 31), "90.00", payer=fund, position=0
    )
    parent_invoice = dues_invoice(
        membership, date(2026, 1, 1), date(2026, 12, 31), "30.00", payer=guardian, position=1
    )

    new_membership, result = adjustments.switch_plan(
        membership, junior, actor=None, effective_date=date(2026, 7, 1)
    )

    # Kept 181 of 365 days: fund 90 × 181/365 = 44.630… → 44.63 (credit 45.37);
    # parent 30 × 181/365 = 14.876… → 14.88 (credit 15.12).
    assert [(n.credited_invoice, n.total) for n in result.credit_notes] == [
        (fund_invoice, Decimal("-45.37")),
        (parent_invoice, Decimal("-15.12")),
    ]
    assert result.credit_notes[0].recipient_name == "Jeugdfonds"
    # New: 60 × 184 / 365 = 30.246… → 30.25, split 75% = 22.6875 → 22.69 and the rest 7.56.
    new_fund, new_parent = result.new_invoices
    assert (new_fund.total, new_fund.payer_position, new_fund.recipient_name) == (
        Decimal("22.69"),
        0,
        "Jeugdfonds",
    )
    assert (new_parent.total, new_parent.payer_position, new_parent.payer_member) == (
        Decimal("7.56"),
        1,
        parent,
    )
    assert {i.membership_payer.membership_id for i in result.new_invoices} == {new_membership.pk}
    assert new_fund.share_percent == Decimal("75.00")


def test_discount_lines_are_credited_and_invoiced_pro_rata_and_a_later_run_adds_nothing(plans):
    from kring.billing.invoicing import run_invoices
    from kring.members.models import PriceRule

    gewoon, junior = plans
    PriceRule.objects.create(
        plan=gewoon,
        kind="regional",
        label="Regiokorting",
        adjustment="percent",
        value=Decimal("-10"),
        countries="NL",
    )
    PriceRule.objects.create(
        plan=junior,
        kind="regional",
        label="Regiokorting",
        adjustment="amount",
        value=Decimal("-20"),
        countries="NL",
    )
    membership = start(gewoon, YEARLY)
    run_invoices("2026", invoice_date=date(2026, 1, 1), actor=None)
    old = Invoice.objects.get(membership=membership)
    assert [line.amount for line in old.lines.all()] == [Decimal("120.00"), Decimal("-12.00")]

    new_membership, result = adjustments.switch_plan(
        membership, junior, actor=None, effective_date=date(2026, 7, 1)
    )

    # Kept 181 of 365 days: 120 → 59.51 (credit 60.49); -12 → -5.95 (credit -6.05): credit 54.44.
    [note] = result.credit_notes
    assert [line.amount for line in note.lines.all()] == [Decimal("-60.49"), Decimal("6.05")]
    assert note.total == Decimal("-54.44")
    # New, 184 of 365 days: 60 → 30.25 and -20 → -10.08: 20.17.
    [new] = result.new_invoices
    assert [line.amount for line in new.lines.all()] == [Decimal("30.25"), Decimal("-10.08")]
    assert old.total + note.total + new.total == Decimal("59.51") - Decimal("5.95") + Decimal("20.17")
    # The run of the switch's quarter or year again: the new plan's instalment is invoiced already.
    assert run_invoices("2026-Q3", actor=None).invoice_count == 0
    assert run_invoices("2026", actor=None).invoice_count == 0
    assert Invoice.objects.filter(membership=new_membership).count() == 1


# --- cancellations and ends -----------------------------------------------------------------------


def test_cancellation_mid_year_credits_the_days_after_the_end(plans):
    gewoon, _junior = plans
    membership = start(gewoon, YEARLY)
    old = dues_invoice(membership, date(2026, 1, 1), date(2026, 12, 31), "120.00")

    membership, result = adjustments.cancel_membership(
        membership,
        actor=None,
        reason=cancellation_reason(),
        cancelled_on=date(2026, 9, 1),
        end_date=date(2026, 9, 30),
    )

    # Kept: January – September = 273 days: 120 × 273 / 365 = 89.753… → 89.75; credit 30.25.
    [note] = result.credit_notes
    assert note.total == Decimal("-30.25") and note.credited_invoice == old
    assert result.new_invoices == []
    assert refreshed(old).open_amount == Decimal("89.75")
    assert membership.status == Membership.Status.CANCELLED


def test_cancellation_at_the_end_of_the_term_needs_no_correction(plans):
    gewoon, _junior = plans
    membership = start(gewoon, YEARLY)
    dues_invoice(membership, date(2026, 1, 1), date(2026, 12, 31), "120.00")
    membership, result = adjustments.cancel_membership(
        membership, actor=None, reason=cancellation_reason(), cancelled_on=date(2026, 11, 1)
    )
    assert membership.end_date == date(2026, 12, 31)
    assert not result.created_anything and result.in_collection == []
    assert Invoice.objects.count() == 1


def test_ending_a_membership_now_credits_its_add_ons_too(plans):
    gewoon, _junior = plans
    addon_plan = PlanFactory(code="blad", name="Clubblad", yearly_price=Decimal("24.00"), is_addon=True)
    gewoon.addons.add(addon_plan)
    membership = start(gewoon, YEARLY)
    addon = member_services.start_membership(
        membership.member,
        addon_plan,
        actor=None,
        start_date=date(2026, 1, 1),
        billing_frequency=YEARLY,
        parent_membership=membership,
    )
    dues_invoice(membership, date(2026, 1, 1), date(2026, 12, 31), "120.00")
    addon_invoice = dues_invoice(addon, date(2026, 1, 1), date(2026, 12, 31), "24.00")

    _membership, result = adjustments.end_membership(membership, actor=None, effective_date=date(2026, 6, 30))

    # Kept 181 of 365 days: 120 → 59.51 (credit 60.49); 24 × 181 / 365 = 11.901… → 11.90 (credit 12.10).
    assert sorted(n.total for n in result.credit_notes) == [Decimal("-60.49"), Decimal("-12.10")]
    assert addon_invoice.credit_notes.get().total == Decimal("-12.10")


def test_cancelling_credits_its_add_ons_after_the_same_end_date(plans):
    gewoon, _junior = plans
    addon_plan = PlanFactory(code="blad", name="Clubblad", yearly_price=Decimal("24.00"), is_addon=True)
    gewoon.addons.add(addon_plan)
    membership = start(gewoon, YEARLY)
    addon = member_services.start_membership(
        membership.member,
        addon_plan,
        actor=None,
        start_date=date(2026, 1, 1),
        billing_frequency=YEARLY,
        parent_membership=membership,
    )
    addon_invoice = dues_invoice(addon, date(2026, 1, 1), date(2026, 12, 31), "24.00")
    adjustments.cancel_membership(
        membership,
        actor=None,
        reason=cancellation_reason(),
        cancelled_on=date(2026, 5, 1),
        end_date=date(2026, 6, 30),
    )
    # The add-on ends with the main membership: 24 × 181 / 365 = 11.90 kept, 12.10 credited.
    assert addon_invoice.credit_notes.get().total == Decimal("-12.10")


# --- what is left alone ---------------------------------------------------------------------------


def test_an_invoice_in_collection_is_left_for_after_the_collection(plans):
    gewoon, junior = plans
    membership = start(gewoon, QUARTERLY)
    old = dues_invoice(membership, date(2026, 4, 1), date(2026, 6, 30), "30.00")
    Invoice.objects.filter(pk=old.pk).update(status=Invoice.Status.IN_COLLECTION)

    new_membership, result = adjustments.switch_plan(
        membership, junior, actor=None, effective_date=date(2026, 5, 16)
    )

    assert result.in_collection == [old] and not result.created_anything
    assert Invoice.objects.count() == 1

    # The collection comes in; calling the adjustment again completes the correction.
    services.record_payment(
        old, amount=Decimal("30"), paid_on=date(2026, 6, 5), method="direct_debit", actor=None
    )
    again = adjustments.correct_invoices(membership, actor=None)
    assert [n.total for n in again.credit_notes] == [Decimal("-15.16")]
    assert [(i.membership, i.total) for i in again.new_invoices] == [(new_membership, Decimal("7.58"))]
    assert not adjustments.correct_invoices(membership, actor=None).created_anything


def test_written_off_and_fully_credited_invoices_get_no_credit_note(plans):
    gewoon, _junior = plans
    membership = start(gewoon, QUARTERLY)
    written_off = dues_invoice(membership, date(2026, 4, 1), date(2026, 6, 30), "30.00")
    services.write_off(written_off, actor=None, reason="Onvindbaar")
    credited = dues_invoice(membership, date(2026, 7, 1), date(2026, 9, 30), "30.00")
    services.create_credit_note(credited, actor=None, reason="Vergissing")
    membership, result = adjustments.cancel_membership(
        membership,
        actor=None,
        reason=cancellation_reason(),
        cancelled_on=date(2026, 5, 1),
        end_date=date(2026, 5, 31),
    )
    assert not result.created_anything
    assert written_off.credit_notes.count() == 0 and credited.credit_notes.count() == 1


def test_calling_the_adjustment_twice_creates_nothing_the_second_time(plans):
    gewoon, junior = plans
    membership = start(gewoon, QUARTERLY)
    dues_invoice(membership, date(2026, 4, 1), date(2026, 6, 30), "30.00")
    dues_invoice(membership, date(2026, 7, 1), date(2026, 9, 30), "30.00")
    new_membership, first = adjustments.switch_plan(
        membership, junior, actor=None, effective_date=date(2026, 6, 1)
    )
    assert len(first.credit_notes) == 2 and len(first.new_invoices) == 2
    count = Invoice.objects.count()

    second = adjust_for_membership_change(
        Membership.objects.get(pk=membership.pk),
        new_membership=new_membership,
        effective_date=date(2026, 6, 1),
        actor=None,
    )

    assert not second.created_anything and Invoice.objects.count() == count


def test_an_earlier_partial_credit_counts_towards_the_days_credited(plans):
    gewoon, _junior = plans
    membership = start(gewoon, YEARLY)
    old = dues_invoice(membership, date(2026, 1, 1), date(2026, 12, 31), "120.00")
    services.create_credit_note(
        old, actor=None, reason="Coulance", lines=[LineInput("Coulance", Decimal("10"))]
    )
    _membership, result = adjustments.cancel_membership(
        membership,
        actor=None,
        reason=cancellation_reason(),
        cancelled_on=date(2026, 9, 1),
        end_date=date(2026, 9, 30),
    )
    # 30.25 is due back for October – December; 10 of it was credited already.
    assert [n.total for n in result.credit_notes] == [Decimal("-20.25")]
    assert refreshed(old).open_amount == Decimal("89.75")


def test_new_invoices_follow_a_billing_year_that_starts_in_july(plans):
    gewoon, junior = plans
    settings = BillingSettings.current()
    settings.billing_year_start_month = 7
    settings.save()
    membership = start(gewoon, YEARLY, start_date=date(2025, 7, 1))
    dues_invoice(membership, date(2026, 7, 1), date(2027, 6, 30), "120.00")
    _new, result = adjustments.switch_plan(membership, junior, actor=None, effective_date=date(2026, 10, 1))
    [new] = result.new_invoices
    # 1 October 2026 – 30 June 2027 = 273 of 365 days: 60 × 273 / 365 = 44.876… → 44.88.
    assert (new.dues_period_start, new.period_end, new.total) == (
        date(2026, 7, 1),
        date(2027, 6, 30),
        Decimal("44.88"),
    )
    # Kept: July – September = 92 days: 120 × 92 / 365 = 30.246… → 30.25; credit 89.75.
    assert [n.total for n in result.credit_notes] == [Decimal("-89.75")]


def test_the_credit_notes_and_invoices_are_audited(plans):
    from kring.core.models import AuditEntry

    gewoon, junior = plans
    membership = start(gewoon, QUARTERLY)
    dues_invoice(membership, date(2026, 4, 1), date(2026, 6, 30), "30.00")
    adjustments.switch_plan(membership, junior, actor=None, effective_date=date(2026, 5, 16))
    assert AuditEntry.objects.filter(action="billing.credit_note_created").count() == 1
    assert AuditEntry.objects.filter(action="billing.invoice_created").count() == 2
