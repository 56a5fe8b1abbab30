"""Importing a bank statement and matching its transactions to invoices.

`import_statement(data, filename, actor=…)` stores a camt.053 or CODA file once (by its SHA-256:
the same file again changes nothing and says when it was imported), all or nothing, and then
matches each incoming transaction by the first rule that finds exactly one invoice:

a. end-to-end id: our collections carry the invoice number as end-to-end id (CollectionItem);
b. structured payment reference: the Strd reference, or any betalingskenmerk / +++OGM+++ in the
   text, read with `parse_payment_reference` → (year, sequence) → the invoice;
c. invoice number (with or without the prefix from the billing settings) in the description;
d. amount equal to the open amount of exactly one unsettled invoice whose recipient has a similar
   name, or whose member has a bank account with the same IBAN.

Matching is set-based: per chunk of transactions one query per rule, never one per transaction.
The money itself is recorded with `billing.services.record_payment` (the only way), with an
external id built from the account, the bank's entry reference, the amount and the date, so a
second statement that overlaps this one records nothing twice.

More than is open: the whole amount is recorded (money received is money received); the invoice
shows it as a negative open amount, to refund or to set against the next invoice.

A batch-booked collection without details (one amount for a whole batch) is settled per
collected invoice when the batch reference names one of our collection batches and the amounts
add up; otherwise it stays unmatched for the treasurer.

Returns (R-transactions) of our collections reverse the payment (`method="reversal"`), mark the
collected invoice returned with its reason code and apply the action of `kring.sepa.returns`;
the member is emailed once (after the import is committed).

After matching, a dues invoice paid in full activates its membership when that was still
pending (`activate_paid_memberships`). A return leaves the membership as it is: the invoice is
open again and the reminder schedule decides what follows.
"""

import hashlib
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from kring.billing.models import BillingSettings, Invoice, Payment
from kring.billing.references import parse_payment_reference
from kring.billing.services import money, record_payment, status_for
from kring.core.audit import audit_row, log_action
from kring.core.crypto import encrypt, fingerprint
from kring.core.fields import EncryptedTextField
from kring.core.models import AuditEntry
from kring.members.models import BankAccount, Membership
from kring.members.names import normalise
from kring.members.validation import mask_iban
from kring.sepa import returns
from kring.sepa.models import BankStatement, CollectionBatch, CollectionItem, Mandate, StatementTransaction
from kring.sepa.statements import ParsedStatement, parse_statement

CHUNK = 2000
CENT = Decimal("0.01")
Match = StatementTransaction.Match

_DUTCH_REFERENCE = re.compile(r"(?<!\d)(\d{4}[ .]?\d{4}[ .]?\d{4}[ .]?\d{4})(?!\d)")
_BELGIAN_REFERENCE = re.compile(
    r"[+*]{3}\s*(\d{3})\s*/\s*(\d{4})\s*/\s*(\d{5})\s*[+*]{3}|(?<!\d)(\d{12})(?!\d)"
)
_INVOICE_NUMBER = re.compile(r"(?<![0-9])((?:19|20)\d{2})\s?-\s?(\d{6})(?![0-9])")


@dataclass
class ImportResult:
    statement: BankStatement
    already_imported: bool = False
    transactions: int = 0
    matched: Counter = field(default_factory=Counter)  # per rule
    unmatched: int = 0
    returns: int = 0
    emails: int = 0

    @property
    def message(self) -> str:
        if self.already_imported:
            return _("This statement was already imported on %(date)s; nothing was changed.") % {
                "date": timezone.localtime(self.statement.imported_at).strftime("%d-%m-%Y %H:%M")
            }
        return _(
            "%(count)s transactions imported: %(matched)s matched, %(unmatched)s not matched, %(returns)s returns."
        ) % {
            "count": self.transactions,
            "matched": sum(self.matched.values()),
            "unmatched": self.unmatched,
            "returns": self.returns,
        }


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


def import_statement(data: bytes, filename: str = "", *, actor) -> ImportResult:
    """Import one statement file (camt.053 or CODA). Raises StatementFileError on a broken file."""
    sha = file_sha256(data)
    existing = BankStatement.objects.filter(file_sha256=sha).first()
    if existing is not None:
        return ImportResult(statement=existing, already_imported=True)
    parsed = parse_statement(data)
    try:
        with transaction.atomic():
            result = _import(parsed, sha, filename, actor)
    except IntegrityError:
        # The same file imported at the same moment by someone else.
        existing = BankStatement.objects.filter(file_sha256=sha).first()
        if existing is None:
            raise
        return ImportResult(statement=existing, already_imported=True)
    return result


def _import(parsed: ParsedStatement, sha: str, filename: str, actor) -> ImportResult:
    statement = BankStatement.objects.create(
        format=parsed.format,
        format_version=parsed.version[:30],
        file_name=(filename or "")[-200:],
        file_sha256=sha,
        account_iban=parsed.account_iban[:34],
        statement_id=parsed.statement_id[:100],
        period_from=parsed.period_from,
        period_to=parsed.period_to,
        opening_balance=None if parsed.opening_balance is None else parsed.opening_balance.quantize(CENT),
        closing_balance=None if parsed.closing_balance is None else parsed.closing_balance.quantize(CENT),
        entry_count=len(parsed.transactions),
        imported_by=_user(actor),
    )
    rows = [_row(statement, position, t) for position, t in enumerate(parsed.transactions, start=1)]
    result = ImportResult(statement=statement, transactions=len(rows))
    ctx = _Context(statement, actor, result, BillingSettings.current().invoice_number_prefix)
    # Matched before they are stored, so each row is written once. Credits first, returns after:
    # a return in the same statement then finds the collection's payment.
    credits = [t for t in rows if t.amount > 0 and not t.is_return]
    for start in range(0, len(credits), CHUNK):
        _match_credits(ctx, credits[start : start + CHUNK])
    back = [t for t in rows if t.is_return]
    for start in range(0, len(back), CHUNK):
        _match_returns(ctx, back[start : start + CHUNK])
    _insert(StatementTransaction, rows)
    activate_paid_memberships(ctx.paid_invoice_ids, actor=actor)
    matched = sum(1 for t in rows if t.match not in (Match.UNMATCHED, Match.IGNORED))
    result.unmatched = sum(1 for t in rows if t.match == Match.UNMATCHED)
    BankStatement.objects.filter(pk=statement.pk).update(matched_count=matched)
    statement.matched_count = matched
    log_action(
        "sepa.statement_imported",
        actor=actor,
        obj=statement,
        note=f"{statement.get_format_display()} {statement.statement_id}: {len(rows)} / {matched}",
    )
    emails = ctx.emails
    if emails:
        transaction.on_commit(lambda: _send(emails))
    result.emails = len(emails)
    return result


def _row(statement: BankStatement, position: int, t) -> StatementTransaction:
    iban = t.counterparty_iban
    return StatementTransaction(
        statement=statement,
        position=position,
        entry_reference=t.entry_reference,
        booking_date=t.booking_date,
        value_date=t.value_date,
        amount=t.amount.quantize(CENT),
        is_return=t.is_return,
        return_reason=t.return_reason,
        bank_transaction_code=t.bank_transaction_code,
        end_to_end_id=t.end_to_end_id,
        mandate_reference=t.mandate_reference,
        batch_reference=t.batch_reference,
        remittance=t.remittance,
        structured_reference=t.structured_reference,
        counterparty_name=t.counterparty_name,
        counterparty_iban=iban,
        counterparty_iban_masked=mask_iban(iban) if iban else "",
        counterparty_iban_fingerprint=fingerprint(iban) if iban else "",
    )


# --- recording the money ----------------------------------------------------------------------


class _AsInvoice:
    """What audit_row needs of an invoice: its model name and pk."""

    _meta = Invoice._meta

    def __init__(self, pk):
        self.pk = pk


DUPLICATE = "duplicate"


@dataclass
class PaymentEntry:
    invoice_id: int
    amount: Decimal
    paid_on: date
    method: str
    external_id: str
    reference: str = ""
    note: str = ""


def record_statement_payments(entries: list[PaymentEntry], *, actor) -> list:
    """Record many bank-statement payments at once, with exactly the rules of
    `billing.services.record_payment` (idempotent on external_id, no payment in the future, none
    on a written-off invoice, no reversal of more than was paid, in-collection → open → status
    from the money, reversal → reversed, one audit entry per payment) — but in one query per step
    for the whole list instead of several per payment. Per entry it returns the Payment, DUPLICATE
    (recorded before, e.g. from an overlapping statement) or None (refused: left for the treasurer).
    Call inside a transaction; the invoices are locked for it.
    """
    if not entries:
        return []
    # The invoices, locked, as plain rows (status_for reads only these fields).
    fields = ("pk", "kind", "status", "total", "amount_paid", "amount_credited", "member_id")
    invoices = {
        row[0]: SimpleNamespace(**dict(zip(fields, row, strict=True)))
        for row in Invoice.objects.select_for_update()
        .filter(pk__in={e.invoice_id for e in entries})
        .values_list(*fields)
    }
    existing = set(
        Payment.objects.filter(external_id__in=[e.external_id for e in entries]).values_list(
            "external_id", flat=True
        )
    )
    latest = timezone.localdate() + timedelta(days=1)
    # Labels looked up once, not per payment (as record_payment writes them in its audit note).
    paid_label = _("paid")
    method_labels = {value: str(label) for value, label in Payment.Method.choices}
    source_label = str(Payment.Source.BANK_STATEMENT.label)
    recorded_by = _user(actor)
    out: list = []
    payments: list[Payment] = []
    audit: list[AuditEntry] = []
    touched: dict[int, Invoice] = {}
    for entry in entries:
        invoice = invoices[entry.invoice_id]
        amount = money(entry.amount)
        if entry.external_id in existing:
            out.append(DUPLICATE)
            continue
        refused = (
            amount == 0
            or entry.paid_on > latest
            or (invoice.status == Invoice.Status.WRITTEN_OFF and amount > 0)
            or (amount < 0 and -amount > invoice.amount_paid and invoice.kind == Invoice.Kind.INVOICE)
        )
        if refused:
            out.append(None)
            continue
        existing.add(entry.external_id)
        payment = Payment(
            invoice_id=invoice.pk,
            amount=amount,
            paid_on=entry.paid_on,
            method=entry.method,
            source=Payment.Source.BANK_STATEMENT,
            reference=entry.reference[:200],
            external_id=entry.external_id,
            note=entry.note,
            recorded_by=recorded_by,
        )
        before = invoice.amount_paid
        invoice.amount_paid = before + amount
        if entry.method == Payment.Method.REVERSAL:
            invoice.status = Invoice.Status.REVERSED
        elif invoice.status == Invoice.Status.IN_COLLECTION and amount > 0:
            invoice.status = Invoice.Status.OPEN
        invoice.status = status_for(invoice)
        touched[invoice.pk] = invoice
        payments.append(payment)
        out.append(payment)
        audit.append(
            AuditEntry(
                **audit_row(
                    "billing.payment_recorded",
                    actor=actor,
                    obj=_AsInvoice(invoice.pk),
                    member_id=invoice.member_id,
                    changes=[{"field": paid_label, "before": str(before), "after": str(invoice.amount_paid)}],
                    note=f"{method_labels[entry.method]} {amount} ({source_label})",
                )
            )
        )
    _insert(Payment, payments)
    ids = [p.external_id for p in payments]
    for start in range(0, len(ids), CHUNK):
        found = dict(
            Payment.objects.filter(external_id__in=ids[start : start + CHUNK]).values_list(
                "external_id", "pk"
            )
        )
        for payment in payments[start : start + CHUNK]:
            payment.pk = found[payment.external_id]
    if touched:
        _update_invoices([(i.pk, i.amount_paid, i.status) for i in touched.values()])
    _insert(AuditEntry, audit)
    return out


def _update_invoices(values: list[tuple]) -> None:
    """Set (pk, amount_paid, status) of many invoices: one UPDATE … FROM (VALUES …) per 500 on
    PostgreSQL, one executemany on SQLite (no round trips there)."""
    table = connection.ops.quote_name(Invoice._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.executemany(
                f"UPDATE {table} SET amount_paid = %s, status = %s WHERE id = %s",
                [(paid, status, pk) for pk, paid, status in values],
            )
            return
        for start in range(0, len(values), 500):
            part = values[start : start + 500]
            marks = ", ".join(["(%s::bigint, %s::numeric, %s::varchar)"] * len(part))
            cursor.execute(
                f"UPDATE {table} AS i SET amount_paid = v.paid, status = v.status "
                f"FROM (VALUES {marks}) AS v(id, paid, status) WHERE i.id = v.id",
                [value for row in part for value in row],
            )


def _insert(model, objs: list) -> None:
    """Write new rows of `model` with multi-row INSERTs, values converted once per
    field kind (encrypted fields encrypted, JSON dumped, date-times adapted). Django's bulk_create
    prepares every value of every row through the field API, which for the 100,000 rows of a big
    statement costs more than the whole rest of the import. No ids are returned."""
    if not objs:
        return
    ops = connection.ops
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    converters = []
    for f in fields:
        if isinstance(f, EncryptedTextField):
            converters.append(lambda v: encrypt(v) if v else v)
        elif isinstance(f, models.JSONField):
            converters.append(json.dumps)
        elif isinstance(f, models.DateTimeField):
            converters.append(ops.adapt_datetimefield_value)
        else:
            converters.append(None)
    attnames = [f.attname for f in fields]
    plan = list(zip(attnames, converters, strict=True))
    table = ops.quote_name(model._meta.db_table)
    columns = ", ".join(ops.quote_name(f.column) for f in fields)
    row_marks = "(" + ", ".join(["%s"] * len(fields)) + ")"
    rows = [
        tuple(getattr(o, name) if convert is None else convert(getattr(o, name)) for name, convert in plan)
        for o in objs
    ]
    if connection.vendor == "postgresql":
        # COPY: the rows stream in one go, without binding hundreds of thousands of parameters.
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    # Many rows per statement, below SQLite's limit on parameters.
    per_statement = 500
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            part = rows[start : start + per_statement]
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {', '.join([row_marks] * len(part))}",
                [value for row in part for value in row],
            )


# --- matching ---------------------------------------------------------------------------------


def external_id(statement: BankStatement, tx: StatementTransaction) -> str:
    """Stable across overlapping statements: the bank's reference + amount + date; else file + position."""
    if tx.entry_reference:
        return f"stmt:{statement.account_iban}:{tx.entry_reference}:{tx.amount}:{tx.booking_date}"[:200]
    return f"stmt:{statement.file_sha256[:16]}:{tx.position}"


def _references(tx: StatementTransaction) -> list[tuple[int, int]]:
    found = []
    texts = [tx.structured_reference] if tx.structured_reference else []
    remittance = tx.remittance or ""
    texts += _DUTCH_REFERENCE.findall(remittance)
    for groups in _BELGIAN_REFERENCE.findall(remittance):
        texts.append("".join(groups))
    for text in texts:
        parsed = parse_payment_reference(text)
        if parsed:
            found.append(parsed)
    return found


def _numbers_in_text(text: str, prefix: str) -> list[str]:
    numbers = [f"{prefix}{year}-{sequence}" for year, sequence in _INVOICE_NUMBER.findall(text or "")]
    if prefix:
        # Also without the prefix: invoices numbered before the prefix was set.
        numbers += [f"{year}-{sequence}" for year, sequence in _INVOICE_NUMBER.findall(text or "")]
    return numbers


def _similar(name_a: str, name_b: str) -> bool:
    a, b = normalise(name_a), normalise(name_b)
    if not a or not b:
        return False
    if a == b:
        return True
    words_a = {w for w in a.split() if len(w) > 2}
    words_b = {w for w in b.split() if len(w) > 2}
    if not words_a or not words_b:
        return False
    return words_a <= words_b or words_b <= words_a


def _open(invoice: Invoice) -> Decimal:
    return invoice.total - invoice.amount_paid - invoice.amount_credited


@dataclass
class _Context:
    statement: BankStatement
    actor: object
    result: ImportResult
    prefix: str
    paid_invoice_ids: set = field(default_factory=set)
    emails: list = field(default_factory=list)
    used: set = field(default_factory=set)  # invoices taken by rule d in this import


def _send(messages) -> None:
    for message in messages:
        message.send(fail_silently=True)


_LIGHT = ("pk", "number", "status", "year", "sequence")


def _light(queryset) -> list[SimpleNamespace]:
    """Invoices as plain rows: matching needs only these fields (model instances cost more than the query)."""
    return [SimpleNamespace(**dict(zip(_LIGHT, row, strict=True))) for row in queryset.values_list(*_LIGHT)]


def _invoices_by_number(numbers, *, light: bool = False) -> dict:
    if not numbers:
        return {}
    invoices = Invoice.objects.filter(number__in=set(numbers), kind=Invoice.Kind.INVOICE)
    return {i.number: i for i in (_light(invoices) if light else invoices)}


def _match_credits(ctx: _Context, txs: list[StatementTransaction]) -> None:
    """One query per rule for the whole chunk, then the money in one batch."""
    found: dict[int, tuple[Invoice, str, CollectionItem | None]] = {}
    # a) end-to-end id = invoice number (and our collection items).
    e2e = {t.end_to_end_id for t in txs if t.end_to_end_id}
    items = {}
    if e2e:
        for item in (
            CollectionItem.objects.filter(end_to_end_id__in=e2e).select_related("invoice").order_by("pk")
        ):
            items[item.end_to_end_id] = item  # the latest attempt wins
    by_number = _invoices_by_number(e2e - set(items), light=True)
    for index, t in enumerate(txs):
        item = items.get(t.end_to_end_id)
        if item is not None:
            found[index] = (item.invoice, Match.END_TO_END, item)
        elif t.end_to_end_id in by_number:
            found[index] = (by_number[t.end_to_end_id], Match.END_TO_END, None)
    # Batches without details: settle the collection batch they name.
    for index, t in enumerate(txs):
        if index not in found and t.batch_reference and not t.end_to_end_id:
            _settle_batch(ctx, t)
    rest = [i for i, t in enumerate(txs) if i not in found and t.match == Match.UNMATCHED]
    # b) structured payment reference.
    refs = {i: _references(txs[i]) for i in rest}
    pairs = {pair for values in refs.values() for pair in values}
    if pairs:
        by_pair = {
            (i.year, i.sequence): i
            for i in _light(
                Invoice.objects.filter(
                    kind=Invoice.Kind.INVOICE,
                    year__in={y for y, _s in pairs},
                    sequence__in={s for _y, s in pairs},
                )
            )
        }
        for i in rest:
            for pair in refs[i]:
                if pair in by_pair:
                    found[i] = (by_pair[pair], Match.REFERENCE, None)
                    break
    rest = [i for i in rest if i not in found]
    # c) invoice number in the description.
    numbers = {
        i: _numbers_in_text(f"{txs[i].remittance} {txs[i].structured_reference}", ctx.prefix) for i in rest
    }
    by_number = _invoices_by_number({n for values in numbers.values() for n in values}, light=True)
    for i in rest:
        for number in numbers[i]:
            if number in by_number:
                found[i] = (by_number[number], Match.INVOICE_NUMBER, None)
                break
    rest = [i for i in rest if i not in found]
    # d) amount + name or IBAN, only when exactly one invoice qualifies.
    if rest:
        _match_amount_and_name(ctx, txs, rest, found)
    # Record the money, in statement order.
    order = sorted(found)
    entries = []
    for i in order:
        t = txs[i]
        invoice, rule, item = found[i]
        collected = item is not None or (
            rule == Match.END_TO_END and invoice.status == Invoice.Status.IN_COLLECTION
        )
        entries.append(
            PaymentEntry(
                invoice_id=invoice.pk,
                amount=t.amount,
                paid_on=t.booking_date,
                method=Payment.Method.DIRECT_DEBIT if collected else Payment.Method.TRANSFER,
                external_id=external_id(ctx.statement, t),
                reference=t.end_to_end_id or t.structured_reference or t.remittance,
            )
        )
    outcomes = record_statement_payments(entries, actor=ctx.actor)
    collected_items = []
    for i, outcome in zip(order, outcomes, strict=True):
        if outcome is None:
            continue  # refused (e.g. written off): stays for the treasurer
        t = txs[i]
        invoice, rule, item = found[i]
        t.match, t.invoice_id = rule, invoice.pk
        if outcome != DUPLICATE:
            t.payment = outcome
            ctx.paid_invoice_ids.add(invoice.pk)
        if item is not None and item.status == CollectionItem.Status.PENDING:
            collected_items.append(item.pk)
        ctx.result.matched[rule] += 1
    if collected_items:
        CollectionItem.objects.filter(pk__in=collected_items).update(status=CollectionItem.Status.COLLECTED)


def _match_amount_and_name(ctx: _Context, txs, rest: list[int], found: dict) -> None:
    amounts = {txs[i].amount for i in rest}
    candidates = defaultdict(list)
    for invoice in (
        Invoice.objects.filter(kind=Invoice.Kind.INVOICE, status__in=Invoice.UNSETTLED_STATUSES)
        .annotate(open=F("total") - F("amount_paid") - F("amount_credited"))
        .filter(open__in=amounts)
        .only(
            "pk", "number", "total", "amount_paid", "amount_credited", "recipient_name",
            "member_id", "payer_member_id", "status", "membership_id", "kind",
        )
    ):  # fmt: skip
        candidates[_open(invoice)].append(invoice)
    fingerprints = {
        txs[i].counterparty_iban_fingerprint for i in rest if txs[i].counterparty_iban_fingerprint
    }
    owners = defaultdict(set)
    if fingerprints:
        for fp, member_id in BankAccount.objects.filter(iban_fingerprint__in=fingerprints).values_list(
            "iban_fingerprint", "member_id"
        ):
            owners[fp].add(member_id)
    for i in rest:
        t = txs[i]
        members = owners.get(t.counterparty_iban_fingerprint, set())
        fitting = [
            invoice
            for invoice in candidates.get(t.amount, [])
            if invoice.pk not in ctx.used
            and (
                (t.counterparty_name and _similar(t.counterparty_name, invoice.recipient_name))
                or (members and (invoice.payer_member_id in members or invoice.member_id in members))
            )
        ]
        if len(fitting) == 1:
            ctx.used.add(fitting[0].pk)
            found[i] = (fitting[0], Match.AMOUNT_AND_NAME, None)


class _NotWhole(Exception):
    pass


def _settle_batch(ctx: _Context, t: StatementTransaction) -> None:
    """A collection booked as one sum: settle each of its invoices when the batch and amount fit.

    Our PmtInfId is the batch's message id plus "-1", "-2" …; a bank may also give the message id."""
    reference = t.batch_reference
    message_id = reference.rsplit("-", 1)[0] if re.search(r"-\d+$", reference) else reference
    batch = CollectionBatch.objects.filter(Q(message_id=reference) | Q(message_id=message_id)).first()
    if batch is None:
        return
    items = list(batch.items.filter(status=CollectionItem.Status.PENDING).order_by("pk"))
    if not items or sum((i.amount for i in items), Decimal("0")) != t.amount:
        return
    base = external_id(ctx.statement, t)
    entries = [
        PaymentEntry(
            invoice_id=item.invoice_id,
            amount=item.amount,
            paid_on=t.booking_date,
            method=Payment.Method.DIRECT_DEBIT,
            external_id=f"{base}:{item.end_to_end_id}"[:200],
            reference=item.end_to_end_id,
        )
        for item in items
    ]
    try:
        with transaction.atomic():  # all of the batch or none of it
            if None in record_statement_payments(entries, actor=ctx.actor):
                raise _NotWhole
    except _NotWhole:
        return  # e.g. an invoice was written off meanwhile: the treasurer looks at it
    ctx.paid_invoice_ids.update(item.invoice_id for item in items)
    CollectionItem.objects.filter(pk__in=[i.pk for i in items]).update(status=CollectionItem.Status.COLLECTED)
    CollectionBatch.objects.filter(pk=batch.pk).update(status=CollectionBatch.Status.SETTLED)
    # One transaction, many payments: the transaction keeps no single payment or invoice.
    t.match = Match.END_TO_END
    ctx.result.matched[Match.END_TO_END] += 1


def _match_returns(ctx: _Context, txs: list[StatementTransaction]) -> None:
    txs = [t for t in txs if t.end_to_end_id]
    if not txs:
        return
    e2e = {t.end_to_end_id for t in txs}
    items = {}
    for item in (
        CollectionItem.objects.filter(end_to_end_id__in=e2e)
        .select_related("invoice", "mandate")
        .order_by("pk")
    ):
        items[item.end_to_end_id] = item
    by_number = _invoices_by_number(e2e - set(items))
    for t in txs:
        item = items.get(t.end_to_end_id)
        invoice = item.invoice if item is not None else by_number.get(t.end_to_end_id)
        if invoice is None:
            continue
        invoice.refresh_from_db(fields=["amount_paid", "status"])
        amount = -t.amount if t.amount < 0 else t.amount
        payment = None
        if invoice.amount_paid >= amount:
            payment = record_payment(
                invoice,
                amount=-amount,
                paid_on=t.booking_date,
                method=Payment.Method.REVERSAL,
                actor=ctx.actor,
                source=Payment.Source.BANK_STATEMENT,
                reference=f"{t.return_reason} {t.end_to_end_id}".strip(),
                external_id=external_id(ctx.statement, t),
                note=str(returns.action_for(t.return_reason).meaning),
            )
            if payment is None:  # recorded from an earlier, overlapping statement
                t.match, t.invoice = Match.END_TO_END, invoice
                continue
        elif invoice.status == Invoice.Status.IN_COLLECTION:
            # Returned before its collection was booked to us: nothing to reverse, open again.
            Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.REVERSED)
        else:
            continue
        _apply_return(ctx, t, invoice, item)
        t.match, t.invoice, t.payment = Match.END_TO_END, invoice, payment
        ctx.result.returns += 1
        ctx.result.matched[Match.END_TO_END] += 1
        ctx.paid_invoice_ids.discard(invoice.pk)


def _apply_return(
    ctx: _Context, t: StatementTransaction, invoice: Invoice, item: CollectionItem | None
) -> None:
    code = t.return_reason or ""
    entry = returns.action_for(code)
    attempt = 1
    if item is not None:
        attempt = item.attempt
        CollectionItem.objects.filter(pk=item.pk).update(
            status=CollectionItem.Status.RETURNED, return_reason=code[:4]
        )
    mandate = item.mandate if item is not None else None
    if mandate is None and invoice.payer_member_id:
        mandate = Mandate.objects.filter(
            member_id=invoice.payer_member_id, status=Mandate.Status.ACTIVE
        ).first()
    if entry.action in (returns.SUSPEND_MANDATE, returns.DECEASED) and mandate is not None:
        if mandate.status == Mandate.Status.ACTIVE:
            Mandate.objects.filter(pk=mandate.pk).update(
                status=Mandate.Status.SUSPENDED, end_reason=f"{code}: {entry.meaning}"[:200]
            )
    if entry.action in (returns.REMIND_AND_FLAG, returns.DECEASED) or (
        entry.action == returns.RETRY_ONCE and attempt >= 2
    ):
        Invoice.objects.filter(pk=invoice.pk, flagged_at__isnull=True).update(flagged_at=timezone.now())
    log_action(
        "sepa.direct_debit_returned",
        actor=ctx.actor,
        obj=invoice,
        member_id=invoice.member_id,
        changes=[{"field": _("reason code"), "before": "", "after": code}],
        note=f"{code}: {entry.action_label}",
    )
    message = returns.member_email(invoice, code, attempt=attempt)
    if message is not None:
        ctx.emails.append(message)


# --- manual matching --------------------------------------------------------------------------


def match_manually(tx: StatementTransaction, *, invoice_number: str, actor) -> StatementTransaction:
    """The treasurer says which invoice an unmatched incoming transaction pays."""
    with transaction.atomic():
        tx = StatementTransaction.objects.select_for_update().select_related("statement").get(pk=tx.pk)
        if tx.match != Match.UNMATCHED:
            raise ValidationError(_("This transaction was already dealt with."))
        if tx.amount <= 0:
            raise ValidationError(_("Only money received can be matched to an invoice."))
        number = (invoice_number or "").strip()
        invoice = Invoice.objects.filter(number__iexact=number, kind=Invoice.Kind.INVOICE).first()
        if invoice is None:
            prefix = BillingSettings.current().invoice_number_prefix
            invoice = Invoice.objects.filter(
                number__iexact=prefix + number, kind=Invoice.Kind.INVOICE
            ).first()
        if invoice is None:
            raise ValidationError(
                {"invoice_number": _("There is no invoice with number %(number)s.") % {"number": number}}
            )
        payment = record_payment(
            invoice,
            amount=tx.amount,
            paid_on=tx.booking_date,
            method=Payment.Method.TRANSFER,
            actor=actor,
            source=Payment.Source.BANK_STATEMENT,
            reference=(tx.remittance or tx.structured_reference)[:200],
            external_id=external_id(tx.statement, tx),
            note=_("Matched by hand"),
        )
        tx.match, tx.invoice, tx.payment = Match.MANUAL, invoice, payment
        tx.save(update_fields=["match", "invoice", "payment"])
        BankStatement.objects.filter(pk=tx.statement_id).update(matched_count=F("matched_count") + 1)
        activate_paid_memberships({invoice.pk}, actor=actor)
    return tx


def ignore_transaction(tx: StatementTransaction, *, actor) -> StatementTransaction:
    """Not for an invoice (a gift, a bank cost, a supplier): taken off the unmatched list."""
    with transaction.atomic():
        tx = StatementTransaction.objects.select_for_update().get(pk=tx.pk)
        if tx.match != Match.UNMATCHED:
            raise ValidationError(_("This transaction was already dealt with."))
        tx.match = Match.IGNORED
        tx.save(update_fields=["match"])
        log_action(
            "sepa.transaction_ignored", actor=actor, obj=tx.statement, note=f"{tx.position} {tx.amount}"
        )
    return tx


# --- membership follows the money -------------------------------------------------------------


def activate_paid_memberships(invoice_ids, *, actor, today: date | None = None) -> int:
    """A pending membership whose dues invoice is paid becomes active. Returns how many did."""
    from kring.members.services import change_membership_status

    ids = list(invoice_ids)
    if not ids:
        return 0
    count = 0
    today = today or timezone.localdate()
    for start in range(0, len(ids), CHUNK):
        memberships = Membership.objects.filter(
            status=Membership.Status.PENDING,
            pk__in=Invoice.objects.filter(
                pk__in=ids[start : start + CHUNK], status=Invoice.Status.PAID, membership__isnull=False
            ).values("membership_id"),
        )
        for membership in memberships:
            change_membership_status(
                membership,
                Membership.Status.ACTIVE,
                actor=actor,
                effective_date=today,
                note=_("Dues paid (bank statement)"),
            )
            count += 1
    return count
