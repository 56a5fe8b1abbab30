"""The member's pay pages pass axe (WCAG 2.2 AA) in a real browser, and the demo payment works there."""

import pytest

from kring.billing.links import pay_token
from kring.billing.models import Invoice
from kring.billing.tests.online_helpers import make_invoice, use_provider
from kring.conftest import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_pay_page_demo_checkout_and_return_page_are_accessible(page, cast):
    use_provider("local")
    invoice = make_invoice(cast.member)
    page.goto(f"/pay/{pay_token(invoice)}/")
    assert invoice.number in page.get_by_role("heading", level=1).inner_text()
    assert_accessible(page, context="pay page")
    page.locator("button.pay-button").click()
    page.wait_for_url("**/demo/**")
    assert_accessible(page, context="demo checkout")
    page.locator("button[value=paid]").click()
    page.wait_for_url("**/return/")
    assert_accessible(page, context="return page")
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    page.goto(f"/pay/{pay_token(invoice)}/")
    assert_accessible(page, context="paid invoice")


def test_pay_page_is_accessible_on_a_phone(page, cast):
    use_provider("none")
    invoice = make_invoice(cast.member)
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(f"/pay/{pay_token(invoice)}/")
    assert_accessible(page, context="pay page on a phone")
