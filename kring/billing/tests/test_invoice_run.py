"""The dues invoice run: periods, instalments, pro rata, payers, idempotence, numbering, preview."""

import random
import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection, connections
from django.utils.translation import gettext

from kring.billing import invoicing
from kring.billing.invoicing import (
    Instalment,
    covered_dates,
    instalment_containing,
    instalments_overlapping,
    parse_period,
    preview_invoice_run,
    prorated,
    run_invoices,
    split_shares,
)
from kring.billing.models import BillingSettings, Invoice, InvoiceLine, InvoiceRun
from kring.billing.services import member_recipient, payer_recipient, vat_included
from kring.core.models import AuditEntry, NumberSequence
from kring.members.models import (
    BillingFrequency,
    Household,
    Member,
    Membership,
    MembershipPayer,
    MemberType,
    PlanPrice,
    PriceRule,
)
from kring.members.queries import dues_breakdown
from kring.members.tests.factories import MemberFactory, PlanFactory, ensure_default_lists

Y, H, Q, M = (
    BillingFrequency.YEARLY,
    BillingFrequency.HALF_YEARLY,
    BillingFrequency.QUARTERLY,
    BillingFrequency.MONTHLY,
)
ALL_FREQUENCIES = [Y, H, Q, M]
D = Decimal


def membership(member, plan, *, start, frequency=Y, status=Membership.Status.ACTIVE, end=None) -> Membership:
    return Membership.objects.create(
        member=member, plan=plan, billing_frequency=frequency, status=status, start_date=start, end_date=end
    )


def plan_of(price="120.00", *, code=None, name="Gewoon lid", frequencies=ALL_FREQUENCIES, **fields):
    return PlanFactory(
        code=code or f"plan-{random.random()}",
        name=name,
        yearly_price=D(price),
        frequencies=frequencies,
        **fields,
    )


def invoices_of(ms: Membership) -> list[Invoice]:
    return list(Invoice.objects.filter(membership=ms).order_by("dues_period_start", "payer_position"))


def numbers_are_gapless(year: int) -> None:
    sequences = sorted(Invoice.objects.filter(year=year).values_list("sequence", flat=True))
    assert sequences == list(range(1, len(sequences) + 1))
    assert NumberSequence.objects.get(name=f"invoice-{year}").last_value == len(sequences)
    for invoice in Invoice.objects.filter(year=year):
        assert invoice.number == f"{year}-{invoice.sequence:06d}"


# --- periods, instalments, pro rata (no database) ----------------------------------------------


@pytest.mark.parametrize(
    "code, start, end",
    [
        ("2027", date(2027, 1, 1), date(2027, 12, 31)),
        ("2027-H1", date(2027, 1, 1), date(2027, 6, 30)),
        ("2027-H2", date(2027, 7, 1), date(2027, 12, 31)),
        ("2027-Q1", date(2027, 1, 1), date(2027, 3, 31)),
        ("2027-q4", date(2027, 10, 1), date(2027, 12, 31)),
        ("2027-02", date(2027, 2, 1), date(2027, 2, 28)),
        ("2028-02", date(2028, 2, 1), date(2028, 2, 29)),
        (" 2027-12 ", date(2027, 12, 1), date(2027, 12, 31)),
    ],
)
def test_a_period_code_is_a_calendar_period(code, start, end):
    period = parse_period(code)
    assert (period.start, period.end, period.code) == (start, end, code.strip().upper())


@pytest.mark.parametrize(
    "code", ["", "27", "2027-Q5", "2027-Q0", "2027-H3", "2027-13", "2027-00", "Q1-2027", "2027-1"]
)
def test_anything_else_is_refused_with_a_message(code):
    with pytest.raises(ValidationError) as error:
        parse_period(code)
    assert "2027-Q1" in error.value.messages[0]


def test_the_next_quarter_is_the_default_period():
    assert invoicing.next_quarter(date(2026, 11, 23)) == "2027-Q1"
    assert invoicing.next_quarter(date(2027, 1, 1)) == "2027-Q2"
    assert invoicing.next_quarter(date(2027, 9, 30)) == "2027-Q4"


@pytest.mark.parametrize(
    "day, frequency, start_month, start, end, label",
    [
        (date(2027, 5, 17), Y, 1, date(2027, 1, 1), date(2027, 12, 31), "2027"),
        (date(2027, 5, 17), H, 1, date(2027, 1, 1), date(2027, 6, 30), "2027-H1"),
        (date(2027, 7, 1), H, 1, date(2027, 7, 1), date(2027, 12, 31), "2027-H2"),
        (date(2027, 5, 17), Q, 1, date(2027, 4, 1), date(2027, 6, 30), "2027-Q2"),
        (date(2028, 2, 29), M, 1, date(2028, 2, 1), date(2028, 2, 29), "2028-02"),
        (date(2027, 2, 28), M, 1, date(2027, 2, 1), date(2027, 2, 28), "2027-02"),
        (date(2027, 12, 31), M, 1, date(2027, 12, 1), date(2027, 12, 31), "2027-12"),
        # A billing year from July: the year, its halves and quarters are counted from July.
        (date(2027, 5, 17), Y, 7, date(2026, 7, 1), date(2027, 6, 30), "2026-07 – 2027-06"),
        (date(2027, 7, 1), Y, 7, date(2027, 7, 1), date(2028, 6, 30), "2027-07 – 2028-06"),
        (date(2027, 5, 17), H, 7, date(2027, 1, 1), date(2027, 6, 30), "2027-H1"),
        (date(2027, 5, 17), Q, 7, date(2027, 4, 1), date(2027, 6, 30), "2027-Q2"),
        # From February the quarters are not calendar quarters.
        (date(2027, 1, 31), Q, 2, date(2026, 11, 1), date(2027, 1, 31), "2026-11 – 2027-01"),
        (date(2028, 4, 30), Q, 2, date(2028, 2, 1), date(2028, 4, 30), "2028-02 – 2028-04"),
    ],
)
def test_instalments_follow_the_billing_year(day, frequency, start_month, start, end, label):
    instalment = instalment_containing(day, frequency, start_month=start_month)
    assert (instalment.start, instalment.end, instalment.label) == (start, end, label)


@pytest.mark.parametrize(
    "frequency, count",
    [(Y, 1), (H, 1), (Q, 1), (M, 3)],
)
def test_the_instalments_of_a_quarter(frequency, count):
    found = instalments_overlapping(date(2027, 1, 1), date(2027, 3, 31), frequency)
    assert len(found) == count and found[0].start == date(2027, 1, 1)


@pytest.mark.parametrize(
    "frequency, instalment_start, start, end, covered, days, yearly, amount",
    [
        # Joins 10 July on a yearly plan: 10 July – 31 December is 175 of 365 days.
        (
            Y,
            date(2027, 1, 1),
            date(2027, 7, 10),
            None,
            (date(2027, 7, 10), date(2027, 12, 31)),
            365,
            "120.00",
            "57.53",
        ),
        # A leap year has 366 days: 29 February alone is 1/366.
        (
            Y,
            date(2028, 1, 1),
            date(2028, 2, 29),
            date(2028, 2, 29),
            (date(2028, 2, 29), date(2028, 2, 29)),
            366,
            "366.00",
            "1.00",
        ),
        # February of a leap year has 29 days, of another year 28.
        (
            M,
            date(2028, 2, 1),
            date(2028, 2, 15),
            None,
            (date(2028, 2, 15), date(2028, 2, 29)),
            29,
            "120.00",
            "5.17",
        ),
        (
            M,
            date(2027, 2, 1),
            date(2027, 2, 15),
            None,
            (date(2027, 2, 15), date(2027, 2, 28)),
            28,
            "120.00",
            "5.00",
        ),
        # Ends on a month's last day: the whole month.
        (
            M,
            date(2027, 4, 1),
            date(2020, 1, 1),
            date(2027, 4, 30),
            (date(2027, 4, 1), date(2027, 4, 30)),
            30,
            "120.00",
            "10.00",
        ),
        # Ends mid-quarter: 1 January – 14 February is 45 of 90 days.
        (
            Q,
            date(2027, 1, 1),
            date(2020, 1, 1),
            date(2027, 2, 14),
            (date(2027, 1, 1), date(2027, 2, 14)),
            90,
            "100.00",
            "12.50",
        ),
        # Q1 of a leap year has 91 days.
        (
            Q,
            date(2028, 1, 1),
            date(2028, 3, 31),
            None,
            (date(2028, 3, 31), date(2028, 3, 31)),
            91,
            "91.00",
            "0.25",
        ),
        # Half up: 0.125 → 0.13; a discount rounds away from zero too: -0.125 → -0.13.
        (
            Y,
            date(2027, 1, 1),
            date(2020, 1, 1),
            None,
            (date(2027, 1, 1), date(2027, 12, 31)),
            365,
            "0.13",
            "0.13",
        ),
        (
            H,
            date(2027, 1, 1),
            date(2020, 1, 1),
            None,
            (date(2027, 1, 1), date(2027, 6, 30)),
            181,
            "0.25",
            "0.13",
        ),
        (
            H,
            date(2027, 1, 1),
            date(2020, 1, 1),
            None,
            (date(2027, 1, 1), date(2027, 6, 30)),
            181,
            "-0.25",
            "-0.13",
        ),
    ],
)
def test_pro_rata_counts_days(frequency, instalment_start, start, end, covered, days, yearly, amount):
    instalment = instalment_containing(instalment_start, frequency)
    assert instalment.days == days
    assert covered_dates(instalment, start, end) == covered
    covered_days = (covered[1] - covered[0]).days + 1
    result = prorated(
        D(yearly), per_year=instalment.per_year, covered_days=covered_days, instalment_days=days
    )
    assert result == D(amount) and isinstance(result, Decimal)


def test_a_membership_outside_the_instalment_covers_nothing():
    instalment = Instalment(Q, date(2027, 1, 1), date(2027, 3, 31))
    assert covered_dates(instalment, date(2027, 4, 1), None) is None
    assert covered_dates(instalment, date(2026, 1, 1), date(2026, 12, 31)) is None


@pytest.mark.parametrize(
    "amount, shares, parts",
    [
        ("30.00", ["75", "25"], ["22.50", "7.50"]),
        ("10.01", ["75", "25"], ["7.51", "2.50"]),
        ("10.00", ["33.33", "33.33", "33.34"], ["3.33", "3.33", "3.34"]),
        ("-7.50", ["75", "25"], ["-5.63", "-1.87"]),
    ],
)
def test_shares_add_up_to_the_amount(amount, shares, parts):
    result = split_shares(D(amount), [D(s) for s in shares])
    assert result == [D(p) for p in parts] and sum(result) == D(amount)


# --- runs ---------------------------------------------------------------------------------------


@pytest.fixture
def lists(db):
    ensure_default_lists()


@pytest.fixture
def member(lists):
    return MemberFactory(first_name="Anna", name_prefix="van den", last_name="Berg")


@pytest.mark.django_db
def test_each_frequency_gets_its_instalments_in_a_quarter_run(lists):
    plan = plan_of("120.00")
    memberships = {
        frequency: membership(MemberFactory(), plan, start=date(2020, 3, 5), frequency=frequency)
        for frequency in ALL_FREQUENCIES
    }
    run = run_invoices("2027-Q1", invoice_date=date(2027, 1, 1), actor=None)
    got = {f: [(i.dues_period_start, i.total) for i in invoices_of(ms)] for f, ms in memberships.items()}
    assert got == {
        Y: [(date(2027, 1, 1), D("120.00"))],
        H: [(date(2027, 1, 1), D("60.00"))],
        Q: [(date(2027, 1, 1), D("30.00"))],
        M: [(date(2027, 1, 1), D("10.00")), (date(2027, 2, 1), D("10.00")), (date(2027, 3, 1), D("10.00"))],
    }
    assert (run.status, run.invoice_count, run.total) == ("done", 6, D("240.00"))
    yearly = invoices_of(memberships[Y])[0]
    assert (yearly.period_start, yearly.period_end, yearly.description) == (
        date(2027, 1, 1),
        date(2027, 12, 31),
        gettext("Dues %(period)s") % {"period": "2027"},
    )
    assert [line.description for line in yearly.lines.all()] == ["Gewoon lid 2027"]

    # The second quarter: only the quarterly and monthly payers.
    second = run_invoices("2027-Q2", invoice_date=date(2027, 4, 1), actor=None)
    assert second.invoice_count == 4 and second.total == D("60.00")
    assert len(invoices_of(memberships[Y])) == 1 and len(invoices_of(memberships[H])) == 1
    # The second half year's instalment falls in the third quarter.
    assert run_invoices("2027-Q3", invoice_date=date(2027, 7, 1), actor=None).invoice_count == 5
    numbers_are_gapless(2027)


@pytest.mark.django_db
def test_a_yearly_payer_is_invoiced_in_the_period_that_holds_the_start_of_the_billing_year(lists):
    settings = BillingSettings.current()
    settings.billing_year_start_month = 7
    settings.save()
    plan = plan_of("120.00")
    yearly = membership(MemberFactory(), plan, start=date(2020, 1, 1))
    quarterly = membership(MemberFactory(), plan, start=date(2020, 1, 1), frequency=Q)
    assert run_invoices("2027-Q1", invoice_date=date(2027, 1, 1), actor=None).invoice_count == 1
    assert invoices_of(yearly) == []
    run_invoices("2027-Q3", invoice_date=date(2027, 7, 1), actor=None)
    [invoice] = invoices_of(yearly)
    assert (invoice.dues_period_start, invoice.period_end, invoice.total) == (
        date(2027, 7, 1),
        date(2028, 6, 30),
        D("120.00"),
    )
    assert [i.dues_period_start for i in invoices_of(quarterly)] == [date(2027, 1, 1), date(2027, 7, 1)]


@pytest.mark.django_db
def test_someone_who_joins_mid_year_is_invoiced_pro_rata_in_the_period_of_their_start(member):
    plan = plan_of("120.00")
    joined = membership(member, plan, start=date(2027, 7, 10))
    assert run_invoices("2027-Q1", invoice_date=date(2027, 1, 1), actor=None).invoice_count == 0
    assert run_invoices("2027-Q2", invoice_date=date(2027, 4, 1), actor=None).invoice_count == 0
    run = run_invoices("2027-Q3", invoice_date=date(2027, 7, 15), actor=None)
    [invoice] = invoices_of(joined)
    assert invoice.run == run
    assert (invoice.dues_period_start, invoice.period_start, invoice.period_end) == (
        date(2027, 1, 1),
        date(2027, 7, 10),
        date(2027, 12, 31),
    )
    assert invoice.total == D("57.53")  # 120 × 175 / 365
    [line] = invoice.lines.all()
    assert line.description == "Gewoon lid 10-07-2027 – 31-12-2027"
    # Not again in the fourth quarter.
    assert run_invoices("2027-Q4", invoice_date=date(2027, 10, 1), actor=None).invoice_count == 0


@pytest.mark.django_db
def test_ended_cancelled_lapsed_and_pending_memberships(lists):
    plan = plan_of("100.00")
    other = plan_of("200.00", name="Steunlid")
    person = MemberFactory()
    # A plan switch on 15 February: the old membership is billed for 1 January – 14 February, the new
    # one for 15 February – 31 March.
    old = membership(person, plan, start=date(2020, 1, 1), frequency=Q, status="ended", end=date(2027, 2, 14))
    new = membership(person, other, start=date(2027, 2, 15), frequency=Q)
    cancelled = membership(
        MemberFactory(), plan, start=date(2020, 1, 1), frequency=Q, status="cancelled", end=date(2027, 1, 31)
    )
    ended_before = membership(
        MemberFactory(), plan, start=date(2020, 1, 1), frequency=Q, status="ended", end=date(2026, 12, 31)
    )
    lapsed = membership(MemberFactory(), plan, start=date(2020, 1, 1), frequency=Q, status="lapsed")
    pending = membership(MemberFactory(), plan, start=date(2027, 3, 1), frequency=Q, status="pending")
    ended_without_date = membership(
        MemberFactory(), plan, start=date(2020, 1, 1), frequency=Q, status="ended"
    )
    run_invoices("2027-Q1", invoice_date=date(2027, 1, 1), actor=None)
    assert [(i.period_start, i.period_end, i.total) for i in invoices_of(old)] == [
        (date(2027, 1, 1), date(2027, 2, 14), D("12.50"))
    ]
    assert [(i.period_start, i.period_end, i.total) for i in invoices_of(new)] == [
        (date(2027, 2, 15), date(2027, 3, 31), D("25.00"))
    ]
    assert [(i.period_end, i.total) for i in invoices_of(cancelled)] == [(date(2027, 1, 31), D("8.61"))]
    assert [(i.period_start, i.total) for i in invoices_of(pending)] == [(date(2027, 3, 1), D("8.61"))]
    assert invoices_of(ended_before) == invoices_of(lapsed) == invoices_of(ended_without_date) == []


@pytest.mark.django_db
def test_no_invoice_for_members_without_dues_or_without_anything_to_pay(lists):
    honorary = MemberFactory(member_type=MemberType.objects.get(code="erelid"))
    free = plan_of("0.00")
    plan = plan_of("50.00")
    PriceRule.objects.create(
        plan=plan, kind="first_year", label="Welkom", adjustment="percent", value=D("-100")
    )
    assert not MemberType.objects.get(code="erelid").pays_dues
    membership(honorary, plan, start=date(2020, 1, 1))
    membership(MemberFactory(), free, start=date(2020, 1, 1))
    membership(MemberFactory(member_since=date(2026, 6, 1)), plan, start=date(2026, 6, 1))  # first year: free
    run = run_invoices("2027", invoice_date=date(2027, 1, 1), actor=None)
    assert run.invoice_count == 0 and not Invoice.objects.exists()


@pytest.mark.django_db
def test_add_ons_get_their_own_invoice(member):
    main = membership(member, plan_of("120.00"), start=date(2020, 1, 1))
    addon_plan = plan_of("15.00", name="Kennisbank Plus", is_addon=True)
    addon = Membership.objects.create(
        member=member, plan=addon_plan, start_date=date(2020, 1, 1), status="active", parent_membership=main
    )
    run_invoices("2027-Q1", invoice_date=date(2027, 1, 1), actor=None)
    assert [i.total for i in invoices_of(main)] == [D("120.00")]
    assert [(i.total, i.lines.get().description) for i in invoices_of(addon)] == [
        (D("15.00"), "Kennisbank Plus 2027")
    ]


@pytest.mark.django_db
def test_a_fund_pays_75_percent_and_the_parent_the_rest_and_it_adds_up(lists):
    parent = MemberFactory(first_name="Sanne", last_name="Visser", payment_method="direct_debit")
    child = MemberFactory(first_name="Tim", last_name="Visser", country="BE", postcode="1000", city="Brussel")
    plan = plan_of("100.03", frequencies=[Y, Q])
    PriceRule.objects.create(
        plan=plan, kind="household", label="Gezinskorting", adjustment="amount", value=D("-10.01")
    )
    child.household = Household.objects.create(name="Visser")
    child.household_role = Member.HouseholdRole.CHILD
    child.save()
    ms = membership(child, plan, start=date(2020, 1, 1), frequency=Q)
    fund = MembershipPayer.objects.create(
        membership=ms,
        kind="fund",
        external_name="Jeugdfonds Sport & Cultuur",
        external_address="Postbus 1\n1000 AA  AMSTERDAM",
        external_reference="JFS-123",
        share_percent=D("75"),
    )
    guardian = MembershipPayer.objects.create(
        membership=ms, kind="guardian", payer_member=parent, share_percent=D("25")
    )
    run_invoices("2027-Q1", invoice_date=date(2027, 1, 1), actor=None)
    fund_invoice, parent_invoice = invoices_of(ms)
    assert (fund_invoice.payer_position, parent_invoice.payer_position) == (0, 1)
    assert (fund_invoice.membership_payer, parent_invoice.membership_payer) == (fund, guardian)
    assert (fund_invoice.share_percent, parent_invoice.share_percent) == (D("75.00"), D("25.00"))
    # Per line: 25.01 (100.03 / 4, half up) and -2.50 (-10.01 / 4): 75% of each, the rest to the parent.
    assert [line.amount for line in fund_invoice.lines.all()] == [D("18.76"), D("-1.88")]
    assert [line.amount for line in parent_invoice.lines.all()] == [D("6.25"), D("-0.62")]
    assert fund_invoice.total + parent_invoice.total == D("25.01") + D("-2.50")
    # Who gets them: the fund as an outside party, the parent as a member.
    assert (fund_invoice.payer_member, fund_invoice.recipient_name, fund_invoice.recipient_reference) == (
        None,
        "Jeugdfonds Sport & Cultuur",
        "JFS-123",
    )
    assert fund_invoice.payment_method == "transfer" and parent_invoice.payment_method == "direct_debit"
    assert parent_invoice.payer_member == parent and parent_invoice.member == child
    assert _snapshot(fund_invoice) == _recipient(payer_recipient(fund, child))
    assert _snapshot(parent_invoice) == _recipient(payer_recipient(guardian, child))
    assert fund_invoice.reference_kind == "be"  # an outside payer's invoice follows the member's country


def _snapshot(invoice: Invoice) -> tuple:
    return (
        invoice.recipient_name,
        invoice.recipient_address,
        invoice.recipient_country,
        invoice.recipient_email,
        invoice.recipient_reference,
        invoice.send_by_post,
    )


def _recipient(recipient) -> tuple:
    return (
        recipient.name,
        recipient.address,
        recipient.country,
        recipient.email,
        recipient.reference,
        recipient.send_by_post,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["nl", "en"])
def test_the_name_and_address_are_those_services_member_recipient_gives(lists, language):
    from django.utils import translation

    plan = plan_of("10.00")
    people = [
        MemberFactory(
            first_name="Anna", name_prefix="van den", last_name="Berg", house_number_addition="bis"
        ),
        MemberFactory(first_name="", initials="J.P.", name_prefix="", last_name="Balkenende", email=""),
        MemberFactory(
            kind="organisation",
            organisation_name="Bakkerij De Ster B.V.",
            first_name="",
            last_name="",
            city="",
        ),
        MemberFactory(
            country="BE", postcode="4000", city="Liège", street="Rue de l'Université", house_number=None
        ),
        MemberFactory(country="DE", postcode="10115", city="Straße am Fluß", correspondence="paper"),
        MemberFactory(country="XX", postcode="", city="Zoë", street="", house_number=0),
        MemberFactory(country="FR", city="Île-de-France", street="", postcode="75001"),
    ]
    for person in people:
        membership(person, plan, start=date(2020, 1, 1))
    with translation.override(language):
        run_invoices("2027-Q1", invoice_date=date(2027, 1, 1), actor=None)
        for person in people:
            invoice = Invoice.objects.get(member=person)
            assert _snapshot(invoice) == _recipient(member_recipient(person)), person
            assert invoice.reference_kind == ("be" if person.country == "BE" else "nl")
            assert invoice.payer_member == person and invoice.payment_method == person.payment_method


@pytest.mark.django_db
def test_vat_per_line_and_the_exemption_text(lists):
    taxed = plan_of("121.00", name="Cursuslid", vat_rate=D("21"), vat_exemption_text="Vrijgesteld van btw")
    PriceRule.objects.create(
        plan=taxed, kind="first_year", label="Welkom", adjustment="amount", value=D("-0.30")
    )
    exempt = plan_of("120.00")
    first = membership(
        MemberFactory(member_since=date(2026, 10, 1)), taxed, start=date(2026, 10, 1), frequency=Q
    )
    second = membership(MemberFactory(), exempt, start=date(2020, 1, 1), frequency=Q)
    run_invoices("2027-Q1", invoice_date=date(2027, 1, 1), actor=None)
    [invoice] = invoices_of(first)
    lines = list(invoice.lines.all())
    assert [(line.amount, line.vat_amount, line.amount_excl_vat, line.vat_rate) for line in lines] == [
        (
            D("30.25"),
            vat_included(D("30.25"), D("21")),
            D("30.25") - vat_included(D("30.25"), D("21")),
            D("21.00"),
        ),
        (
            D("-0.08"),
            vat_included(D("-0.08"), D("21")),
            D("-0.08") - vat_included(D("-0.08"), D("21")),
            D("21.00"),
        ),
    ]
    assert invoice.vat_amount == sum(line.vat_amount for line in lines) == D("5.24")
    assert invoice.total_excl_vat + invoice.vat_amount == invoice.total == D("30.17")
    assert invoice.vat_exemption_text == ""
    [exempt_invoice] = invoices_of(second)
    assert (exempt_invoice.vat_amount, exempt_invoice.vat_exemption_text) == (
        D("0.00"),
        "Vrijgesteld van btw",
    )


@pytest.mark.django_db
def test_amounts_with_vat_add_up_exactly_in_the_database(lists):
    """SQLite stores decimals as floats and checks total = excl + VAT in floating point: still exact."""
    plan = plan_of("0.00", vat_rate=D("21"), frequencies=[Y])
    for cents in range(1, 400, 7):
        PlanPrice.objects.filter(plan=plan).delete()
        plan.yearly_price = D(cents) / 100 + D("0.20")
        plan.save()
        membership(MemberFactory(), plan, start=date(2020, 1, 1))
        run_invoices("2027", invoice_date=date(2027, 1, 1), actor=None)
    for invoice in Invoice.objects.prefetch_related("lines"):
        [line] = invoice.lines.all()
        assert line.amount_excl_vat + line.vat_amount == line.amount == invoice.total
        assert line.vat_amount == vat_included(line.amount, D("21"))


@pytest.mark.django_db
def test_numbers_due_date_reference_and_run_fields(lists):
    settings = BillingSettings.current()
    settings.invoice_number_prefix = "F"
    settings.payment_term_days = 30
    settings.save()
    plan = plan_of("60.00")
    memberships = [membership(MemberFactory(), plan, start=date(2020, 1, 1)) for _ in range(3)]
    run = run_invoices("2027-Q1", invoice_date=date(2027, 1, 4), actor=None)
    invoices = sorted(Invoice.objects.all(), key=lambda i: i.sequence)
    assert [i.number for i in invoices] == ["F2027-000001", "F2027-000002", "F2027-000003"]
    assert [i.membership for i in invoices] == memberships
    invoice = invoices[0]
    assert (invoice.invoice_date, invoice.due_date, invoice.status, invoice.kind) == (
        date(2027, 1, 4),
        date(2027, 2, 3),
        "open",
        "invoice",
    )
    assert (invoice.run, invoice.payer_position, invoice.membership_payer) == (run, 0, None)
    assert isinstance(invoice.total, Decimal) and isinstance(run.total, Decimal)
    from kring.billing.references import is_valid_dutch_reference

    assert is_valid_dutch_reference(invoice.payment_reference)


@pytest.mark.django_db
def test_running_again_creates_nothing_and_the_database_refuses_a_second_invoice(member):
    ms = membership(member, plan_of("120.00"), start=date(2020, 1, 1), frequency=M)
    first = run_invoices("2027-Q1", invoice_date=date(2027, 1, 1), actor=None)
    second = run_invoices("2027-Q1", invoice_date=date(2027, 1, 1), actor=None)
    assert (first.invoice_count, second.invoice_count, second.status) == (3, 0, "done")
    assert Invoice.objects.count() == 3 and InvoiceLine.objects.count() == 3
    numbers_are_gapless(2027)
    # One audit entry per run, with the counts.
    entries = AuditEntry.objects.filter(action="billing.invoice_run").order_by("pk")
    assert [entry.object_id for entry in entries] == [str(first.pk), str(second.pk)]
    assert entries[0].changes[0]["after"] == "3" and entries[0].changes[1]["after"] == "30.00"
    from django.db import IntegrityError, transaction

    invoice = invoices_of(ms)[0]
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.create(
            number="X-1",
            year=2099,
            sequence=1,
            invoice_date=invoice.invoice_date,
            due_date=invoice.due_date,
            member=member,
            recipient_name="x",
            membership=ms,
            dues_period_start=invoice.dues_period_start,
            payer_position=0,
        )


@pytest.mark.django_db
def test_an_interrupted_run_is_completed_by_the_next_with_gapless_numbers(lists, monkeypatch):
    plan = plan_of("120.00")
    memberships = [membership(MemberFactory(), plan, start=date(2020, 1, 1), frequency=Q) for _ in range(9)]
    original = invoicing._Workspace.create
    calls = []

    def crash_in_the_second_chunk(self, lo, hi, **kwargs):
        calls.append(lo)
        result = original(self, lo, hi, **kwargs)  # the chunk's invoices are written …
        if len(calls) == 2:
            raise RuntimeError("the worker died")  # … and its transaction never commits
        return result

    monkeypatch.setattr(invoicing._Workspace, "create", crash_in_the_second_chunk)
    first_id = memberships[0].pk
    with pytest.raises(RuntimeError):
        run_invoices("2027-Q1", invoice_date=date(2027, 1, 1), actor=None, chunk_size=3)
    failed = InvoiceRun.objects.get()
    assert (failed.status, failed.invoice_count) == ("failed", 3)
    assert sorted(Invoice.objects.values_list("membership_id", flat=True)) == [
        first_id,
        first_id + 1,
        first_id + 2,
    ]
    numbers_are_gapless(2027)

    monkeypatch.setattr(invoicing._Workspace, "create", original)
    completed = run_invoices("2027-Q1", invoice_date=date(2027, 1, 1), actor=None, chunk_size=3)
    assert (completed.status, completed.invoice_count) == ("done", 6)
    assert Invoice.objects.count() == 9
    numbers_are_gapless(2027)
    assert AuditEntry.objects.filter(action="billing.invoice_run").count() == 2


@pytest.mark.django_db
def test_the_preview_shows_what_the_run_creates_and_creates_nothing(lists):
    plan = plan_of("120.00", name="Gewoon lid")
    cheap = plan_of("30.00", name="Jeugdlid")
    for frequency in (Y, Y, Q, M):
        membership(MemberFactory(), plan, start=date(2020, 1, 1), frequency=frequency)
    membership(MemberFactory(), cheap, start=date(2027, 2, 1), frequency=Q)
    preview = preview_invoice_run("2027-Q1", date(2027, 1, 1))
    assert not Invoice.objects.exists() and not InvoiceRun.objects.exists()
    assert [(row.plan_name, row.frequency, row.invoice_count, row.total) for row in preview.rows] == sorted(
        [
            ("Gewoon lid", Y, 2, D("240.00")),
            ("Gewoon lid", Q, 1, D("30.00")),
            ("Gewoon lid", M, 3, D("30.00")),
            ("Jeugdlid", Q, 1, D("4.92")),
        ],
        key=lambda row: (row[0] != "Gewoon lid", ALL_FREQUENCIES.index(row[1])),
    )
    assert (preview.invoice_count, preview.membership_count, preview.total) == (7, 5, D("304.92"))
    run = run_invoices("2027-Q1", invoice_date=date(2027, 1, 1), actor=None)
    assert (run.invoice_count, run.total) == (preview.invoice_count, preview.total)
    summary = invoicing.run_summary(run)
    assert (summary.invoice_count, summary.total) == (run.invoice_count, run.total)
    assert preview_invoice_run("2027-Q1", date(2027, 1, 1)).is_empty


@pytest.mark.django_db
def test_the_command_previews_and_runs(lists, capsys):
    membership(MemberFactory(), plan_of("120.00", name="Gewoon lid"), start=date(2020, 1, 1))
    call_command("invoice_run", "--period", "2027-Q1", "--date", "2027-01-01", "--preview")
    assert "Gewoon lid" in capsys.readouterr().out and not Invoice.objects.exists()
    call_command("invoice_run", "--period", "2027-Q1", "--date", "2027-01-01")
    out = capsys.readouterr().out
    assert Invoice.objects.count() == 1 and "120.00" in out
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("invoice_run", "--period", "2027-Q9")


@pytest.mark.django_db
def test_the_background_job_runs_the_recorded_run(lists, cast):
    from kring.core.jobs import execute_job

    membership(MemberFactory(), plan_of("120.00"), start=date(2020, 1, 1))
    run = invoicing.start_invoice_run("2027-Q1", invoice_date=date(2027, 1, 1), actor=cast.treasurer)
    assert (run.status, run.job.kind, run.job.params["run"]) == ("running", "billing.invoice_run", run.pk)
    execute_job(run.job.pk)
    run.refresh_from_db()
    run.job.refresh_from_db()
    assert (run.status, run.created_by) == ("done", cast.treasurer)
    # The cast's three yearly memberships from 2024 (one ended) and the new one.
    assert run.invoice_count == Invoice.objects.count() == 3
    assert run.job.status == "succeeded" and run.job.result["run"] == run.pk
    assert Invoice.objects.filter(created_by=cast.treasurer).count() == 3


# --- consistency with dues_breakdown ---------------------------------------------------------------


def expected_invoices(ms: Membership, period_code: str, start_month: int = 1) -> dict:
    """What the run must create for `ms`, worked out one membership at a time with dues_breakdown."""
    period = parse_period(period_code)
    expected = {}
    if ms.status == Membership.Status.LAPSED or not ms.member.member_type.pays_dues:
        return expected
    if ms.status == Membership.Status.ENDED and ms.end_date is None:
        return expected
    for instalment in instalments_overlapping(
        period.start, period.end, ms.billing_frequency, start_month=start_month
    ):
        covered = covered_dates(instalment, ms.start_date, ms.end_date)
        if covered is None or not period.start <= covered[0] <= period.end:
            continue
        days = (covered[1] - covered[0]).days + 1
        text = (
            instalment.label
            if covered == (instalment.start, instalment.end)
            else f"{covered[0]:%d-%m-%Y} – {covered[1]:%d-%m-%Y}"
        )
        breakdown = dues_breakdown(ms, on_date=covered[0])
        lines = [
            (
                f"{line.label} {text}",
                prorated(
                    line.yearly_amount,
                    per_year=instalment.per_year,
                    covered_days=days,
                    instalment_days=instalment.days,
                ),
            )
            for line in breakdown.lines
        ]
        lines = [(label, amount) for label, amount in lines if amount]
        payers = sorted(ms.payers.all(), key=lambda payer: payer.pk)
        shares = [payer.share_percent for payer in payers] or [D("100")]
        split = [split_shares(amount, shares) for _label, amount in lines]
        for position in range(len(shares)):
            payer_lines = [
                (label, parts[position])
                for (label, _a), parts in zip(lines, split, strict=True)
                if parts[position]
            ]
            if sum((amount for _label, amount in payer_lines), D(0)) > 0:
                expected[(instalment.start, position)] = payer_lines
    return expected


def generated_memberships(rng: random.Random, count: int) -> list[Membership]:
    ensure_default_lists()
    types = list(MemberType.objects.all())
    plans = []
    for number in range(4):
        plan = plan_of(
            str(D(rng.randint(1000, 30000)) / 100),
            code=f"gen-{number}",
            name=f"Plan {number}",
            frequencies=[],
            vat_rate=D(rng.choice(["0", "0", "9", "21"])),
        )
        PlanPrice.objects.filter(plan=plan).delete()
        for frequency in ALL_FREQUENCIES:
            per_year = BillingFrequency.instalments_per_year(frequency)
            # Some frequencies cost a little more per year than the yearly price: a difference line.
            extra = D(rng.choice([0, 0, 50, 125, 333])) / 100
            PlanPrice.objects.create(
                plan=plan,
                frequency=frequency,
                instalment_price=(plan.yearly_price / per_year + extra).quantize(D("0.01")),
            )
        rules = [
            ("youth", "percent", "-25", 18, 26, "", "", ""),
            ("senior", "amount", "-12.50", 67, None, "", "", ""),
            ("student", "percent", "-33.33", None, None, "", "", ""),
            ("household", "percent", "-30", None, None, "", "", ""),
            ("first_year", "amount", "-20", None, None, "", "", ""),
            ("regional", "amount", "7.50", None, None, "BE, lu", "", ""),
            ("regional", "amount", "-3.01", None, None, "", "1000", "1999"),
            ("youth", "percent", "-10", None, 12, "", "", ""),
        ]
        for order, (kind, adjustment, value, low, high, countries, pc_from, pc_to) in enumerate(rules):
            if rng.random() < 0.7:
                PriceRule.objects.create(
                    plan=plan,
                    kind=kind,
                    label=f"{kind} {order}",
                    adjustment=adjustment,
                    value=D(value),
                    min_age=low,
                    max_age=high,
                    countries=countries,
                    postcode_from=pc_from,
                    postcode_to=pc_to,
                    sort_order=rng.randint(0, 3),
                )
        plans.append(plan)
    households = [Household.objects.create(name=f"H{n}") for n in range(5)]
    result = []
    for _number in range(count):
        country = rng.choice(["NL", "NL", "BE", "LU", "DE"])
        member = MemberFactory(
            member_type=rng.choice(types),
            country=country,
            postcode=rng.choice(["1000", "1999 ZZ", "2000 AB", "1500 AA", "", "0999"]),
            date_of_birth=rng.choice([None, date(1930, 2, 28), date(1960, 1, 1)])
            or date(rng.randint(1940, 2020), rng.randint(1, 12), rng.randint(1, 28)),
            student_until=rng.choice([None, date(2027, 2, 14), date(2030, 1, 1), date(2026, 1, 1)]),
            member_since=rng.choice([None, date(2026, 3, 1), date(2027, 2, 1), date(2010, 1, 1)]),
            household=rng.choice([None, *households]),
            household_role=rng.choice(["", "head", "partner", "child"]),
            payment_method=rng.choice(["transfer", "direct_debit"]),
        )
        start = rng.choice([date(2020, 1, 1), date(2026, 12, 1), date(2027, 1, 1)]) + timedelta(
            days=rng.randint(0, 120)
        )
        status = rng.choice(["active"] * 6 + ["pending", "cancelled", "ended", "lapsed"])
        end = None
        if status in ("cancelled", "ended") or rng.random() < 0.1:
            end = start + timedelta(days=rng.randint(0, 200))
        ms = membership(
            member,
            rng.choice(plans),
            start=start,
            frequency=rng.choice(ALL_FREQUENCIES),
            status=status,
            end=end,
        )
        if rng.random() < 0.2:
            shares = rng.choice([["100"], ["75", "25"], ["33.33", "33.33", "33.34"], ["50", "50"]])
            for share in shares:
                if rng.random() < 0.5:
                    MembershipPayer.objects.create(
                        membership=ms, kind="fund", external_name="Fonds", share_percent=D(share)
                    )
                else:
                    MembershipPayer.objects.create(
                        membership=ms, kind="guardian", payer_member=MemberFactory(), share_percent=D(share)
                    )
        result.append(ms)
    return result


@pytest.mark.django_db
@pytest.mark.parametrize("period, start_month", [("2027-Q1", 1), ("2027", 1), ("2027-H1", 7)])
def test_the_set_based_run_equals_dues_breakdown_membership_by_membership(period, start_month):
    rng = random.Random(f"{period}-{start_month}")
    memberships = generated_memberships(rng, 160)
    settings = BillingSettings.current()
    settings.billing_year_start_month = start_month
    settings.save()
    run = run_invoices(period, invoice_date=date(2027, 1, 1), actor=None, chunk_size=37)
    checked_lines = 0
    for ms in (
        Membership.objects.filter(pk__in=[m.pk for m in memberships])
        .select_related("plan", "member__member_type")
        .prefetch_related("plan__prices", "plan__price_rules", "payers")
    ):
        expected = expected_invoices(ms, period, start_month)
        invoices = {
            (invoice.dues_period_start, invoice.payer_position): invoice
            for invoice in Invoice.objects.filter(membership=ms).prefetch_related("lines")
        }
        assert set(invoices) == set(expected), ms
        for key, lines in expected.items():
            invoice = invoices[key]
            got = [(line.description, line.amount) for line in invoice.lines.all()]
            assert got == lines, (ms, key)
            assert invoice.total == sum(amount for _label, amount in lines)
            for line in invoice.lines.all():
                assert line.vat_amount == vat_included(line.amount, ms.plan.vat_rate), (
                    line.vat_rate,
                    ms.plan_id,
                    ms.plan.vat_rate,
                    ms.plan.name,
                )
                assert line.amount_excl_vat + line.vat_amount == line.amount
            assert invoice.total_excl_vat + invoice.vat_amount == invoice.total
            checked_lines += len(lines)
    assert run.invoice_count == Invoice.objects.count() > 50 and checked_lines > 100
    assert run.total == sum(Invoice.objects.values_list("total", flat=True))
    numbers_are_gapless(2027)


# --- two runs at once ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite runs one writer at a time anyway")
def test_two_runs_at_the_same_time_create_each_invoice_once_with_gapless_numbers():
    ensure_default_lists()
    plan = plan_of("120.00")
    memberships = [
        membership(MemberFactory(), plan, start=date(2020, 1, 1), frequency=rng_frequency)
        for rng_frequency in [Y, Q, M] * 40
    ]
    errors = []
    barrier = threading.Barrier(2)

    def run():
        try:
            barrier.wait()
            run_invoices("2027-Q1", invoice_date=date(2027, 1, 1), actor=None, chunk_size=10)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Invoice.objects.count() == 40 * (1 + 1 + 3) and len(memberships) == 120
    assert sum(InvoiceRun.objects.values_list("invoice_count", flat=True)) == 200
    assert set(InvoiceRun.objects.values_list("status", flat=True)) == {"done"}
    numbers_are_gapless(2027)


@pytest.mark.django_db
def test_a_new_billing_frequency_starts_at_the_next_instalment_not_yet_invoiced(lists):
    """A yearly payer who switches to quarterly mid-year is not invoiced twice for the same days."""
    plan = plan_of("120.00")
    yearly = membership(MemberFactory(), plan, start=date(2020, 3, 5), frequency=Y)
    run_invoices("2027-Q1", invoice_date=date(2027, 1, 1), actor=None)
    Membership.objects.filter(pk=yearly.pk).update(billing_frequency=Q)

    run_invoices("2027-Q2", invoice_date=date(2027, 4, 1), actor=None)
    run_invoices("2027-Q3", invoice_date=date(2027, 7, 1), actor=None)
    run_invoices("2028-Q1", invoice_date=date(2028, 1, 1), actor=None)

    got = [(i.dues_period_start, i.period_end, i.total) for i in invoices_of(yearly)]
    assert got == [
        (date(2027, 1, 1), date(2027, 12, 31), D("120.00")),
        (date(2028, 1, 1), date(2028, 3, 31), D("30.00")),
    ]
