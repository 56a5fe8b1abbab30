"""Making a collection file: the open invoices of members paying by direct debit → one pain.008.

    result = collect(date(2027, 1, 25), actor=user)      # CollectionResult
    result.batch.xml                                       # the file, stored in the database

Everything happens in one transaction: the invoices are locked (`select_for_update(skip_locked)`:
a second run at the same time skips them), the file is built and validated (XSD + Kring's own
rules; any problem aborts and nothing is stored), then the batch, its items, the invoices (in
collection) and the mandates (last collected) are written. The unique constraint on open
collection items is the last guard: an invoice is never in two open batches.

Invoices that cannot be collected are returned with the reason, never silently skipped.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from kring.billing.models import Invoice
from kring.core.audit import log_action
from kring.members.models import Member
from kring.members.validation import check_iban
from kring.sepa import pain008
from kring.sepa.charset import is_sepa_identifier
from kring.sepa.models import (
    CollectionBatch,
    CollectionItem,
    CreditorSettings,
    Mandate,
    MandateAmendment,
    PreNotification,
)
from kring.sepa.returns import may_collect_again
from kring.sepa.services import (
    EEA_COUNTRIES,
    check_collection_date,
    debtor_condition,
    expire_unused_mandates,
    expiry_cutoff,
)

# An invoice returned this many times (e.g. twice for insufficient funds) is not collected again.
MAX_ATTEMPTS = 2


@dataclass(frozen=True)
class Uncollectable:
    invoice_id: int
    number: str
    name: str
    amount: Decimal
    reason: str


@dataclass
class CollectionResult:
    collection_date: date
    version: str
    batch: CollectionBatch | None = None
    count: int = 0
    total: Decimal = Decimal("0.00")
    uncollectable: list[Uncollectable] = field(default_factory=list)

    @property
    def xml(self) -> bytes:
        return bytes(self.batch.xml) if self.batch else b""


@dataclass
class _Candidate:
    invoice: Invoice
    mandate: Mandate | None
    amount: Decimal


def earliest_collection_date(*, now: datetime | None = None, creditor=None) -> date:
    """The first date a file made now can ask for: the bank's cut-off and lead time."""
    from kring.sepa import business_days

    now = timezone.localtime(now) if now else timezone.localtime()
    creditor = creditor or CreditorSettings.current()
    return business_days.earliest_collection_date(
        now=now.replace(tzinfo=None), lead_days=creditor.lead_days, cutoff_time=creditor.submission_cutoff
    )


def creditor_info(creditor: CreditorSettings) -> pain008.CreditorInfo:
    missing = [
        label
        for label, value in (
            (_("creditor name"), creditor.creditor_name),
            (_("creditor identifier"), creditor.creditor_identifier),
            (_("IBAN to collect on"), creditor.iban),
        )
        if not value
    ]
    if missing:
        raise ValidationError(
            _("Fill in the direct-debit settings first: %(missing)s.")
            % {"missing": ", ".join(map(str, missing))}
        )
    return pain008.CreditorInfo(
        name=creditor.creditor_name,
        iban=creditor.iban,
        creditor_id=creditor.creditor_identifier,
        bic=creditor.bic or None,
    )


def candidate_invoices():
    """The invoices a collection looks at (before mandates and notices are checked)."""
    return Invoice.objects.filter(debtor_condition()).exclude(
        pk__in=CollectionItem.objects.filter(status=CollectionItem.Status.PENDING).values("invoice_id")
    )


def _notice_met(invoices: list[Invoice], collection_date: date, days: int) -> set[int]:
    """Ids of invoices whose debtor was told in time about this collection date."""
    deadline = collection_date - timedelta(days=days)
    ids = [invoice.pk for invoice in invoices]
    told = set()
    for start in range(0, len(ids), 2000):
        told.update(
            PreNotification.objects.filter(
                invoice_id__in=ids[start : start + 2000],
                collection_date=collection_date,
                sent_at__isnull=False,
                sent_at__date__lte=deadline,
            ).values_list("invoice_id", flat=True)
        )
    for invoice in invoices:
        # The invoice itself serves as notice when it was emailed in time with this date on it.
        if (
            invoice.collection_date == collection_date
            and invoice.email_sent_at is not None
            and timezone.localdate(invoice.email_sent_at) <= deadline
        ):
            told.add(invoice.pk)
    return told


def _reason_for_mandate(mandate: Mandate | None, collection_date: date) -> str | None:
    if mandate is None:
        return _("no mandate")
    if mandate.status == Mandate.Status.REVOKED:
        return _("mandate %(reference)s was revoked") % {"reference": mandate.reference}
    if mandate.status == Mandate.Status.SUSPENDED:
        return _("mandate %(reference)s is suspended (new details needed)") % {"reference": mandate.reference}
    if mandate.status == Mandate.Status.EXPIRED:
        return _("mandate %(reference)s expired (unused for 36 months)") % {"reference": mandate.reference}
    if (mandate.last_collected_on or mandate.signed_on) <= expiry_cutoff(collection_date):
        return _("mandate %(reference)s expired (unused for 36 months)") % {"reference": mandate.reference}
    if mandate.kind == Mandate.Kind.ONE_OFF and mandate.last_collected_on is not None:
        return _("one-off mandate %(reference)s was used already") % {"reference": mandate.reference}
    if mandate.signed_on > collection_date:
        return _("mandate %(reference)s is signed after the collection date") % {
            "reference": mandate.reference
        }
    return None


def _debtor_address(member: Member, iban_country: str) -> pain008.PostalAddress | None:
    """Only for a debtor's bank outside the EEA, and then structured."""
    if iban_country in EEA_COUNTRIES:
        return None
    country = member.country if member.country and member.country != "XX" else iban_country
    building = f"{member.house_number or ''}{member.house_number_addition and ' ' + member.house_number_addition or ''}"
    return pain008.PostalAddress(
        town=member.city or "",
        country=country,
        street=member.street or "",
        building_number=building.strip(),
        postcode=member.postcode or "",
    )


def _lock(queryset):
    if connection.features.has_select_for_update_skip_locked:
        return queryset.select_for_update(skip_locked=True, of=("self",))
    return queryset.select_for_update()


def collect(
    collection_date: date,
    *,
    actor,
    version: str | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    job=None,
    now: datetime | None = None,
) -> CollectionResult:
    """Make the collection file for `collection_date` (see the module's description)."""
    creditor = CreditorSettings.current()
    version = version or creditor.message_version or pain008.PAIN_008_08
    if version not in pain008.VERSIONS:
        raise ValidationError(_("Unknown file version “%(version)s”.") % {"version": version})
    info = creditor_info(creditor)
    check_collection_date(collection_date, earliest=earliest_collection_date(now=now, creditor=creditor))
    expire_unused_mandates(timezone.localdate(now) if now else None)
    result = CollectionResult(collection_date=collection_date, version=version)
    report = progress or (lambda done, total, label: None)

    with transaction.atomic():
        invoices = list(
            _lock(candidate_invoices().select_related("payer_member").order_by("year", "sequence"))
        )
        total_count = len(invoices)
        report(0, total_count, _("Checking invoices"))
        payer_ids = {invoice.payer_member_id for invoice in invoices}
        mandates: dict[int, Mandate] = {}
        for mandate in Mandate.objects.filter(member_id__in=payer_ids).order_by("signed_on", "pk"):
            current = mandates.get(mandate.member_id)
            # The active mandate wins; otherwise the most recent one explains why not.
            if current is None or current.status != Mandate.Status.ACTIVE:
                mandates[mandate.member_id] = mandate
        told = _notice_met(invoices, collection_date, creditor.prenotification_days)
        returned = dict(
            CollectionItem.objects.filter(invoice_id__in=[i.pk for i in invoices])
            .values("invoice_id")
            .annotate(n=Count("pk", filter=Q(status=CollectionItem.Status.RETURNED)))
            .values_list("invoice_id", "n")
        )
        # The reason code of each invoice's latest return decides whether it may be collected again.
        last_return_code = dict(
            CollectionItem.objects.filter(
                invoice_id__in=[i.pk for i in invoices], status=CollectionItem.Status.RETURNED
            )
            .order_by("invoice_id", "pk")
            .values_list("invoice_id", "return_reason")
        )
        valid_iban: dict[int, str | None] = {}
        chosen: list[_Candidate] = []
        for invoice in invoices:
            amount = invoice.open_amount
            if amount <= 0:
                continue
            mandate = mandates.get(invoice.payer_member_id)
            reason = _reason_for_mandate(mandate, collection_date)
            if reason is None and mandate.pk not in valid_iban:
                try:
                    valid_iban[mandate.pk] = check_iban(mandate.iban).iban
                except ValidationError:
                    valid_iban[mandate.pk] = None
            if reason is None and valid_iban[mandate.pk] is None:
                reason = _("the IBAN of mandate %(reference)s is not valid") % {
                    "reference": mandate.reference
                }
            if reason is None and invoice.pk not in told:
                reason = _("the member was not told in time (notice period of %(days)d days not met)") % {
                    "days": creditor.prenotification_days
                }
            if reason is None and returned.get(invoice.pk, 0) >= MAX_ATTEMPTS:
                reason = _("returned %(count)d times already") % {"count": returned[invoice.pk]}
            code = last_return_code.get(invoice.pk)
            if reason is None and code is not None and not may_collect_again(code):
                reason = _("returned with reason %(code)s, which is not collected again") % {"code": code}
            if reason is None and not is_sepa_identifier(invoice.number):
                reason = _("the invoice number cannot be used as a SEPA reference")
            if reason is not None:
                result.uncollectable.append(
                    Uncollectable(invoice.pk, invoice.number, invoice.recipient_name, amount, reason)
                )
                continue
            chosen.append(_Candidate(invoice, mandate, amount))
        if not chosen:
            report(total_count, total_count, _("Nothing to collect"))
            return result

        pending = {}
        for amendment in MandateAmendment.objects.filter(
            mandate_id__in={c.mandate.pk for c in chosen}, carried_in__isnull=True
        ).order_by("changed_at", "pk"):
            first = pending.setdefault(amendment.mandate_id, [amendment.original_iban, False])
            first[1] = first[1] or amendment.other_bank

        report(0, len(chosen), _("Making the file"))
        debits = []
        for candidate in chosen:
            invoice, mandate = candidate.invoice, candidate.mandate
            iban = valid_iban[mandate.pk]
            amendment = None
            if mandate.pk in pending:
                original, other_bank = pending[mandate.pk]
                amendment = pain008.Amendment(
                    original_debtor_iban=original if original and original != iban else None,
                    other_bank=other_bank,
                )
            debits.append(
                pain008.Debit(
                    end_to_end_id=invoice.number,
                    amount=candidate.amount,
                    mandate_id=mandate.reference,
                    mandate_signed_on=mandate.signed_on,
                    debtor_name=mandate.debtor_name or invoice.recipient_name,
                    debtor_iban=iban,
                    debtor_bic=mandate.bic or None,
                    sequence_type="OOFF" if mandate.kind == Mandate.Kind.ONE_OFF else "RCUR",
                    remittance=f"{invoice.number} {invoice.description}".strip(),
                    amendment=amendment,
                    debtor_address=_debtor_address(invoice.payer_member, iban[:2]),
                )
            )
        created_at = timezone.localtime(now) if now else timezone.localtime()
        batch = CollectionBatch.objects.create(
            message_id=uuid.uuid4().hex,
            collection_date=collection_date,
            version=version,
            job=job,
            created_by=actor if getattr(actor, "pk", None) else None,
            created_at=created_at,
        )
        batch.message_id = f"KRING-DD-{collection_date:%Y%m%d}-{batch.pk}"
        xml = pain008.build_pain008(
            info,
            pain008.Batch(
                message_id=batch.message_id,
                created_at=created_at.replace(tzinfo=None),
                collection_date=collection_date,
                debits=debits,
            ),
            version=version,
        )
        report(len(chosen) // 2, len(chosen), _("Checking the file"))
        problems = pain008.validate(xml, version)
        if problems:
            raise ValidationError(
                _("The collection file did not pass the checks; nothing was made. %(problems)s")
                % {"problems": "; ".join(str(p) for p in problems[:10])}
            )
        total = sum((c.amount for c in chosen), Decimal("0.00"))
        batch.xml = xml
        batch.debit_count = len(chosen)
        batch.total = total
        batch.save(update_fields=["message_id", "xml", "debit_count", "total"])

        CollectionItem.objects.bulk_create(
            [
                CollectionItem(
                    batch=batch,
                    invoice_id=c.invoice.pk,
                    mandate_id=c.mandate.pk,
                    amount=c.amount,
                    end_to_end_id=c.invoice.number,
                    sequence_type=debit.sequence_type,
                    attempt=returned.get(c.invoice.pk, 0) + 1,
                )
                for c, debit in zip(chosen, debits, strict=True)
            ],
            batch_size=2000,
        )
        ids = [c.invoice.pk for c in chosen]
        mandate_ids = list({c.mandate.pk for c in chosen})
        for start in range(0, len(ids), 2000):
            Invoice.objects.filter(pk__in=ids[start : start + 2000]).update(
                status=Invoice.Status.IN_COLLECTION, collection_date=collection_date
            )
        for start in range(0, len(mandate_ids), 2000):
            part = mandate_ids[start : start + 2000]
            Mandate.objects.filter(pk__in=part).update(last_collected_on=collection_date)
            MandateAmendment.objects.filter(mandate_id__in=part, carried_in__isnull=True).update(
                carried_in=batch
            )
        log_action(
            "sepa.collection_made",
            actor=actor,
            obj=batch,
            note=_("%(count)d debits, total %(total)s, collection date %(date)s, %(version)s")
            % {"count": len(chosen), "total": total, "date": collection_date.isoformat(), "version": version},
        )
        report(len(chosen), len(chosen), _("Done"))
    result.batch = batch
    result.count = len(chosen)
    result.total = total
    return result


def preview(collection_date: date) -> CollectionResult:
    """What `collect` would do, without locking or writing: counts, total and the uncollectable list."""
    creditor = CreditorSettings.current()
    result = CollectionResult(collection_date=collection_date, version=creditor.message_version)
    try:
        with transaction.atomic():
            real = collect(collection_date, actor=None)
            result.count, result.total, result.uncollectable = real.count, real.total, real.uncollectable
            raise _Rollback
    except _Rollback:
        pass
    return result


class _Rollback(Exception):
    pass
