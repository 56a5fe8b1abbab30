"""The demo association's finances: its bank account, this year's dues invoices and most of them paid.

Loaded by `manage.py seed_demo` after the members. Everything is set-based (invoice runs, one
INSERT … SELECT for the payments), so it keeps up with large demo loads. The demo member
(lid@demo.kring.test) always keeps an open invoice, to try paying online with the demo provider.
"""

from dataclasses import dataclass, field
from datetime import date

from django.db import connection, transaction
from django.db.models import Exists, OuterRef

from kring.billing.invoicing import run_invoices
from kring.billing.models import BillingSettings, Invoice, Payment
from kring.members.demo import MEMBER_LOGIN
from kring.members.models import BankAccount, Member, PaymentMethod

DEMO_BILLING = {
    "iban": "NL81RABO0312345678",
    "bic": "RABONL2U",
    "account_holder": "Vereniging De Groene Kring",
    "payment_term_days": 14,
    "online_provider": BillingSettings.OnlineProvider.LOCAL,
}
# Of the invoices past their due date, this share is paid (by id, so the same every time).
PAID_PERCENT = 94


@dataclass
class FinanceDemoResult:
    runs: list[str] = field(default_factory=list)
    invoices: int = 0
    payments: int = 0


def seed_demo_finance(*, today: date, actor) -> FinanceDemoResult:
    result = FinanceDemoResult()
    settings = BillingSettings.current()
    for name, value in DEMO_BILLING.items():
        setattr(settings, name, value)
    settings.save()

    # Members with a bank account on file pay by direct debit, the others by transfer.
    Member.objects.filter(Exists(BankAccount.objects.filter(member=OuterRef("pk"), is_primary=True))).update(
        payment_method=PaymentMethod.DIRECT_DEBIT
    )

    for quarter in range(1, 5):
        start = date(today.year, 3 * quarter - 2, 1)
        if start > today:
            break
        run = run_invoices(f"{today.year}-Q{quarter}", invoice_date=start, actor=actor)
        result.runs.append(run.period)
        result.invoices += run.invoice_count
    result.payments = _pay_most_overdue_invoices(today)
    return result


def _pay_most_overdue_invoices(today: date) -> int:
    """Record payments for most invoices past their due date, as if the bank statements came in."""
    keep_open = list(
        Invoice.objects.filter(member__user__email=MEMBER_LOGIN)
        .order_by("-invoice_date", "-sequence")
        .values_list("pk", flat=True)[:1]
    ) or [0]
    table, payments = Invoice._meta.db_table, Payment._meta.db_table
    where = f"""
        kind = %s AND status = %s AND due_date < %s AND id %% 100 < %s
        AND id NOT IN ({", ".join(["%s"] * len(keep_open))})
    """
    where_params = [Invoice.Kind.INVOICE, Invoice.Status.OPEN, today, PAID_PERCENT, *keep_open]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {payments} (invoice_id, amount, paid_on, method, source, reference, note, created_at)
            SELECT id, total, due_date, CASE WHEN payment_method = %s THEN %s ELSE %s END,
                   %s, number, '', CURRENT_TIMESTAMP
            FROM {table} WHERE {where}
            """,
            [
                PaymentMethod.DIRECT_DEBIT,
                Payment.Method.DIRECT_DEBIT,
                Payment.Method.TRANSFER,
                Payment.Source.BANK_STATEMENT,
                *where_params,
            ],
        )
        paid = cursor.rowcount
        cursor.execute(
            f"UPDATE {table} SET amount_paid = total, status = %s WHERE {where}",
            [Invoice.Status.PAID, *where_params],
        )
    return paid
