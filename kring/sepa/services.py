"""Commands of the SEPA loop: the creditor settings, mandates (paper and electronic, revoking,
expiry after 36 months unused, IBAN amendments) and the pre-notification of a collection.

The collection file itself is made in `kring.sepa.collection`.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from kring.billing.models import Invoice
from kring.core.audit import audit_row, diff, log_action, snapshot
from kring.core.models import AuditEntry
from kring.members.models import Member, PaymentMethod
from kring.members.validation import check_iban, format_iban, mask_iban
from kring.sepa import business_days
from kring.sepa.charset import check_sepa_identifier, to_sepa_identifier
from kring.sepa.creditor import check_creditor_identifier
from kring.sepa.models import CreditorSettings, Mandate, MandateAmendment, PreNotification

logger = logging.getLogger(__name__)

# The countries of the European Economic Area: a debtor's bank elsewhere (Switzerland, the UK,
# Monaco, …) needs the debtor's address in the collection file.
EEA_COUNTRIES = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK IS LI NO".split()
)
EXPIRY_MONTHS = 36


def _user(actor):
    return actor if getattr(actor, "pk", None) else None


def months_before(day: date, months: int) -> date:
    """The same day `months` earlier (the last day of the month when that month is shorter)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def expiry_cutoff(on_date: date) -> date:
    """A mandate last used (or, never used, signed) on or before this day has expired on `on_date`."""
    return months_before(on_date, EXPIRY_MONTHS)


# --- creditor settings ----------------------------------------------------------------------------

CREDITOR_FIELDS = (
    "creditor_name",
    "creditor_identifier",
    "iban",
    "bic",
    "message_version",
    "submission_cutoff",
    "lead_days",
    "prenotification_days",
)


def update_creditor_settings(*, actor, **fields) -> CreditorSettings:
    """Change the association's direct-debit settings; identifier, IBAN and BIC are checked, every
    change is audited."""
    unknown = set(fields) - set(CREDITOR_FIELDS)
    if unknown:
        raise ValueError(f"Not a direct-debit setting: {', '.join(sorted(unknown))}")
    cleaned = {name: value.strip() if isinstance(value, str) else value for name, value in fields.items()}
    errors: dict[str, list] = {}
    if cleaned.get("creditor_identifier"):
        try:
            cleaned["creditor_identifier"] = check_creditor_identifier(cleaned["creditor_identifier"])
        except ValidationError as error:
            errors["creditor_identifier"] = error.messages
    if cleaned.get("iban"):
        try:
            checked = check_iban(cleaned["iban"], cleaned.get("bic", "") or "")
        except ValidationError as error:
            errors["bic" if error.code == "bic" else "iban"] = error.messages
        else:
            cleaned["iban"], cleaned["bic"] = checked.iban, checked.bic
    elif cleaned.get("bic") and "iban" in cleaned:
        errors["bic"] = [_("Fill in the IBAN that goes with this BIC, or leave the BIC empty.")]
    if "creditor_name" in cleaned and len(cleaned["creditor_name"] or "") > 70:
        errors["creditor_name"] = [_("The name may have at most 70 characters.")]
    version = cleaned.get("message_version")
    if version is not None and version not in CreditorSettings.MessageVersion.values:
        errors["message_version"] = [_("Choose one of the file versions.")]
    lead = cleaned.get("lead_days")
    if lead is not None and not 0 <= lead <= 15:
        errors["lead_days"] = [_("The lead time lies between 0 and 15 business days.")]
    notice = cleaned.get("prenotification_days")
    if notice is not None and not 1 <= notice <= 60:
        errors["prenotification_days"] = [_("The pre-notification period lies between 1 and 60 days.")]
    cutoff = cleaned.get("submission_cutoff")
    if cutoff is not None and not isinstance(cutoff, time):
        errors["submission_cutoff"] = [_("Enter a time, e.g. 14:00.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        current = CreditorSettings.current()
        current = CreditorSettings.objects.select_for_update().get(pk=current.pk)
        before = snapshot(current, cleaned)
        for name, value in cleaned.items():
            setattr(current, name, value)
        changes = diff(before, snapshot(current, cleaned))
        if changes:
            current.save(update_fields=[change["field"] for change in changes])
            log_action("sepa.creditor_settings_changed", actor=actor, obj=current, changes=changes)
    return current


# --- mandates -------------------------------------------------------------------------------------


def new_mandate_reference(member: Member) -> str:
    """A reference not used yet: KRING-<member number>-<n>, in the SEPA identifier rules."""
    base = to_sepa_identifier(f"KRING-{member.member_number}", 30, fallback=f"KRING-{member.pk}")
    number = Mandate.objects.filter(member=member).count() + 1
    while True:
        reference = to_sepa_identifier(f"{base}-{number}", 35)
        if not Mandate.objects.filter(reference=reference).exists():
            return reference
        number += 1


def _check_reference(reference: str) -> str:
    try:
        reference = check_sepa_identifier(reference.strip())
    except ValidationError as error:
        raise ValidationError({"reference": error.messages}) from None
    if Mandate.objects.filter(reference=reference).exists():
        raise ValidationError({"reference": [_("This mandate reference is already in use.")]})
    return reference


def _end_active_mandate(member: Member, *, actor, reason: str) -> Mandate | None:
    current = Mandate.objects.select_for_update().filter(member=member, status=Mandate.Status.ACTIVE).first()
    if current is None:
        return None
    current.status = Mandate.Status.REVOKED
    current.ended_on = timezone.localdate()
    current.end_reason = reason[:200]
    current.save(update_fields=["status", "ended_on", "end_reason"])
    log_action(
        "sepa.mandate_revoked",
        actor=actor,
        obj=current,
        member_id=member.pk,
        changes=[{"field": "status", "before": "active", "after": "revoked"}],
        note=f"{current.reference}: {reason}",
    )
    return current


def _create_mandate(member: Member, *, reference, signed_on, iban, bic, debtor_name, kind, actor, **extra):
    checked = check_iban(iban, bic or "")
    debtor_name = (debtor_name or "").strip() or member.display_name
    if kind not in Mandate.Kind.values:
        raise ValidationError({"kind": [_("Choose recurrent or one-off.")]})
    if signed_on > timezone.localdate():
        raise ValidationError({"signed_on": [_("The date of signature cannot be in the future.")]})
    with transaction.atomic():
        member = Member.objects.select_for_update().get(pk=member.pk)
        reference = _check_reference(reference) if reference else new_mandate_reference(member)
        previous = _end_active_mandate(
            member, actor=actor, reason=_("replaced by mandate %(reference)s") % {"reference": reference}
        )
        mandate = Mandate.objects.create(
            member=member,
            reference=reference,
            signed_on=signed_on,
            kind=kind,
            iban=checked.iban,
            bic=checked.bic,
            debtor_name=debtor_name[:70],
            created_by=_user(actor),
            **extra,
        )
        if member.payment_method != PaymentMethod.DIRECT_DEBIT:
            Member.objects.filter(pk=member.pk).update(payment_method=PaymentMethod.DIRECT_DEBIT)
        # The account in the member's record follows the mandate (no change when it is the same).
        from kring.members.services import set_bank_account

        set_bank_account(member, actor=actor, iban=checked.iban, holder_name=debtor_name, bic=checked.bic)
        log_action(
            "sepa.mandate_recorded",
            actor=actor,
            obj=mandate,
            member_id=member.pk,
            changes=[
                {"field": "reference", "before": previous.reference if previous else "", "after": reference},
                {"field": "iban", "before": "", "after": mandate.iban_masked},
                {
                    "field": "payment_method",
                    "before": member.payment_method,
                    "after": PaymentMethod.DIRECT_DEBIT,
                },
            ],
            note=mandate.get_source_display(),
        )
    return mandate


def record_paper_mandate(
    member: Member,
    *,
    signed_on: date,
    iban: str,
    debtor_name: str,
    actor,
    reference: str | None = None,
    bic: str = "",
    kind: str = Mandate.Kind.RECURRENT,
) -> Mandate:
    """Record a mandate the member signed on paper. The member's previous mandate is revoked first;
    the member pays by direct debit from now on."""
    return _create_mandate(
        member,
        reference=reference,
        signed_on=signed_on,
        iban=iban,
        bic=bic,
        debtor_name=debtor_name,
        kind=kind,
        actor=actor,
        source=Mandate.Source.PAPER,
    )


def record_electronic_mandate(
    member: Member,
    *,
    iban: str,
    debtor_name: str,
    consent_text: str,
    channel: str,
    ip: str | None,
    user_agent: str,
    actor,
    bic: str = "",
    kind: str = Mandate.Kind.RECURRENT,
) -> Mandate:
    """Record a mandate the member gave online (e.g. in the member portal): when, through which
    channel, from which IP address and browser, with the exact text they agreed to."""
    if not (consent_text or "").strip():
        raise ValidationError(_("The text the member agreed to is required."))
    now = timezone.now()
    return _create_mandate(
        member,
        reference=None,
        signed_on=timezone.localdate(now),
        iban=iban,
        bic=bic,
        debtor_name=debtor_name,
        kind=kind,
        actor=actor,
        source=Mandate.Source.ELECTRONIC,
        consent_text=consent_text,
        consent_at=now,
        consent_channel=(channel or "")[:100],
        consent_ip=ip or None,
        consent_user_agent=(user_agent or "")[:300],
    )


def revoke_mandate(mandate: Mandate, *, actor, reason: str = "", on_date: date | None = None) -> Mandate:
    """The member withdrew the mandate: it is never collected on again."""
    with transaction.atomic():
        mandate = Mandate.objects.select_for_update().get(pk=mandate.pk)
        if mandate.status in (Mandate.Status.REVOKED, Mandate.Status.EXPIRED):
            return mandate
        before = mandate.status
        mandate.status = Mandate.Status.REVOKED
        mandate.ended_on = on_date or timezone.localdate()
        mandate.end_reason = (reason or _("revoked"))[:200]
        mandate.save(update_fields=["status", "ended_on", "end_reason"])
        log_action(
            "sepa.mandate_revoked",
            actor=actor,
            obj=mandate,
            member_id=mandate.member_id,
            changes=[{"field": "status", "before": before, "after": mandate.status}],
            note=mandate.end_reason,
        )
    return mandate


def expire_unused_mandates(today: date | None = None) -> int:
    """Set-based: every active mandate not collected on for 36 months (counted from the last
    collection, or from the signature when never used) expires. Returns how many."""
    today = today or timezone.localdate()
    cutoff = expiry_cutoff(today)
    with transaction.atomic():
        stale = (
            Mandate.objects.filter(status=Mandate.Status.ACTIVE)
            .alias(last_used=Coalesce("last_collected_on", "signed_on"))
            .filter(last_used__lte=cutoff)
        )
        rows = list(stale.select_for_update().values_list("pk", "member_id", "reference"))
        if not rows:
            return 0
        ids = [pk for pk, _member, _ref in rows]
        reason = _("not used for 36 months")
        Mandate.objects.filter(pk__in=ids).update(
            status=Mandate.Status.EXPIRED, ended_on=today, end_reason=reason
        )
        proxy = Mandate(pk=0)
        entries = []
        for pk, member_id, reference in rows:
            proxy.pk = pk
            entries.append(
                AuditEntry(
                    **audit_row(
                        "sepa.mandate_expired",
                        actor=None,
                        obj=proxy,
                        member_id=member_id,
                        changes=[{"field": "status", "before": "active", "after": "expired"}],
                        note=f"{reference}: {reason}",
                    )
                )
            )
        AuditEntry.objects.bulk_create(entries, batch_size=1000)
    return len(ids)


def _bank_code(iban: str) -> str:
    from schwifty import IBAN
    from schwifty.exceptions import SchwiftyException

    try:
        parsed = IBAN(iban)
        return f"{parsed.country_code}:{parsed.bank_code}"
    except (SchwiftyException, ValueError):
        return iban[:8]


def amend_mandate_iban(mandate: Mandate, new_iban: str, *, actor, bic: str = "") -> MandateAmendment | None:
    """The debtor's account changed: the mandate keeps its reference and gets the new IBAN; the
    amendment (original IBAN, SMNDA when the bank changed) goes along with the next collection.
    None when the IBAN is the same."""
    checked = check_iban(new_iban, bic or "")
    with transaction.atomic():
        mandate = Mandate.objects.select_for_update().get(pk=mandate.pk)
        old_iban, old_bic = mandate.iban, mandate.bic
        if old_iban == checked.iban:
            if checked.bic and checked.bic != old_bic:
                mandate.bic = checked.bic
                mandate.save(update_fields=["bic"])
            return None
        other_bank = _bank_code(old_iban) != _bank_code(checked.iban) or bool(
            old_bic and checked.bic and old_bic[:8] != checked.bic[:8]
        )
        amendment = MandateAmendment.objects.create(
            mandate=mandate,
            original_iban=old_iban,
            original_iban_masked=mask_iban(old_iban),
            other_bank=other_bank,
            created_by=_user(actor),
        )
        mandate.iban, mandate.bic = checked.iban, checked.bic
        mandate.save(update_fields=["iban", "bic"])
        log_action(
            "sepa.mandate_amended",
            actor=actor,
            obj=mandate,
            member_id=mandate.member_id,
            changes=[{"field": "iban", "before": mask_iban(old_iban), "after": mandate.iban_masked}],
            note=_("other bank") if other_bank else "",
        )
    return amendment


def amend_active_mandate_for_account(
    member: Member, *, iban: str, bic: str = "", actor
) -> MandateAmendment | None:
    """After the member's bank account changed: amend their active mandate (if any)."""
    mandate = Mandate.objects.filter(member=member, status=Mandate.Status.ACTIVE).first()
    if mandate is None:
        return None
    return amend_mandate_iban(mandate, iban, bic=bic, actor=actor)


def active_mandate(member: Member) -> Mandate | None:
    return Mandate.objects.filter(member=member, status=Mandate.Status.ACTIVE).first()


# --- pre-notification -----------------------------------------------------------------------------


@dataclass
class Announcement:
    invoice_count: int
    emailed: int
    on_paper: int
    total: Decimal
    prenotification_ids: list[int]


def earliest_announced_collection_date(*, now: datetime | None = None, creditor=None) -> date:
    """The first collection date that can be announced now: the notice period, the bank's lead
    time and cut-off, on a TARGET2 business day."""
    now = timezone.localtime(now) if now else timezone.localtime()
    creditor = creditor or CreditorSettings.current()
    bank = business_days.earliest_collection_date(
        now=now.replace(tzinfo=None), lead_days=creditor.lead_days, cutoff_time=creditor.submission_cutoff
    )
    notice = now.date() + timedelta(days=creditor.prenotification_days)
    return business_days.add_business_days(max(bank, notice), 0)


def check_collection_date(collection_date: date, *, earliest: date) -> None:
    if not business_days.is_business_day(collection_date):
        raise ValidationError(
            _(
                "%(date)s is not a banking day (TARGET2 is closed on weekends and bank holidays). "
                "The earliest date that works is %(earliest)s."
            )
            % {
                "date": _day(collection_date),
                "earliest": _day(max(earliest, business_days.next_business_day(collection_date))),
            },
            code="collection_date_not_business_day",
        )
    if collection_date < earliest:
        raise ValidationError(
            _(
                "%(date)s is too soon: members must be told in time and the bank needs the file in "
                "advance. The earliest date that works is %(earliest)s."
            )
            % {"date": _day(collection_date), "earliest": _day(earliest)},
            code="collection_date_too_soon",
        )


def _day(day: date) -> str:
    return f"{date_format(day, 'j F Y')} ({day.isoformat()})"


def debtor_condition() -> Q:
    """Invoices that expect money from a member who pays by direct debit."""
    return Q(
        kind=Invoice.Kind.INVOICE,
        status__in=Invoice.UNSETTLED_STATUSES,
        payer_member__isnull=False,
        payer_member__payment_method=PaymentMethod.DIRECT_DEBIT,
    )


def announce_collection(
    collection_date: date, *, actor, today: date | None = None, now: datetime | None = None
) -> Announcement:
    """Tell every debtor with an active mandate and an open invoice what will be collected on
    `collection_date`: amount, date, mandate reference and creditor identifier — by email, or on
    paper (a PreNotification on channel paper, to print). Each invoice is told once per date."""
    now = now or timezone.now()
    if today is not None and now.date() != today:
        now = timezone.make_aware(datetime.combine(today, time(0, 0)))
    creditor = CreditorSettings.current()
    if not creditor.creditor_identifier:
        raise ValidationError(_("Fill in the creditor identifier in the direct-debit settings first."))
    check_collection_date(
        collection_date, earliest=earliest_announced_collection_date(now=now, creditor=creditor)
    )
    active = Mandate.objects.filter(member_id=OuterRef("payer_member_id"), status=Mandate.Status.ACTIVE)
    with transaction.atomic():
        invoices = (
            Invoice.objects.filter(debtor_condition())
            .exclude(collection_items__status="pending")
            .annotate(
                mandate_id=Subquery(active.values("pk")[:1]),
                active_reference=Subquery(active.values("reference")[:1]),
            )
            .filter(mandate_id__isnull=False)
        )
        rows = list(
            invoices.values_list(
                "pk",
                "mandate_id",
                "active_reference",
                "total",
                "amount_paid",
                "amount_credited",
                "send_by_post",
                "recipient_email",
            )
        )
        notices = []
        for pk, mandate_id, _reference, total, paid, credited, by_post, email in rows:
            amount = total - paid - credited
            if amount <= 0:
                continue
            channel = PreNotification.Channel.PAPER if by_post or not email else PreNotification.Channel.EMAIL
            notices.append(
                PreNotification(
                    invoice_id=pk,
                    mandate_id=mandate_id,
                    collection_date=collection_date,
                    amount=amount,
                    channel=channel,
                )
            )
        ids = [notice.invoice_id for notice in notices]
        Invoice.objects.filter(pk__in=ids).update(
            collection_date=collection_date,
            mandate_reference=Subquery(
                Mandate.objects.filter(
                    member_id=OuterRef("payer_member_id"), status=Mandate.Status.ACTIVE
                ).values("reference")[:1]
            ),
        )
        PreNotification.objects.bulk_create(notices, batch_size=1000, ignore_conflicts=True)
        log_action(
            "sepa.collection_announced",
            actor=actor,
            obj=creditor,
            note=_("%(count)d invoices announced for collection on %(date)s")
            % {"count": len(ids), "date": collection_date.isoformat()},
        )
    pending = list(
        PreNotification.objects.filter(
            invoice_id__in=ids, collection_date=collection_date, sent_at__isnull=True
        ).values_list("pk", flat=True)
    )
    emailed, on_paper = send_prenotifications(pending, creditor=creditor)
    return Announcement(
        invoice_count=len(ids),
        emailed=emailed,
        on_paper=on_paper,
        total=sum((n.amount for n in notices), Decimal("0.00")),
        prenotification_ids=pending,
    )


def _claim(notice_id: int) -> datetime | None:
    now = timezone.now()
    claimed = PreNotification.objects.filter(pk=notice_id, sent_at__isnull=True).update(sent_at=now)
    return now if claimed else None


def prenotification_text(
    notice: PreNotification, *, creditor: CreditorSettings, association_name: str
) -> tuple[str, str]:
    """Subject and body of one pre-notification, in the association's language."""
    invoice = notice.invoice
    amount = f"€ {notice.amount:.2f}".replace(".", ",")
    subject = _("Direct debit of %(amount)s on %(date)s") % {
        "amount": amount,
        "date": date_format(notice.collection_date, "j F Y"),
    }
    lines = [
        _("Dear %(name)s,") % {"name": invoice.recipient_name},
        "",
        _(
            "On %(date)s, %(creditor)s will collect %(amount)s from your account by direct debit for "
            "invoice %(number)s. You do not need to do anything."
        )
        % {
            "date": date_format(notice.collection_date, "j F Y"),
            "creditor": creditor.creditor_name or association_name,
            "amount": amount,
            "number": invoice.number,
        },
        "",
        f"{_('Amount')}: {amount}",
        f"{_('Collection date')}: {date_format(notice.collection_date, 'j F Y')}",
        f"{_('Mandate reference')}: {notice.mandate.reference}",
        f"{_('Creditor identifier')}: {creditor.creditor_identifier}",
        f"{_('From account')}: {notice.mandate.iban_masked}",
        "",
        _(
            "You can ask your bank to refund a direct debit within 8 weeks of the collection. "
            "Questions? Reply to this email."
        ),
        "",
        _("Kind regards,"),
        association_name,
    ]
    return subject, "\n".join(lines) + "\n"


def send_prenotifications(
    notice_ids: list[int], *, creditor: CreditorSettings | None = None
) -> tuple[int, int]:
    """Send the pre-notifications not sent yet, each once (claimed before sending; a failure
    releases the claim). Paper ones are marked sent when they are put on the list to print.
    Returns (emailed, on paper)."""
    from kring.core.models import Association

    creditor = creditor or CreditorSettings.current()
    association = Association.objects.order_by("pk").first()
    association_name = association.name if association else ""
    emailed = on_paper = 0
    connection = None
    try:
        with translation.override(settings.LANGUAGE_CODE):
            notices = PreNotification.objects.filter(pk__in=notice_ids, sent_at__isnull=True).select_related(
                "invoice", "mandate"
            )
            for notice in notices.iterator(chunk_size=500):
                claimed = _claim(notice.pk)
                if claimed is None:
                    continue
                if notice.channel == PreNotification.Channel.PAPER:
                    on_paper += 1
                    continue
                if connection is None:
                    connection = get_connection()
                    connection.open()
                subject, body = prenotification_text(
                    notice, creditor=creditor, association_name=association_name
                )
                message = EmailMessage(
                    subject=subject,
                    body=body,
                    from_email=settings.DEFAULT_FROM_EMAIL,
                    to=[notice.invoice.recipient_email],
                    reply_to=[association.email] if association and association.email else None,
                    connection=connection,
                )
                try:
                    message.send()
                except Exception:
                    PreNotification.objects.filter(pk=notice.pk, sent_at=claimed).update(sent_at=None)
                    raise
                emailed += 1
    finally:
        if connection is not None:
            connection.close()
    return emailed, on_paper


def iban_for_display(iban: str) -> str:
    return format_iban(iban)


def render_mandate_form_pdf(member: Member) -> bytes:
    """The printable mandate form for `member` (see kring.sepa.mandate_form)."""
    from kring.sepa.mandate_form import render_mandate_form_pdf as render

    return render(member)
