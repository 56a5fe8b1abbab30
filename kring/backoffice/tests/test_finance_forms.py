"""Making a manual invoice and a credit note in the back office: valid input makes exactly one
document; wrong input makes nothing and says what to fix."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from kring.backoffice.tests.finance_data import invoice, pay
from kring.billing import services
from kring.billing.models import BillingSettings, Invoice
from kring.billing.services import LineInput
from kring.core.models import AuditEntry
from kring.members.tests.factories import MemberFactory


@pytest.fixture
def treasurer_client(client, cast):
    client.force_login(cast.treasurer)
    return client


def new_url(member) -> str:
    return reverse("backoffice:finance_invoice_new", args=[member.pk])


def credit_url(document) -> str:
    return reverse("backoffice:finance_credit_note_new", args=[document.pk])


def line_data(*lines, total_forms=6) -> dict:
    data = {
        "lines-TOTAL_FORMS": str(total_forms),
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "6",
    }
    for index in range(total_forms):
        description, quantity, price, vat = lines[index] if index < len(lines) else ("", "1", "", "0")
        data.update(
            {
                f"lines-{index}-description": description,
                f"lines-{index}-quantity": quantity,
                f"lines-{index}-unit_price": price,
                f"lines-{index}-vat_rate": vat,
            }
        )
    return data


def invoice_post(**fields) -> dict:
    lines = fields.pop("lines", [("Cursus EHBO", "1", "75,00", "0")])
    return {
        "description": "EHBO voorjaar",
        "invoice_date": "2026-03-02",
        "due_date": "",
        "payer_number": "",
        "vat_exemption_text": "",
        **line_data(*lines),
        **fields,
    }


# --- manual invoice --------------------------------------------------------------------------


def test_the_form_shows_empty_lines_and_the_usual_payment_term(treasurer_client, cast):
    BillingSettings.objects.update_or_create(
        pk=BillingSettings.current().pk, defaults={"payment_term_days": 30}
    )
    response = treasurer_client.get(new_url(cast.member), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    html = response.content.decode()
    assert "New invoice for Anna van den Berg" in html
    assert "30 days after the invoice date" in html
    assert len(response.context["formset"].forms) == 6
    assert 'for="id_lines-0-unit_price"' in html  # every input has a label


def test_a_manual_invoice_with_two_lines_and_vat(treasurer_client, cast):
    data = invoice_post(
        lines=[("Cursus EHBO", "1", "121,00", "21"), ("Lesboek", "2", "10.90", "9")],
        due_date="2026-03-31",
    )
    response = treasurer_client.post(new_url(cast.member), data)
    document = Invoice.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "backoffice:finance_invoice_detail", args=[document.pk]
    )
    assert document.member == cast.member and document.payer_member == cast.member
    assert (document.invoice_date, document.due_date) == (date(2026, 3, 2), date(2026, 3, 31))
    assert document.total == Decimal("142.80") and document.vat_amount == Decimal("22.80")
    assert [line.description for line in document.lines.all()] == ["Cursus EHBO", "Lesboek"]
    assert document.created_by == cast.treasurer
    assert AuditEntry.objects.filter(action="billing.invoice_created", object_id=str(document.pk)).exists()


def test_an_empty_due_date_follows_the_payment_term(treasurer_client, cast):
    treasurer_client.post(new_url(cast.member), invoice_post())
    document = Invoice.objects.get()
    assert document.due_date == date(2026, 3, 2) + timedelta(days=BillingSettings.current().payment_term_days)
    assert document.total == Decimal("75.00")


def test_another_member_can_pay_the_invoice(treasurer_client, cast):
    parent = MemberFactory(first_name="Piet", last_name="Ouder", city="Zwolle")
    treasurer_client.post(
        new_url(cast.household_member), invoice_post(payer_number=parent.member_number.lower())
    )
    document = Invoice.objects.get()
    assert document.member == cast.household_member and document.payer_member == parent
    assert document.recipient_name == parent.display_name and "ZWOLLE" in document.recipient_address


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"lines": []}, None),  # no line at all
        ({"lines": [("", "1", "10", "0")]}, "lines-0-description"),
        ({"lines": [("Boete", "1", "", "0")]}, "lines-0-unit_price"),
        ({"lines": [("Boete", "1", "tien", "0")]}, "lines-0-unit_price"),
        ({"lines": [("Boete", "1", "-10", "0")]}, "lines-0-unit_price"),
        ({"lines": [("Boete", "0", "10", "0")]}, "lines-0-quantity"),
        ({"lines": [("Boete", "1", "10", "121")]}, "lines-0-vat_rate"),
        ({"due_date": "2026-03-01"}, "due_date"),  # before the invoice date: the service says no
        ({"invoice_date": ""}, "invoice_date"),
        ({"description": ""}, "description"),
        ({"payer_number": "X999"}, "payer_number"),
    ],
)
def test_wrong_input_makes_nothing_and_says_what_to_fix(treasurer_client, cast, changes, field):
    response = treasurer_client.post(new_url(cast.member), invoice_post(**changes))
    assert response.status_code == 200
    assert not Invoice.objects.exists()
    problems = response.context["problems"]
    assert problems
    if field:
        assert any(anchor == f"id_{field}" for anchor, _message in problems), problems
    assert "form-errors" in response.content.decode()


def test_the_member_page_links_to_a_new_invoice_and_lists_the_invoices(client, cast):
    document = invoice(cast.member, "12.50")
    client.force_login(cast.treasurer)
    html = client.get(reverse("backoffice:member_detail", args=[cast.member.pk])).content.decode()
    assert new_url(cast.member) in html
    assert reverse("backoffice:finance_invoice_detail", args=[document.pk]) in html
    assert "€\u00a012,50" in html
    client.force_login(cast.secretariat)  # may read invoices, not make them
    html = client.get(reverse("backoffice:member_detail", args=[cast.member.pk])).content.decode()
    assert new_url(cast.member) not in html and document.number in html
    client.force_login(cast.board)  # no finance at all
    response = client.get(reverse("backoffice:member_detail", args=[cast.member.pk]))
    assert response.context["invoices"] is None
    assert reverse("backoffice:finance_invoice_detail", args=[document.pk]) not in response.content.decode()


def test_the_member_page_shows_ten_invoices_and_links_to_the_rest(client, cast):
    for n in range(11):
        invoice(cast.member, f"{n + 1}.00")
    client.force_login(cast.treasurer)
    response = client.get(reverse("backoffice:member_detail", args=[cast.member.pk]))
    assert len(response.context["invoices"]) == 10 and response.context["more_invoices"]
    assert f"/backoffice/finance/invoices/?member={cast.member.pk}" in response.content.decode()


# --- credit note ------------------------------------------------------------------------------


def credit_post(document, how="whole", amounts=(), **fields) -> dict:
    count = document.lines.count()
    data = {
        "how": how,
        "reason": "Cursus afgelast",
        "credit_date": timezone.localdate().isoformat(),
        "credit-TOTAL_FORMS": str(count),
        "credit-INITIAL_FORMS": "0",
        "credit-MIN_NUM_FORMS": "0",
        "credit-MAX_NUM_FORMS": "1000",
        **fields,
    }
    for index in range(count):
        data[f"credit-{index}-amount"] = amounts[index] if index < len(amounts) else ""
    return data


@pytest.fixture
def two_lines(cast):
    return services.create_invoice(
        member=cast.member,
        lines=[
            LineInput("Cursus", Decimal("100.00")),
            LineInput("Boek", Decimal("21.00"), vat_rate=Decimal("21")),
        ],
        actor=None,
    )


def test_the_credit_form_lists_the_lines(treasurer_client, two_lines):
    response = treasurer_client.get(credit_url(two_lines), HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 200 and "Cursus" in html and "Boek" in html
    assert f"Credit invoice {two_lines.number}" in html


def test_credit_the_whole_invoice(treasurer_client, cast, two_lines):
    response = treasurer_client.post(credit_url(two_lines), credit_post(two_lines))
    assert response.status_code == 302
    note = Invoice.objects.get(kind=Invoice.Kind.CREDIT_NOTE)
    assert note.credited_invoice == two_lines and note.total == Decimal("-121.00")
    assert note.description == "Cursus afgelast" and note.created_by == cast.treasurer
    two_lines.refresh_from_db()
    assert two_lines.status == Invoice.Status.CREDITED


def test_credit_part_of_some_lines(treasurer_client, two_lines):
    response = treasurer_client.post(
        credit_url(two_lines), credit_post(two_lines, how="part", amounts=["", "10,50"])
    )
    assert response.status_code == 302
    note = Invoice.objects.get(kind=Invoice.Kind.CREDIT_NOTE)
    (line,) = note.lines.all()
    assert (line.description, line.vat_rate, line.amount) == ("Boek", Decimal("21.00"), Decimal("-10.50"))
    two_lines.refresh_from_db()
    assert two_lines.status == Invoice.Status.PARTIALLY_PAID and two_lines.open_amount == Decimal("110.50")


@pytest.mark.parametrize(
    "how,amounts,fields,anchor",
    [
        ("part", [], {}, ""),  # part, but no amount anywhere
        ("part", ["150"], {}, "id_credit-0-amount"),  # more than the line
        ("part", ["abc"], {}, "id_credit-0-amount"),
        ("whole", [], {"reason": ""}, "id_reason"),
        ("", [], {}, "id_how_0"),
    ],
)
def test_wrong_credit_input_makes_nothing(treasurer_client, two_lines, how, amounts, fields, anchor):
    response = treasurer_client.post(
        credit_url(two_lines), credit_post(two_lines, how=how, amounts=amounts, **fields)
    )
    assert response.status_code == 200
    assert not Invoice.objects.filter(kind=Invoice.Kind.CREDIT_NOTE).exists()
    problems = response.context["problems"]
    assert problems and any(found == anchor for found, _message in problems), problems


def test_after_a_partial_credit_only_amounts_per_line_are_offered(treasurer_client, two_lines):
    services.create_credit_note(
        two_lines, actor=None, reason="Eerder", lines=[LineInput("Cursus", Decimal("100"))]
    )
    response = treasurer_client.get(credit_url(two_lines))
    assert [value for value, _label in response.context["form"].fields["how"].choices] == ["part"]
    response = treasurer_client.post(credit_url(two_lines), credit_post(two_lines))  # "whole"
    assert response.status_code == 200 and "how" in response.context["form"].errors
    # more than is left: the service refuses
    response = treasurer_client.post(
        credit_url(two_lines), credit_post(two_lines, how="part", amounts=["100", ""])
    )
    assert response.status_code == 200 and response.context["problems"]
    assert Invoice.objects.filter(kind=Invoice.Kind.CREDIT_NOTE).count() == 1
    response = treasurer_client.post(
        credit_url(two_lines), credit_post(two_lines, how="part", amounts=["", "21"])
    )
    assert response.status_code == 302
    two_lines.refresh_from_db()
    assert two_lines.status == Invoice.Status.CREDITED


def test_a_credited_invoice_or_a_credit_note_cannot_be_credited(treasurer_client, cast):
    paid = invoice(cast.member, "10.00")
    pay(paid, "10.00", timezone.localdate())
    note = services.create_credit_note(paid, actor=None, reason="Terug")
    response = treasurer_client.get(credit_url(note))
    assert response.status_code == 302 and response["Location"] == reverse(
        "backoffice:finance_invoice_detail", args=[note.pk]
    )
    whole = invoice(cast.member, "10.00")
    services.create_credit_note(whole, actor=None, reason="Weg")
    assert treasurer_client.post(credit_url(whole), {"how": "whole", "reason": "x"}).status_code == 302
    assert Invoice.objects.filter(kind=Invoice.Kind.CREDIT_NOTE).count() == 2


def test_form_pages_query_counts(treasurer_client, cast, two_lines, django_assert_max_num_queries):
    treasurer_client.get(new_url(cast.member))
    # session, user, permissions (2), member, billing settings, association
    with django_assert_max_num_queries(7):
        treasurer_client.get(new_url(cast.member))
    # session, user, permissions (2), invoice, lines, credit notes, association
    with django_assert_max_num_queries(8):
        treasurer_client.get(credit_url(two_lines))
