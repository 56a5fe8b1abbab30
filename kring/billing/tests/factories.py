"""Factories for invoices in tests: a numbered invoice with its lines and totals that add up.

    invoice = InvoiceFactory()                                   # one line "Contributie 2027" € 12,50
    invoice = InvoiceFactory(lines=[("Cursus", "121.00", "21")])  # (description, unit price incl. VAT, VAT %[, quantity])
    note = CreditNoteFactory(credited_invoice=invoice)           # credits the invoice's lines in full

Numbers come from a factory sequence (year 2027), not from the gapless counter; tests of the
numbering use kring.billing.services.
"""

from datetime import date, timedelta
from decimal import Decimal

import factory

from kring.billing.models import Invoice, InvoiceLine
from kring.billing.services import LineInput, member_address
from kring.members.tests.factories import MemberFactory

INVOICE_YEAR = 2027


def _totals(invoice: Invoice) -> None:
    lines = list(invoice.lines.all())
    invoice.total_excl_vat = sum((line.amount_excl_vat for line in lines), Decimal("0.00"))
    invoice.vat_amount = sum((line.vat_amount for line in lines), Decimal("0.00"))
    invoice.total = invoice.total_excl_vat + invoice.vat_amount
    invoice.save(update_fields=["total_excl_vat", "vat_amount", "total"])


class InvoiceLineFactory(factory.django.DjangoModelFactory):
    """A line built as the services build it: the unit price includes the VAT."""

    class Meta:
        model = InvoiceLine

    invoice = factory.SubFactory("kring.billing.tests.factories.InvoiceFactory", lines=[])
    position = factory.Sequence(lambda n: n + 1)
    description = "Contributie 2027"
    quantity = Decimal("1")
    unit_price = Decimal("12.50")
    vat_rate = Decimal("0")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        built = LineInput(
            description=kwargs["description"],
            unit_price=Decimal(kwargs["unit_price"]),
            quantity=Decimal(kwargs["quantity"]),
            vat_rate=Decimal(kwargs["vat_rate"]),
        ).build(kwargs["position"])
        built.invoice = kwargs["invoice"]
        built.save()
        return built


class InvoiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invoice
        skip_postgeneration_save = True

    year = INVOICE_YEAR
    sequence = factory.Sequence(lambda n: n + 1)
    number = factory.LazyAttribute(lambda o: f"{o.year}-{o.sequence:06d}")
    invoice_date = date(INVOICE_YEAR, 1, 5)
    due_date = factory.LazyAttribute(lambda o: o.invoice_date + timedelta(days=14))
    member = factory.SubFactory(MemberFactory)
    payer_member = factory.SelfAttribute("member")
    recipient_name = factory.LazyAttribute(lambda o: o.member.display_name)
    recipient_address = factory.LazyAttribute(lambda o: member_address(o.member))
    recipient_country = factory.LazyAttribute(lambda o: o.member.country or "NL")
    recipient_email = factory.LazyAttribute(lambda o: o.member.email)
    reference_kind = factory.LazyAttribute(lambda o: "be" if o.recipient_country == "BE" else "nl")

    @factory.post_generation
    def lines(invoice, create, extracted, **kwargs):
        """`lines=[(description, unit_price, vat_rate[, quantity]), …]`; default one line of € 12,50."""
        if not create:
            return
        specs = [("Contributie 2027", "12.50", "0")] if extracted is None else extracted
        for position, spec in enumerate(specs, start=1):
            description, unit_price, vat_rate, *rest = spec
            InvoiceLineFactory(
                invoice=invoice,
                position=position,
                description=description,
                unit_price=Decimal(unit_price),
                vat_rate=Decimal(vat_rate),
                quantity=Decimal(rest[0]) if rest else Decimal("1"),
            )
        if specs:
            _totals(invoice)


class CreditNoteFactory(InvoiceFactory):
    """A credit note taking back all lines of `credited_invoice` (negative amounts)."""

    kind = Invoice.Kind.CREDIT_NOTE
    credited_invoice = factory.SubFactory(InvoiceFactory)
    member = factory.SelfAttribute("credited_invoice.member")
    due_date = factory.SelfAttribute("invoice_date")
    description = "Opzegging per 1 april 2027"

    @factory.post_generation
    def lines(note, create, extracted, **kwargs):
        if not create:
            return
        for line in note.credited_invoice.lines.all():
            InvoiceLine.objects.create(
                invoice=note,
                position=line.position,
                description=line.description,
                quantity=line.quantity,
                unit_price=-line.unit_price,
                vat_rate=line.vat_rate,
                amount_excl_vat=-line.amount_excl_vat,
                vat_amount=-line.vat_amount,
                amount=-line.amount,
            )
        _totals(note)
