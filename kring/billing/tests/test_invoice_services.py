"""Manual invoices, credit notes, payments and the payment states that follow from the money."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from kring.billing import services
from kring.billing.models import Invoice, Payment
from kring.billing.references import is_valid_belgian_reference, is_valid_dutch_reference
from kring.billing.services import LineInput
from kring.core.models import AuditEntry
from kring.members.tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def training_invoice(member, *, amount="50.00", vat_rate="0", actor=None, **kwargs):
    return services.create_invoice(
        member=member,
        lines=[LineInput("Cursus EHBO", Decimal(amount), vat_rate=Decimal(vat_rate))],
        actor=actor,
        invoice_date=kwargs.pop("invoice_date", date(2026, 11, 2)),
        **kwargs,
    )


def test_a_manual_invoice_gets_a_number_lines_a_snapshot_of_the_address_and_a_due_date():
    member = MemberFactory(first_name="Anna", name_prefix="van den", last_name="Berg", city="Utrecht")
    invoice = training_invoice(member)
    assert invoice.number == "2026-000001"
    assert (invoice.year, invoice.sequence) == (2026, 1)
    assert invoice.due_date == date(2026, 11, 16)
    assert invoice.recipient_name == member.display_name
    assert "UTRECHT" in invoice.recipient_address
    assert invoice.total == Decimal("50.00") and invoice.status == Invoice.Status.OPEN
    assert is_valid_dutch_reference(invoice.payment_reference)
    member.city = "Zwolle"
    member.save()
    invoice.refresh_from_db()
    assert "UTRECHT" in invoice.recipient_address
    assert AuditEntry.objects.filter(action="billing.invoice_created", member_id=member.pk).exists()


def test_numbers_are_consecutive_per_year_and_restart_in_a_new_year():
    member = MemberFactory()
    numbers = [training_invoice(member).number for _ in range(3)]
    assert numbers == ["2026-000001", "2026-000002", "2026-000003"]
    assert training_invoice(member, invoice_date=date(2027, 1, 2)).number == "2027-000001"


def test_belgian_members_get_a_belgian_structured_communication():
    invoice = training_invoice(MemberFactory(country="BE", postcode="1000", city="Brussel"))
    assert invoice.reference_kind == "be"
    assert is_valid_belgian_reference(invoice.payment_reference)


def test_vat_is_worked_out_of_the_price_per_line():
    invoice = training_invoice(MemberFactory(), amount="121.00", vat_rate="21")
    assert (invoice.total_excl_vat, invoice.vat_amount, invoice.total) == (
        Decimal("100.00"),
        Decimal("21.00"),
        Decimal("121.00"),
    )


@pytest.mark.parametrize(
    "line",
    [
        LineInput("", Decimal("10")),
        LineInput("Boete", Decimal("-10")),
        LineInput("Boete", Decimal("10"), quantity=Decimal("0")),
        LineInput("Boete", Decimal("10"), vat_rate=Decimal("121")),
    ],
)
def test_bad_lines_are_refused_and_nothing_is_created(line):
    with pytest.raises(ValidationError):
        services.create_invoice(member=MemberFactory(), lines=[line], actor=None)
    assert not Invoice.objects.exists()


def test_payments_move_the_invoice_from_open_to_partially_paid_to_paid():
    invoice = training_invoice(MemberFactory())
    services.record_payment(
        invoice, amount=Decimal("20"), paid_on=date(2026, 11, 12), method=Payment.Method.TRANSFER, actor=None
    )
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PARTIALLY_PAID and invoice.open_amount == Decimal("30.00")
    services.record_payment(
        invoice, amount=Decimal("30"), paid_on=date(2026, 11, 13), method=Payment.Method.TRANSFER, actor=None
    )
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID and invoice.open_amount == 0


def test_a_payment_with_the_same_external_id_is_recorded_once():
    invoice = training_invoice(MemberFactory())
    kwargs = dict(
        amount=Decimal("50"), paid_on=date(2026, 11, 12), method="online", actor=None, external_id="tr_1"
    )
    assert services.record_payment(invoice, **kwargs) is not None
    assert services.record_payment(invoice, **kwargs) is None
    invoice.refresh_from_db()
    assert invoice.amount_paid == Decimal("50.00") and invoice.payments.count() == 1


def test_a_reversal_reopens_a_paid_invoice():
    invoice = training_invoice(MemberFactory())
    services.record_payment(
        invoice, amount=Decimal("50"), paid_on=date(2026, 11, 12), method="direct_debit", actor=None
    )
    services.record_payment(
        invoice, amount=Decimal("-50"), paid_on=date(2026, 11, 20), method="reversal", actor=None
    )
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.REVERSED and invoice.open_amount == Decimal("50.00")


def test_crediting_an_open_invoice_in_full_closes_it():
    invoice = training_invoice(MemberFactory())
    note = services.create_credit_note(invoice, actor=None, reason="Cursus ging niet door")
    invoice.refresh_from_db()
    assert note.kind == Invoice.Kind.CREDIT_NOTE and note.total == Decimal("-50.00")
    assert note.credited_invoice == invoice and note.number == "2026-000002"
    assert invoice.status == Invoice.Status.CREDITED and invoice.open_amount == 0
    assert note.open_amount == 0 and note.status == Invoice.Status.PAID


def test_crediting_a_paid_invoice_leaves_money_to_refund_on_the_credit_note():
    invoice = training_invoice(MemberFactory())
    services.record_payment(
        invoice, amount=Decimal("50"), paid_on=date(2026, 11, 12), method="transfer", actor=None
    )
    note = services.create_credit_note(
        invoice, actor=None, reason="Halve cursus", lines=[LineInput("Halve cursus", Decimal("25"))]
    )
    assert note.open_amount == Decimal("-25.00") and note.status == Invoice.Status.OPEN
    services.record_payment(
        note, amount=Decimal("-25"), paid_on=date(2026, 11, 21), method="refund", actor=None
    )
    note.refresh_from_db()
    assert note.status == Invoice.Status.PAID


def test_a_credit_note_cannot_take_back_more_than_the_invoice():
    invoice = training_invoice(MemberFactory())
    services.create_credit_note(
        invoice, actor=None, reason="deels", lines=[LineInput("deels", Decimal("30"))]
    )
    with pytest.raises(ValidationError):
        services.create_credit_note(
            invoice, actor=None, reason="te veel", lines=[LineInput("x", Decimal("30"))]
        )


def test_write_off_needs_a_reason_and_stops_expecting_money():
    invoice = training_invoice(MemberFactory())
    with pytest.raises(ValidationError):
        services.write_off(invoice, actor=None, reason=" ")
    invoice = services.write_off(invoice, actor=None, reason="Lid overleden")
    assert invoice.status == Invoice.Status.WRITTEN_OFF and invoice.open_amount == 0


@pytest.mark.parametrize("cents", [7, 13, 99, 1001, 33333])
def test_vat_amounts_that_do_not_add_up_in_floating_point_are_stored(cents):
    """The 'total = excl. VAT + VAT' checks compare cents, also on SQLite (which computes in floats)."""
    invoice = training_invoice(MemberFactory(), amount=str(Decimal(cents) / 100), vat_rate="21")
    note = services.create_credit_note(invoice, actor=None, reason="Vergissing")
    assert invoice.total_excl_vat + invoice.vat_amount == invoice.total
    assert note.total == -invoice.total
