"""The invoice list: filters (status with the derived "overdue", kind, method, period, plan, search),
capped counts, htmx, and a query count that does not grow with the invoices."""

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from kring.backoffice.tests.finance_data import invoice, many_invoices, year_2024
from kring.billing import queries, services
from kring.billing.models import Invoice
from kring.billing.references import format_reference
from kring.members.tests.factories import MemberFactory, PlanFactory, active_membership

URL = reverse("backoffice:finance_invoice_list")


@pytest.fixture
def treasurer_client(client, cast):
    client.force_login(cast.treasurer)
    return client


def numbers(response) -> list[str]:
    assert response.status_code == 200
    return [document.number for document in response.context["page"].invoices]


@pytest.fixture
def year(cast):
    return year_2024(cast.member, cast.other_member)


def test_all_invoices_and_credit_notes_newest_first(treasurer_client, year):
    listed = numbers(treasurer_client.get(URL))
    assert listed[0] == year.e.number and listed[-1] == year.f.number
    assert len(listed) == 8


@pytest.mark.parametrize(
    "status,expected",
    [
        ("overdue", ["b"]),
        ("partially_paid", []),  # B is partially paid but past its due date: it shows as overdue
        ("paid", ["credit_c", "a", "f"]),
        ("credited", ["c"]),
        ("written_off", ["e"]),
        ("in_collection", ["d"]),
        ("open", ["credit_a"]),  # a credit note with money still to refund is never overdue
    ],
)
def test_the_status_filter_matches_the_badge_shown(treasurer_client, year, status, expected):
    response = treasurer_client.get(URL, {"status": status})
    assert numbers(response) == [getattr(year, name).number for name in expected]
    for document in response.context["page"].invoices:
        assert document.payment_state == status


def test_an_open_invoice_before_its_due_date_is_open_not_overdue(treasurer_client, cast):
    fresh = invoice(cast.member, "25.00")
    assert numbers(treasurer_client.get(URL, {"status": "open"})) == [fresh.number]
    assert numbers(treasurer_client.get(URL, {"status": "overdue"})) == []
    old = invoice(cast.member, "25.00", on=timezone.localdate() - timedelta(days=60))
    assert numbers(treasurer_client.get(URL, {"status": "overdue"})) == [old.number]


def test_the_overdue_list_shows_the_longest_overdue_first(treasurer_client, cast):
    today = timezone.localdate()
    recent = invoice(cast.member, on=today - timedelta(days=30))
    oldest = invoice(cast.other_member, on=today - timedelta(days=90))
    html_response = treasurer_client.get(URL, {"status": "overdue"}, HTTP_ACCEPT_LANGUAGE="en")
    assert numbers(html_response) == [oldest.number, recent.number]
    html = html_response.content.decode()
    assert "Overdue invoices" in html
    assert 'class="badge badge--overdue">Overdue</span>' in html


def test_filter_on_kind_method_and_period(treasurer_client, cast, year):
    assert numbers(treasurer_client.get(URL, {"kind": "credit_note"})) == [
        year.credit_c.number,
        year.credit_a.number,
    ]
    in_march = {"date_from": "2024-03-01", "date_to": "2024-05-01"}
    assert numbers(treasurer_client.get(URL, in_march)) == [year.c.number, year.credit_a.number]
    Invoice.objects.filter(pk=year.d.pk).update(payment_method="direct_debit")
    assert numbers(treasurer_client.get(URL, {"payment_method": "direct_debit"})) == [year.d.number]


def test_filter_on_plan_goes_through_the_membership(treasurer_client, cast):
    plan = PlanFactory(name="Jeugd")
    member = MemberFactory()
    membership = active_membership(member, plan)
    dues = invoice(member, "30.00", membership=membership, dues_period_start=date(2024, 1, 1))
    invoice(member, "5.00")  # a manual invoice: no plan
    assert numbers(treasurer_client.get(URL, {"plan": plan.pk})) == [dues.number]


@pytest.mark.parametrize(
    "query",
    [
        lambda doc: doc.number,
        lambda doc: f"{doc.year}-{doc.sequence}",
        lambda doc: format_reference(doc.payment_reference),
        lambda doc: doc.payment_reference,
    ],
    ids=["number", "short number", "reference as printed", "reference digits"],
)
def test_search_finds_an_invoice_by_number_or_payment_reference(treasurer_client, year, query):
    assert numbers(treasurer_client.get(URL, {"q": query(year.b)})) == [year.b.number]


def test_search_finds_a_members_invoices_by_member_number_and_name(treasurer_client, cast, year):
    by_number = numbers(treasurer_client.get(URL, {"q": cast.other_member.member_number}))
    assert by_number == [year.e.number, year.b.number, year.f.number]
    assert numbers(treasurer_client.get(URL, {"q": "jansen"})) == by_number
    assert numbers(treasurer_client.get(URL, {"q": "nobody-at-all"})) == []


def test_search_finds_invoices_a_parent_pays(treasurer_client, cast):
    parent = MemberFactory(first_name="Ouder", last_name="Pietersen")
    child_invoice = invoice(
        cast.household_member, "15.00", payer_member=parent, recipient=services.member_recipient(parent)
    )
    assert child_invoice.recipient_name == parent.display_name
    assert numbers(treasurer_client.get(URL, {"q": "pietersen"})) == [child_invoice.number]
    assert numbers(treasurer_client.get(URL, {"member": parent.pk})) == [child_invoice.number]


def test_the_member_filter_names_the_member(treasurer_client, cast, year):
    response = treasurer_client.get(URL, {"member": cast.member.pk}, HTTP_ACCEPT_LANGUAGE="en")
    assert set(numbers(response)) == {
        year.a.number,
        year.c.number,
        year.d.number,
        year.credit_a.number,
        year.credit_c.number,
    }
    assert "Only the invoices of Anna van den Berg" in response.content.decode()


def test_a_wrong_filter_value_is_ignored_and_reported(treasurer_client, year):
    response = treasurer_client.get(URL, {"status": "nonsense", "date_from": "31-02-2024"})
    assert len(numbers(response)) == 8
    assert response.context["form"].errors.keys() == {"status", "date_from"}


def test_htmx_gets_only_the_results(treasurer_client, year):
    response = treasurer_client.get(URL, {"status": "overdue"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "<html" not in html and year.b.number in html
    assert 'hx-swap-oob="innerHTML:#result-count"' in html
    assert response["Vary"].count("HX-Request") == 1


def test_the_count_stops_at_the_limit(treasurer_client, cast, monkeypatch):
    from kring.backoffice.views import finance

    monkeypatch.setattr(finance, "COUNT_LIMIT", 5)
    many_invoices([cast.member], 7)
    response = treasurer_client.get(URL, HTTP_ACCEPT_LANGUAGE="en")
    assert response.context["page"].total is None
    assert "More than 5 invoices found. Showing 1 to 7." in response.content.decode()


def test_paging(treasurer_client, cast):
    many_invoices([cast.member, cast.other_member], 30)
    first = treasurer_client.get(URL).context["page"]
    second = treasurer_client.get(URL, {"page": "2"}).context["page"]
    assert (first.total, len(first.invoices), len(second.invoices)) == (30, 25, 5)
    assert second.has_previous and not second.has_next
    assert not {d.pk for d in first.invoices} & {d.pk for d in second.invoices}


def test_the_invoice_page_links_back_to_the_same_search(treasurer_client, year):
    treasurer_client.get(URL, {"status": "overdue"})
    html = treasurer_client.get(
        reverse("backoffice:finance_invoice_detail", args=[year.b.pk])
    ).content.decode()
    assert 'href="/backoffice/finance/invoices/?status=overdue"' in html


def test_the_list_of_30_invoices_runs_a_fixed_number_of_queries(
    treasurer_client, cast, django_assert_num_queries
):
    treasurer_client.get(URL, {"status": "overdue"})
    many_invoices([cast.member, cast.other_member], 3)
    # session, user, permissions (2), count, page of invoices, plans for the filter, association
    with django_assert_num_queries(8):
        treasurer_client.get(URL, {"status": "overdue"})
    many_invoices([cast.member, cast.other_member], 30)
    with django_assert_num_queries(8):
        response = treasurer_client.get(URL, {"status": "overdue"})
    assert len(response.context["page"].invoices) == 25


def test_invoice_list_query_is_the_same_as_the_page(cast, year):
    filters = queries.InvoiceFilters(status="overdue", today=date(2026, 1, 1))
    assert list(queries.invoice_list(filters)) == [year.b]


@pytest.mark.browser
def test_finance_pages_are_accessible_and_the_list_follows_the_typing(chromium, treasurer_client, cast):
    from kring.backoffice.tests.browser import open_browser_page
    from kring.conftest import assert_accessible

    data = year_2024(cast.member, cast.other_member)
    page = open_browser_page(chromium, treasurer_client)
    try:
        page.goto(reverse("backoffice:finance_overview") + "?year=2024")
        assert_accessible(page, context="finance overview")
        page.goto(URL)
        assert_accessible(page, context="invoice list")
        page.locator("#id_q").press_sequentially("jansen", delay=30)
        page.wait_for_function("document.querySelectorAll('.invoice-table tbody tr').length === 3")
        assert "q=jansen" in page.url
        page.select_option("#id_status", "overdue")
        page.wait_for_function("document.querySelectorAll('.invoice-table tbody tr').length === 1")
        page.goto(reverse("backoffice:finance_invoice_detail", args=[data.b.pk]))
        assert_accessible(page, context="invoice page")
        page.goto(reverse("backoffice:finance_invoice_new", args=[cast.member.pk]))
        assert_accessible(page, context="new invoice form")
        page.goto(reverse("backoffice:finance_credit_note_new", args=[data.b.pk]))
        assert_accessible(page, context="credit note form")
        page.goto(reverse("backoffice:finance_export"))
        assert_accessible(page, context="export page")
        page.goto(reverse("backoffice:finance_settings"))
        assert_accessible(page, context="settings page")
    finally:
        page.context.close()
