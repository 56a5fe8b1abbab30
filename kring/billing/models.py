"""Invoices, credit notes, payments, online payments and reminders.

Money is Decimal with two places in every field; amounts are never floats. An invoice is final
the moment it exists: it has its number, its lines and the payer's name and address as they were
on the invoice date. Corrections are credit notes, never edits.

Which payment state an invoice is in is stored (`status`); "overdue" is not stored but follows
from the due date (see `Invoice.payment_state`), so no nightly job has to flip a million rows.
"""

from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Round
from django.db.models.lookups import Exact
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from kring.members.models import Member, Membership, MembershipPayer, PaymentMethod

ZERO = Decimal("0.00")


def money_field(verbose_name, **kwargs):
    kwargs.setdefault("default", ZERO)
    return models.DecimalField(verbose_name, max_digits=12, decimal_places=2, **kwargs)


class BillingSettings(models.Model):
    """How this association invoices: its bank account, payment term, numbering and billing year."""

    class OnlineProvider(models.TextChoices):
        NONE = "none", _("no online payment")
        MOLLIE = "mollie", _("Mollie (iDEAL, Bancontact, card)")
        LOCAL = "local", _("demo provider (for trying Kring out, no real money)")

    iban = models.CharField(_("IBAN for payments"), max_length=34, blank=True)
    bic = models.CharField(_("BIC"), max_length=11, blank=True)
    account_holder = models.CharField(_("account holder"), max_length=70, blank=True)
    payment_term_days = models.PositiveSmallIntegerField(
        _("payment term in days"), default=14, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    invoice_number_prefix = models.CharField(
        _("invoice number prefix"),
        max_length=10,
        blank=True,
        help_text=_("Put before every invoice number, e.g. 'F' gives F2027-000001."),
    )
    billing_year_start_month = models.PositiveSmallIntegerField(
        _("first month of the billing year"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(12)],
        help_text=_("Yearly dues cover the billing year; quarters and months are counted from its start."),
    )
    online_provider = models.CharField(
        _("online payment"), max_length=20, choices=OnlineProvider.choices, default=OnlineProvider.NONE
    )
    invoice_email_subject = models.CharField(
        _("subject of invoice emails"), max_length=200, blank=True, default="Factuur {number}"
    )

    class Meta:
        verbose_name = _("billing settings")
        verbose_name_plural = _("billing settings")

    def __str__(self):
        return str(_("billing settings"))

    @classmethod
    def current(cls) -> "BillingSettings":
        current = cls.objects.order_by("pk").first()
        if current is None:
            current, _created = cls.objects.get_or_create(pk=1)
        return current


class ReminderStep(models.Model):
    """One step of the reminder schedule: what happens how many days after the due date."""

    class Action(models.TextChoices):
        REMIND = "remind", _("send a reminder (by email, or on paper for paper members)")
        FLAG = "flag", _("flag for the secretariat")

    level = models.PositiveSmallIntegerField(_("step"), unique=True, validators=[MinValueValidator(1)])
    days_after_due = models.PositiveSmallIntegerField(_("days after the due date"))
    action = models.CharField(_("action"), max_length=20, choices=Action.choices, default=Action.REMIND)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    text = models.TextField(_("text"), blank=True)

    class Meta:
        verbose_name = _("reminder step")
        verbose_name_plural = _("reminder schedule")
        ordering = ["level"]
        constraints = [
            models.UniqueConstraint(fields=["days_after_due"], name="reminder_step_days_unique"),
        ]

    def __str__(self):
        return f"{self.level}: +{self.days_after_due}"


class InvoiceRun(models.Model):
    """One invoice run for a period ("2027-Q1"). Running a period again is safe: it adds only what is missing."""

    class Status(models.TextChoices):
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    period = models.CharField(_("period"), max_length=10)
    period_start = models.DateField(_("period starts"))
    period_end = models.DateField(_("period ends"))
    invoice_date = models.DateField(_("invoice date"))
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.RUNNING)
    job = models.ForeignKey(
        "core.BackgroundJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    invoice_count = models.PositiveIntegerField(_("invoices created"), default=0)
    total = money_field(_("total invoiced"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("invoice run")
        verbose_name_plural = _("invoice runs")
        ordering = ["-started_at", "-pk"]

    def __str__(self):
        return self.period


class Invoice(models.Model):
    """An invoice or a credit note, with the payer's details as they were on the invoice date."""

    class Kind(models.TextChoices):
        INVOICE = "invoice", _("invoice")
        CREDIT_NOTE = "credit_note", _("credit note")

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        PARTIALLY_PAID = "partially_paid", _("partially paid")
        PAID = "paid", _("paid")
        IN_COLLECTION = "in_collection", _("in direct-debit collection")
        REVERSED = "reversed", _("reversed")
        WRITTEN_OFF = "written_off", _("written off")
        CREDITED = "credited", _("credited")

    # Statuses in which money is still expected; past the due date these count as overdue.
    UNSETTLED_STATUSES = (Status.OPEN, Status.PARTIALLY_PAID, Status.REVERSED)

    class ReferenceKind(models.TextChoices):
        DUTCH = "nl", _("Dutch payment reference (betalingskenmerk)")
        BELGIAN = "be", _("structured communication")

    number = models.CharField(_("number"), max_length=30, unique=True)
    year = models.PositiveSmallIntegerField(_("year"))
    sequence = models.PositiveIntegerField(_("sequence number"))
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.INVOICE)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.OPEN)
    invoice_date = models.DateField(_("invoice date"))
    due_date = models.DateField(_("due date"))
    description = models.CharField(_("description"), max_length=200, blank=True)

    # Whom the invoice is about and who pays it.
    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="invoices"
    )
    payer_member = models.ForeignKey(
        Member,
        verbose_name=_("paid by member"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payable_invoices",
        help_text=_("Empty when an outside party pays (employer, fund)."),
    )
    membership_payer = models.ForeignKey(
        MembershipPayer, null=True, blank=True, on_delete=models.SET_NULL, related_name="invoices"
    )
    share_percent = models.DecimalField(
        _("share (%)"), max_digits=5, decimal_places=2, default=Decimal("100.00")
    )
    recipient_name = models.CharField(_("name"), max_length=200)
    recipient_address = models.TextField(_("address"), blank=True)
    recipient_country = models.CharField(_("country"), max_length=2, default="NL")
    recipient_email = models.EmailField(_("email address"), blank=True)
    recipient_reference = models.CharField(_("your reference"), max_length=100, blank=True)
    send_by_post = models.BooleanField(_("sent on paper"), default=False)
    reference_kind = models.CharField(
        _("payment reference kind"), max_length=2, choices=ReferenceKind.choices, default=ReferenceKind.DUTCH
    )

    # Dues: which membership and instalment this is. `dues_period_start` and `payer_position`
    # make an invoice run idempotent through the unique constraint below.
    membership = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.PROTECT, related_name="invoices"
    )
    dues_period_start = models.DateField(_("dues instalment starts"), null=True, blank=True)
    payer_position = models.PositiveSmallIntegerField(default=0)
    period_start = models.DateField(_("period from"), null=True, blank=True)
    period_end = models.DateField(_("period until"), null=True, blank=True)
    run = models.ForeignKey(
        InvoiceRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="invoices"
    )

    credited_invoice = models.ForeignKey(
        "self",
        verbose_name=_("credits invoice"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="credit_notes",
    )

    payment_method = models.CharField(
        _("payment method"), max_length=20, choices=PaymentMethod.choices, default=PaymentMethod.TRANSFER
    )
    collection_date = models.DateField(_("direct-debit date"), null=True, blank=True)
    mandate_reference = models.CharField(_("mandate reference"), max_length=35, blank=True)

    total_excl_vat = money_field(_("total excl. VAT"))
    vat_amount = money_field(_("VAT"))
    total = money_field(_("total"))
    amount_paid = money_field(_("paid"))
    amount_credited = money_field(_("credited"))
    vat_exemption_text = models.CharField(_("VAT exemption"), max_length=200, blank=True)

    email_sent_at = models.DateTimeField(_("emailed"), null=True, blank=True)
    email_claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    flagged_at = models.DateTimeField(
        _("flagged for the secretariat"), null=True, blank=True, help_text=_("After the last reminder.")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-invoice_date", "-year", "-sequence"]
        indexes = [
            models.Index(fields=["invoice_date"], name="invoice_date_idx"),
            models.Index(fields=["status", "due_date"], name="invoice_status_due_idx"),
            models.Index(fields=["member", "-invoice_date"], name="invoice_member_idx"),
            models.Index(fields=["payer_member", "-invoice_date"], name="invoice_payer_date_idx"),
            models.Index(fields=["kind", "invoice_date"], name="invoice_kind_date_idx"),
            models.Index(fields=["status", "-invoice_date"], name="invoice_status_date_idx"),
            models.Index(fields=["payment_method", "-invoice_date"], name="invoice_method_date_idx"),
            # The overdue list and the reminders look only at invoices that still expect money.
            models.Index(
                fields=["due_date"],
                condition=Q(kind="invoice", status__in=["open", "partially_paid", "reversed"]),
                name="invoice_unsettled_due_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["year", "sequence"], name="invoice_number_gapless_key"),
            models.UniqueConstraint(
                fields=["membership", "dues_period_start", "payer_position"],
                condition=Q(dues_period_start__isnull=False),
                name="invoice_dues_once_per_instalment",
            ),
            models.CheckConstraint(
                condition=Q(kind="credit_note", total__lte=0, credited_invoice__isnull=False)
                | Q(kind="invoice", total__gte=0, credited_invoice__isnull=True),
                name="invoice_sign_matches_kind",
            ),
            # Compared after rounding to the cent: SQLite computes with floats, PostgreSQL exactly.
            models.CheckConstraint(
                condition=Exact(Round(F("total") - F("total_excl_vat") - F("vat_amount"), 2), 0),
                name="invoice_total_adds_up",
            ),
            models.CheckConstraint(
                condition=Q(due_date__gte=models.F("invoice_date")), name="invoice_due_after_date"
            ),
            models.CheckConstraint(
                condition=Q(share_percent__gt=0) & Q(share_percent__lte=100), name="invoice_share_percentage"
            ),
        ]
        permissions = [
            ("export_invoice", _("Can export invoices and payments for the accounts")),
            ("run_invoices", _("Can run dues invoicing")),
        ]

    def __str__(self):
        return self.number

    @property
    def is_credit_note(self) -> bool:
        return self.kind == self.Kind.CREDIT_NOTE

    @property
    def open_amount(self) -> Decimal:
        """What is still to be paid (negative on a credit note: what is still to be refunded)."""
        if self.status in (self.Status.WRITTEN_OFF, self.Status.CREDITED):
            return ZERO
        return self.total - self.amount_paid - self.amount_credited

    def is_overdue(self, today: date | None = None) -> bool:
        today = today or timezone.localdate()
        return (
            self.kind == self.Kind.INVOICE
            and self.status in self.UNSETTLED_STATUSES
            and self.due_date < today
        )

    @property
    def payment_state(self) -> str:
        """The state to show: the stored status, or "overdue" once an unsettled invoice passes its due date."""
        return "overdue" if self.is_overdue() else self.status

    @property
    def payment_reference(self) -> str:
        from kring.billing.references import payment_reference_for

        return payment_reference_for(self.year, self.sequence, self.reference_kind)


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField(default=0)
    description = models.CharField(_("description"), max_length=200)
    quantity = models.DecimalField(_("quantity"), max_digits=10, decimal_places=2, default=Decimal("1"))
    unit_price = money_field(_("unit price"))
    vat_rate = models.DecimalField(_("VAT rate (%)"), max_digits=5, decimal_places=2, default=Decimal("0"))
    amount_excl_vat = money_field(_("amount excl. VAT"))
    vat_amount = money_field(_("VAT"))
    amount = money_field(_("amount"))

    class Meta:
        verbose_name = _("invoice line")
        verbose_name_plural = _("invoice lines")
        ordering = ["invoice", "position", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Exact(Round(F("amount") - F("amount_excl_vat") - F("vat_amount"), 2), 0),
                name="invoice_line_adds_up",
            ),
            models.CheckConstraint(
                condition=Q(vat_rate__gte=0) & Q(vat_rate__lte=100), name="invoice_line_vat_percentage"
            ),
        ]

    def __str__(self):
        return self.description


class Payment(models.Model):
    """Money received for (or returned on) an invoice. Negative amounts are refunds and reversals."""

    class Method(models.TextChoices):
        TRANSFER = "transfer", _("bank transfer")
        DIRECT_DEBIT = "direct_debit", _("direct debit")
        ONLINE = "online", _("online payment")
        CASH = "cash", _("cash")
        REFUND = "refund", _("refund")
        REVERSAL = "reversal", _("reversal")
        CORRECTION = "correction", _("correction")

    class Source(models.TextChoices):
        TREASURER = "treasurer", _("recorded by the treasurer")
        BANK_STATEMENT = "bank_statement", _("bank statement")
        ONLINE = "online", _("online payment")

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    amount = money_field(_("amount"), default=None)
    paid_on = models.DateField(_("date"))
    method = models.CharField(_("method"), max_length=20, choices=Method.choices)
    source = models.CharField(_("source"), max_length=20, choices=Source.choices, default=Source.TREASURER)
    reference = models.CharField(_("reference"), max_length=200, blank=True)
    # Provider id or bank entry id: a payment arriving twice is recorded once.
    external_id = models.CharField(max_length=200, null=True, blank=True, unique=True)
    note = models.TextField(_("note"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("recorded"), default=timezone.now)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-paid_on", "-pk"]
        indexes = [models.Index(fields=["paid_on"], name="payment_date_idx")]
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="payment_not_zero")]

    def __str__(self):
        return f"{self.invoice} {self.amount}"


class OnlinePayment(models.Model):
    """A payment started online through a provider (Mollie, or the local demo provider)."""

    class Status(models.TextChoices):
        OPEN = "open", _("waiting")
        PENDING = "pending", _("being processed")
        PAID = "paid", _("paid")
        FAILED = "failed", _("failed")
        CANCELED = "canceled", pgettext_lazy("online payment status", "cancelled")
        EXPIRED = "expired", _("expired")

    FINAL_STATUSES = (Status.PAID, Status.FAILED, Status.CANCELED, Status.EXPIRED)

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="online_payments")
    provider = models.CharField(_("provider"), max_length=20)
    provider_payment_id = models.CharField(max_length=100)
    amount = money_field(_("amount"), default=None)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.OPEN)
    method = models.CharField(_("method"), max_length=40, blank=True)
    checkout_url = models.URLField(max_length=500, blank=True)
    payment = models.OneToOneField(
        Payment, null=True, blank=True, on_delete=models.SET_NULL, related_name="online_payment"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("online payment")
        verbose_name_plural = _("online payments")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_payment_id"], name="online_payment_unique_id"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="online_payment_positive"),
        ]

    def __str__(self):
        return f"{self.provider} {self.provider_payment_id}"


class PrintBatch(models.Model):
    """Letters to print and post (reminders for members who prefer paper), as one PDF."""

    class Kind(models.TextChoices):
        REMINDERS = "reminders", _("reminders")
        INVOICES = "invoices", _("invoices")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    letter_count = models.PositiveIntegerField(_("letters"), default=0)
    printed_at = models.DateTimeField(_("printed"), null=True, blank=True)

    class Meta:
        verbose_name = _("print batch")
        verbose_name_plural = _("print batches")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.get_kind_display()} {self.created_at:%Y-%m-%d}"


class Reminder(models.Model):
    """One reminder step taken for one invoice. The unique key makes every step happen once."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("email")
        PAPER = "paper", _("paper")
        FLAG = "flag", _("flagged for the secretariat")

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="reminders")
    level = models.PositiveSmallIntegerField(_("step"))
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    print_batch = models.ForeignKey(
        PrintBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="reminders"
    )

    class Meta:
        verbose_name = _("reminder")
        verbose_name_plural = _("reminders")
        ordering = ["invoice", "level"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "level"], name="reminder_once_per_step"),
        ]
        indexes = [
            models.Index(
                fields=["created_at"], condition=Q(sent_at__isnull=True), name="reminder_unsent_idx"
            ),
        ]

    def __str__(self):
        return f"{self.invoice} #{self.level}"
