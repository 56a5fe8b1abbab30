"""Payment reminders: a schedule of steps after the due date, each step taken once per invoice.

The schedule is `ReminderStep` (by default: a reminder 14 days after the due date, a second
one after 28, flagged for the secretariat after 42). `send_reminders` is safe to run every day,
twice at the same time, or again after a crash:

1. **Plan**, set-based: one ``INSERT … SELECT … ON CONFLICT DO NOTHING`` creates a `Reminder`
   row for every unsettled invoice past its due date that reached a step it has not had, with
   only the *highest* such step (an invoice found 60 days overdue gets the last step, not all
   three) and never a step below one it already had. The unique key (invoice, level) makes each
   step happen once, also when two runs plan at the same moment. The channel is chosen here:
   email when the invoice went by email (an address and not `send_by_post`, which follows the
   member's correspondence preference), paper otherwise, "flag" for a flag step.
2. **Deliver** the rows this run created (their `created_at` is the run's timestamp) and rows an
   earlier run left unsent (a crash, a refused email) once they are `RETRY_AFTER` old. Every row
   is *claimed* before anything leaves: ``UPDATE … SET sent_at = now WHERE sent_at IS NULL``; only
   the run whose update changed the row delivers it. An email whose sending fails is un-claimed,
   so the next run tries again. A run that dies between claiming and sending loses that one
   email rather than ever sending it twice.
   - paper: all claimed in one update into this run's print batch (one PDF to print and post);
   - flag: claimed in one update, and `Invoice.flagged_at` set for the secretariat's list;
   - email: one message per reminder, with the invoice PDF attached.
   Unsent reminders of invoices settled in the meantime are dropped, not delivered.

A reminder goes where the invoice went: the name, address and email address as they were on the
invoice (the reminder is about that invoice).
"""

import logging
import re
import smtplib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from email.utils import formataddr

from django.conf import settings
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Case, CharField, Count, Exists, F, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kring.billing.models import Invoice, PrintBatch, Reminder, ReminderStep
from kring.billing.pdf import Sender, format_amount, format_day, format_iban
from kring.billing.references import format_reference
from kring.core.audit import audit_row, diff, log_action, snapshot
from kring.core.models import AuditEntry
from kring.members.models import PaymentMethod

logger = logging.getLogger(__name__)

# An unsent reminder older than this was left behind by an earlier run and is delivered again;
# younger ones belong to a run that may still be delivering them.
RETRY_AFTER = timedelta(minutes=5)
# After this many failed emails in a row the mail server is taken to be down: the rest waits for
# the next run (nothing is lost: those reminders stay unsent).
MAX_FAILURES_IN_A_ROW = 5
EMAIL_CHUNK = 200
PLACEHOLDERS = ("number", "amount", "due_date", "name")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")

Channel = Reminder.Channel


# --- the report of a run --------------------------------------------------------------------------


@dataclass
class ReminderReport:
    today: date
    created: int = 0
    # (level, channel) → number of reminders delivered (emails sent, letters batched, flags set).
    sent: Counter = field(default_factory=Counter)
    failed: Counter = field(default_factory=Counter)
    dropped: int = 0
    # Emails refused for a wrong address, sent on paper instead.
    rerouted: int = 0
    print_batch: PrintBatch | None = None

    @property
    def total_sent(self) -> int:
        return sum(self.sent.values())

    @property
    def total_failed(self) -> int:
        return sum(self.failed.values())

    def as_result(self) -> dict:
        """For a background job's result (JSON)."""
        return {
            "date": self.today.isoformat(),
            "created": self.created,
            "sent": [
                {"level": level, "channel": channel, "count": count}
                for (level, channel), count in sorted(self.sent.items())
            ],
            "emails": sum(n for (_level, channel), n in self.sent.items() if channel == Channel.EMAIL),
            "letters": sum(n for (_level, channel), n in self.sent.items() if channel == Channel.PAPER),
            "flagged": sum(n for (_level, channel), n in self.sent.items() if channel == Channel.FLAG),
            "failed": self.total_failed,
            "dropped": self.dropped,
            "rerouted": self.rerouted,
            "print_batch": self.print_batch.pk if self.print_batch else None,
        }

    def lines(self) -> list[str]:
        """What the command prints: one line per step and channel, then the totals."""
        lines = [_("Reminders for %(date)s") % {"date": self.today.isoformat()}]
        if not self.sent and not self.failed:
            lines.append(_("Nothing to send today."))
        labels = dict(Channel.choices)
        for key in sorted(set(self.sent) | set(self.failed)):
            level, channel = key
            line = _("step %(level)s, %(channel)s: %(count)s") % {
                "level": level,
                "channel": labels.get(channel, channel),
                "count": self.sent.get(key, 0),
            }
            if self.failed.get(key):
                line += " " + _("(%(failed)s could not be sent; tried again next time)") % {
                    "failed": self.failed[key]
                }
            lines.append(line)
        if self.print_batch is not None:
            lines.append(
                _("Print batch %(id)s: %(count)s letters to print and post.")
                % {"id": self.print_batch.pk, "count": self.print_batch.letter_count}
            )
        if self.rerouted:
            lines.append(
                _("%(count)s email addresses were refused by the mail server; those reminders go on paper.")
                % {"count": self.rerouted}
            )
        if self.dropped:
            lines.append(
                _("%(count)s reminders not sent: the invoice was settled in the meantime.")
                % {"count": self.dropped}
            )
        return lines


# --- planning ----------------------------------------------------------------------------------


def due_reminders(today: date | None = None) -> QuerySet[Invoice]:
    """The invoices that are due a reminder step today, annotated with `due_level` and `due_channel`.

    Unsettled invoices (kind invoice, status open, partially paid or reversed, money still
    open; a direct debit only once it was reversed) past their due date; the step is the highest
    whose `days_after_due` has passed, and only when the invoice has had neither that step nor a
    later one.
    """
    today = today or timezone.localdate()
    steps = sorted(ReminderStep.objects.all(), key=lambda step: step.level, reverse=True)
    if not steps:
        return Invoice.objects.none()
    level = Case(
        *(
            When(due_date__lte=today - timedelta(days=step.days_after_due), then=Value(step.level))
            for step in steps
        ),
        default=Value(None),
    )
    flag_levels = [step.level for step in steps if step.action == ReminderStep.Action.FLAG]
    channel_rules = [When(due_level__in=flag_levels, then=Value(Channel.FLAG))] if flag_levels else []
    channel_rules.append(When(Q(send_by_post=False) & ~Q(recipient_email=""), then=Value(Channel.EMAIL)))
    had_this_or_later = Reminder.objects.filter(invoice=OuterRef("pk"), level__gte=OuterRef("due_level"))
    earliest = min(step.days_after_due for step in steps)
    return (
        Invoice.objects.filter(
            kind=Invoice.Kind.INVOICE,
            status__in=Invoice.UNSETTLED_STATUSES,
            due_date__lt=today,
            due_date__lte=today - timedelta(days=earliest),
        )
        # A direct debit is collected, not reminded; once it bounced (reversed) the member must pay.
        .exclude(Q(payment_method=PaymentMethod.DIRECT_DEBIT) & ~Q(status=Invoice.Status.REVERSED))
        .annotate(amount_open=F("total") - F("amount_paid") - F("amount_credited"))
        .filter(amount_open__gt=0)
        .annotate(due_level=level)
        .filter(due_level__isnull=False)
        .filter(~Exists(had_this_or_later))
        .annotate(due_channel=Case(*channel_rules, default=Value(Channel.PAPER), output_field=CharField()))
        .order_by()
    )


def _create_due_reminders(today: date, now) -> int:
    """INSERT … SELECT the due reminders, created_at = now; returns how many rows were created."""
    due = due_reminders(today)
    if due.query.is_empty():
        return 0
    # Named expressions, so that the outer SELECT can name the columns on every database.
    select_sql, params = due.values(
        r_invoice=F("pk"), r_level=F("due_level"), r_channel=F("due_channel")
    ).query.sql_with_params()
    quote = connection.ops.quote_name
    table = quote(Reminder._meta.db_table)
    columns = ", ".join(quote(name) for name in ("invoice_id", "level", "channel", "created_at"))
    # WHERE true: SQLite needs it to tell ON CONFLICT from a join constraint.
    sql = (
        f"INSERT INTO {table} ({columns}) "
        f"SELECT due.{quote('r_invoice')}, due.{quote('r_level')}, due.{quote('r_channel')}, %s "
        f"FROM ({select_sql}) due WHERE 1 = 1 "
        f"ON CONFLICT DO NOTHING"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [connection.ops.adapt_datetimefield_value(now), *params])
        return max(cursor.rowcount, 0)


def _pending(now) -> QuerySet[Reminder]:
    """Unsent reminders this run delivers: its own, and those an earlier run left behind."""
    return Reminder.objects.filter(sent_at__isnull=True).filter(
        Q(created_at=now) | Q(created_at__lt=now - RETRY_AFTER)
    )


def _drop_settled(now) -> int:
    """Forget unsent reminders whose invoice no longer needs one (paid, credited, in collection…)."""
    still_unpaid = Invoice.objects.filter(
        pk=OuterRef("invoice_id"), status__in=Invoice.UNSETTLED_STATUSES, kind=Invoice.Kind.INVOICE
    )
    dropped, _detail = _pending(now).filter(~Exists(still_unpaid)).delete()
    return dropped


# --- delivering ------------------------------------------------------------------------------


def send_reminders(*, today: date | None = None, actor=None) -> ReminderReport:
    """Take every reminder step that is due today and deliver it once (see the module's docstring)."""
    today = today or timezone.localdate()
    now = timezone.now()
    report = ReminderReport(today=today)
    report.created = _create_due_reminders(today, now)
    report.dropped = _drop_settled(now)
    _deliver_flags(now, report, actor)
    # Emails before paper: a reminder whose address the mail server refuses goes on paper instead.
    _deliver_emails(now, report, actor)
    _deliver_paper(now, report, actor)
    return report


def _counts_per_level(reminders: QuerySet[Reminder]) -> dict[int, int]:
    return dict(reminders.order_by().values_list("level").annotate(count=Count("pk")))


def _audit_delivered(reminders: QuerySet[Reminder], *, action: str, actor, note) -> None:
    rows = reminders.order_by("pk").values_list(
        "invoice_id", "invoice__member_id", "invoice__number", "level"
    )
    entries = []
    for invoice_id, member_id, number, level in rows.iterator(chunk_size=2000):
        invoice = Invoice(pk=invoice_id)
        entries.append(
            AuditEntry(
                **audit_row(action, actor=actor, obj=invoice, member_id=member_id, note=note(number, level))
            )
        )
        if len(entries) >= 2000:
            AuditEntry.objects.bulk_create(entries)
            entries = []
    AuditEntry.objects.bulk_create(entries)


def _deliver_flags(now, report: ReminderReport, actor) -> None:
    candidates = _pending(now).filter(channel=Channel.FLAG)
    if not candidates.exists():
        return
    with transaction.atomic():
        if not candidates.update(sent_at=now):
            return
        mine = Reminder.objects.filter(channel=Channel.FLAG, sent_at=now)
        Invoice.objects.filter(flagged_at__isnull=True, pk__in=mine.values("invoice_id")).update(
            flagged_at=now
        )
        for level, count in _counts_per_level(mine).items():
            report.sent[(level, Channel.FLAG)] += count
        with translation.override(settings.LANGUAGE_CODE):
            _audit_delivered(
                mine,
                action="billing.invoice_flagged",
                actor=actor,
                note=lambda number, level: (
                    _("Invoice %(number)s flagged for the secretariat (step %(level)s).")
                    % {"number": number, "level": level}
                ),
            )


def _deliver_paper(now, report: ReminderReport, actor) -> None:
    candidates = _pending(now).filter(channel=Channel.PAPER)
    if not candidates.exists():
        return
    with transaction.atomic():
        batch = PrintBatch.objects.create(kind=PrintBatch.Kind.REMINDERS, created_at=now)
        claimed = candidates.update(sent_at=now, print_batch=batch)
        if not claimed:  # another run took them a moment ago
            batch.delete()
            return
        batch.letter_count = claimed
        batch.save(update_fields=["letter_count"])
        mine = Reminder.objects.filter(print_batch=batch)
        for level, count in _counts_per_level(mine).items():
            report.sent[(level, Channel.PAPER)] += count
        with translation.override(settings.LANGUAGE_CODE):
            _audit_delivered(
                mine,
                action="billing.reminder_sent",
                actor=actor,
                note=lambda number, level: (
                    _("Reminder %(level)s for invoice %(number)s put in print batch %(batch)s.")
                    % {"number": number, "level": level, "batch": batch.pk}
                ),
            )
    report.print_batch = batch


def _load_invoices(invoice_ids: list[int]) -> dict[int, Invoice]:
    try:
        from kring.billing.queries import invoices_for_pdf
    except ImportError:  # pragma: no cover - the PDF helper's queries are not there
        invoices = Invoice.objects.select_related("member")
    else:
        invoices = invoices_for_pdf()
    return {invoice.pk: invoice for invoice in invoices.filter(pk__in=invoice_ids)}


def _permanently_refused(exc: Exception) -> bool:
    """The mail server refused every recipient with a permanent (5xx) code: the address is wrong."""
    if not isinstance(exc, smtplib.SMTPRecipientsRefused) or not exc.recipients:
        return False
    return all(code >= 500 for code, _message in exc.recipients.values())


def _deliver_emails(now, report: ReminderReport, actor) -> None:
    rows = list(
        _pending(now).filter(channel=Channel.EMAIL).order_by("pk").values_list("pk", "invoice_id", "level")
    )
    if not rows:
        return
    steps = {step.level: step for step in ReminderStep.objects.all()}
    first_level = min((s.level for s in steps.values() if s.action == ReminderStep.Action.REMIND), default=1)
    context = Sender.load()
    connection_ = mail.get_connection()
    sent_ids: list[int] = []
    failures_in_a_row = 0
    try:
        for start in range(0, len(rows), EMAIL_CHUNK):
            chunk = rows[start : start + EMAIL_CHUNK]
            invoices = _load_invoices([invoice_id for _pk, invoice_id, _level in chunk])
            for pk, invoice_id, level in chunk:
                if failures_in_a_row >= MAX_FAILURES_IN_A_ROW:
                    report.failed[(level, Channel.EMAIL)] += 1
                    continue
                invoice = invoices.get(invoice_id)
                if invoice is None:
                    continue
                claimed_at = timezone.now()
                if not Reminder.objects.filter(pk=pk, sent_at__isnull=True).update(sent_at=claimed_at):
                    continue  # another run has it
                try:
                    message = reminder_email(
                        invoice, steps.get(level), level=level, first_level=first_level, context=context
                    )
                except Exception:
                    Reminder.objects.filter(pk=pk, sent_at=claimed_at).update(sent_at=None)
                    report.failed[(level, Channel.EMAIL)] += 1
                    logger.exception("reminder %s for invoice %s could not be made", pk, invoice.number)
                    continue
                try:
                    connection_.open()  # once; again after a failure closed it
                    if not connection_.send_messages([message]):
                        raise smtplib.SMTPException("the mail server took no message")
                except (smtplib.SMTPException, OSError) as exc:
                    if _permanently_refused(exc):
                        # The address does not exist (any more): the reminder goes on paper instead.
                        Reminder.objects.filter(pk=pk, sent_at=claimed_at).update(
                            sent_at=None, channel=Channel.PAPER
                        )
                        report.rerouted += 1
                        logger.warning(
                            "reminder %s for invoice %s: address refused by the mail server (%s); sent on paper",
                            pk,
                            invoice.number,
                            exc,
                        )
                        continue
                    Reminder.objects.filter(pk=pk, sent_at=claimed_at).update(sent_at=None)
                    report.failed[(level, Channel.EMAIL)] += 1
                    failures_in_a_row += 1
                    logger.warning(
                        "reminder %s for invoice %s not sent (%s); tried again next run",
                        pk,
                        invoice.number,
                        exc,
                    )
                    connection_.close()
                    continue
                failures_in_a_row = 0
                sent_ids.append(pk)
                report.sent[(level, Channel.EMAIL)] += 1
    finally:
        connection_.close()
    if sent_ids:
        with translation.override(settings.LANGUAGE_CODE):
            for start in range(0, len(sent_ids), 2000):
                _audit_delivered(
                    Reminder.objects.filter(pk__in=sent_ids[start : start + 2000]),
                    action="billing.reminder_sent",
                    actor=actor,
                    note=lambda number, level: (
                        _("Reminder %(level)s for invoice %(number)s sent by email.")
                        % {"number": number, "level": level}
                    ),
                )


# --- what a reminder says -------------------------------------------------------------------


@dataclass(frozen=True)
class ReminderText:
    """The words of one reminder, shared by the email and the printed letter."""

    subject: str
    greeting: str
    paragraphs: list[str]
    # (label, value) rows about the invoice, and about how to pay.
    details: list[tuple[str, str]]
    payment: list[tuple[str, str]]
    payment_note: str
    closing: list[str]


def fill_placeholders(text: str, values: dict[str, str]) -> str:
    """Replace {number}, {amount}, {due_date}, {name}; anything else in braces stays as written."""
    return _PLACEHOLDER.sub(lambda match: values.get(match.group(1).strip(), match.group(0)), text)


def unknown_placeholders(text: str) -> list[str]:
    return [name for name in _PLACEHOLDER.findall(text) if name.strip() not in PLACEHOLDERS]


def reminder_text(
    invoice: Invoice, step: ReminderStep | None, *, level: int, first_level: int = 1, context: Sender
) -> ReminderText:
    """The reminder for `invoice` at `level`, in the active language."""
    amount = format_amount(invoice.open_amount)
    values = {
        "number": invoice.number,
        "amount": amount,
        "due_date": format_day(invoice.due_date),
        "name": invoice.recipient_name,
    }
    subject = fill_placeholders(step.subject, values) if step and step.subject.strip() else ""
    if not subject:
        subject = (
            _("Reminder: invoice %(number)s")
            if level <= first_level
            else _("Second reminder: invoice %(number)s")
        ) % {"number": invoice.number}
    if step and step.text.strip():
        paragraphs = [p.strip() for p in fill_placeholders(step.text, values).split("\n\n") if p.strip()]
    elif level <= first_level:
        paragraphs = [
            _(
                "According to our records, invoice %(number)s has not been paid in full yet. It was due on "
                "%(due_date)s. Perhaps it slipped your mind; that can happen to anyone."
            )
            % values,
            _("Would you please pay the amount still open, %(amount)s, within 14 days?") % values,
        ]
    else:
        paragraphs = [
            _(
                "We wrote to you earlier about invoice %(number)s, but we have still not received the full "
                "payment. It was due on %(due_date)s."
            )
            % values,
            _(
                "Would you please pay the amount still open, %(amount)s, within 14 days? If paying is difficult "
                "for you right now, please contact us: together we can find a solution."
            )
            % values,
        ]
    details = [
        (_("Invoice number"), invoice.number),
        (_("Invoice date"), format_day(invoice.invoice_date)),
        (_("Due date"), format_day(invoice.due_date)),
        (_("Amount still open"), amount),
    ]
    if invoice.description:
        details.insert(1, (_("Regarding"), invoice.description))
    payment = [(_("Amount to pay"), amount)]
    if context.billing_settings.iban:
        payment.append((_("To account (IBAN)"), format_iban(context.billing_settings.iban)))
        payment.append((_("In the name of"), context.account_name))
    payment.append((_("Payment reference"), format_reference(invoice.payment_reference)))
    return ReminderText(
        subject=subject,
        greeting=_("Dear %(name)s,") % {"name": invoice.recipient_name},
        paragraphs=paragraphs,
        details=details,
        payment=payment,
        payment_note=_(
            "Please give the payment reference exactly as it is written here, so that we can match your payment."
        ),
        closing=[
            _("Have you paid in the meantime? Thank you, and please disregard this reminder."),
            _("Kind regards,"),
            context.association.name,
        ],
    )


def email_body(text: ReminderText) -> str:
    width = max(len(label) for label, _value in text.details + text.payment) + 2
    lines = [text.greeting, ""]
    for paragraph in text.paragraphs:
        lines += [paragraph, ""]
    lines += [f"{label + ':':<{width}}{value}" for label, value in text.details]
    lines += ["", _("How to pay")]
    lines += [f"{label + ':':<{width}}{value}" for label, value in text.payment]
    lines += [text.payment_note, ""]
    lines += [text.closing[0], "", *text.closing[1:]]
    return "\n".join(lines) + "\n"


def reminder_email(
    invoice: Invoice, step: ReminderStep | None, *, level: int, first_level: int, context: Sender
) -> mail.EmailMessage:
    """The reminder email, in the site's language, with the invoice PDF attached when Kring can render it."""
    with translation.override(settings.LANGUAGE_CODE):
        text = reminder_text(invoice, step, level=level, first_level=first_level, context=context)
        message = mail.EmailMessage(
            subject=text.subject,
            body=email_body(text),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[formataddr((invoice.recipient_name, invoice.recipient_email))],
            reply_to=[context.association.email] if context.association.email else None,
        )
        try:
            from kring.billing.pdf import invoice_filename, render_invoice_pdf
        except ImportError:  # pragma: no cover - no PDF renderer in this installation
            return message
        message.attach(
            invoice_filename(invoice), render_invoice_pdf(invoice, sender=context), "application/pdf"
        )
    return message


# --- the schedule and print batches (back office) -----------------------------------------------


def update_reminder_step(
    step: ReminderStep, *, actor, days_after_due: int, action: str, subject: str, text: str
) -> ReminderStep:
    """Change one step of the schedule. Later steps must come strictly later (more days after the due date)."""
    errors = {}
    if days_after_due is None or days_after_due < 1:
        errors["days_after_due"] = _("Enter a number of days of 1 or more.")
    elif days_after_due > 365:
        errors["days_after_due"] = _("Enter at most 365 days.")
    if action not in ReminderStep.Action.values:
        errors["action"] = _("Choose what happens at this step.")
    for name, value in (("subject", subject), ("text", text)):
        unknown = unknown_placeholders(value)
        if unknown:
            errors[name] = _("%(placeholder)s is not something Kring can fill in. You can use %(known)s.") % {
                "placeholder": "{" + unknown[0] + "}",
                "known": ", ".join("{" + name + "}" for name in PLACEHOLDERS),
            }
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        steps = list(ReminderStep.objects.select_for_update().order_by("level"))
        step = next(s for s in steps if s.pk == step.pk)
        before = snapshot(step, ["days_after_due", "action", "subject", "text"])
        earlier = [s for s in steps if s.level < step.level]
        later = [s for s in steps if s.level > step.level]
        if earlier and days_after_due <= earlier[-1].days_after_due:
            raise ValidationError(
                {
                    "days_after_due": _(
                        "Step %(level)s comes after step %(other)s, so it needs more than %(days)s days."
                    )
                    % {"level": step.level, "other": earlier[-1].level, "days": earlier[-1].days_after_due}
                }
            )
        if later and days_after_due >= later[0].days_after_due:
            raise ValidationError(
                {
                    "days_after_due": _(
                        "Step %(level)s comes before step %(other)s, so it needs fewer than %(days)s days."
                    )
                    % {"level": step.level, "other": later[0].level, "days": later[0].days_after_due}
                }
            )
        step.days_after_due = days_after_due
        step.action = action
        step.subject = subject.strip()[:200]
        step.text = text.strip()
        step.save(update_fields=["days_after_due", "action", "subject", "text"])
        changes = diff(before, snapshot(step, ["days_after_due", "action", "subject", "text"]))
        if changes:
            log_action(
                "billing.reminder_step_changed",
                actor=actor,
                obj=step,
                changes=changes,
                note=_("Reminder schedule, step %(level)s") % {"level": step.level},
            )
    return step


def mark_print_batch_printed(batch: PrintBatch, *, actor) -> PrintBatch:
    """Record that the letters of a batch were printed (and posted); doing it twice changes nothing."""
    with transaction.atomic():
        batch = PrintBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.printed_at is None:
            batch.printed_at = timezone.now()
            batch.save(update_fields=["printed_at"])
            log_action(
                "billing.print_batch_printed",
                actor=actor,
                obj=batch,
                note=_("%(count)s letters printed") % {"count": batch.letter_count},
            )
    return batch
