"""The SEPA loop: the association as creditor, members' mandates, collection batches (pain.008),
and bank statements (camt.053, CODA) with their entries matched to invoices.

IBANs of debtors are personal data: encrypted at rest with a keyed fingerprint beside them for
lookups and a masked form for lists, as in kring.members.BankAccount.
"""

from datetime import time

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kring.billing.models import Invoice, Payment
from kring.core.fields import EncryptedTextField
from kring.members.models import Member


class EncryptedIbanMixin(models.Model):
    """An encrypted IBAN with its fingerprint and masked form, kept in step on save."""

    iban = EncryptedTextField(_("IBAN"))
    iban_fingerprint = models.CharField(max_length=64, editable=False, db_index=True)
    iban_masked = models.CharField(_("IBAN"), max_length=40, editable=False)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        from kring.core.crypto import fingerprint
        from kring.members.validation import mask_iban

        self.iban_masked = mask_iban(self.iban)
        self.iban_fingerprint = fingerprint(self.iban)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "iban" in update_fields:
            kwargs["update_fields"] = set(update_fields) | {"iban_masked", "iban_fingerprint"}
        super().save(*args, **kwargs)


class CreditorSettings(models.Model):
    """The association as SEPA creditor: its identifier, account and the bank's submission rules."""

    class MessageVersion(models.TextChoices):
        V08 = "pain.008.001.08", _("pain.008.001.08 (current EPC version)")
        V02 = "pain.008.001.02", _("pain.008.001.02 (older; only while your bank still accepts it)")

    creditor_name = models.CharField(_("creditor name"), max_length=70, blank=True)
    creditor_identifier = models.CharField(_("creditor identifier"), max_length=35, blank=True)
    iban = models.CharField(_("IBAN to collect on"), max_length=34, blank=True)
    bic = models.CharField(_("BIC"), max_length=11, blank=True)
    message_version = models.CharField(
        _("file version"), max_length=20, choices=MessageVersion.choices, default=MessageVersion.V08
    )
    submission_cutoff = models.TimeField(
        _("bank's cut-off time"),
        default=time(14, 0),
        help_text=_("A file handed in after this time counts as handed in on the next business day."),
    )
    lead_days = models.PositiveSmallIntegerField(
        _("lead time in business days"),
        default=1,
        validators=[MaxValueValidator(15)],
        help_text=_(
            "How many TARGET2 business days the bank needs between receiving the file and collecting."
        ),
    )
    prenotification_days = models.PositiveSmallIntegerField(
        _("pre-notification in days"),
        default=14,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text=_("Members are told the amount and the date at least this many days before collection."),
    )
    mandate_expiry_months = models.PositiveSmallIntegerField(
        _("a mandate expires after months unused"), default=36, editable=False
    )

    class Meta:
        verbose_name = _("direct-debit settings")
        verbose_name_plural = _("direct-debit settings")

    def __str__(self):
        return str(_("direct-debit settings"))

    @classmethod
    def current(cls) -> "CreditorSettings":
        current = cls.objects.order_by("pk").first()
        if current is None:
            current, _created = cls.objects.get_or_create(pk=1)
        return current


class Mandate(EncryptedIbanMixin):
    """A member's permission to collect from their account (SEPA Core)."""

    class Kind(models.TextChoices):
        RECURRENT = "recurrent", _("recurrent")
        ONE_OFF = "one_off", _("one-off")

    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        SUSPENDED = "suspended", _("suspended (new details needed)")
        REVOKED = "revoked", _("revoked")
        EXPIRED = "expired", _("expired (unused for 36 months)")

    class Source(models.TextChoices):
        PAPER = "paper", _("on paper")
        ELECTRONIC = "electronic", _("electronically")

    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="mandates"
    )
    reference = models.CharField(_("mandate reference"), max_length=35, unique=True)
    signed_on = models.DateField(_("date of signature"))
    scheme = models.CharField(_("scheme"), max_length=4, default="CORE", editable=False)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.RECURRENT)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.ACTIVE)
    debtor_name = models.CharField(_("account holder"), max_length=70)
    bic = models.CharField(_("BIC"), max_length=11, blank=True)
    last_collected_on = models.DateField(_("last collected"), null=True, blank=True)
    ended_on = models.DateField(_("ended on"), null=True, blank=True)
    end_reason = models.CharField(_("why it ended"), max_length=200, blank=True)

    # How the member gave it: on paper (recorded by staff) or electronically (when, how, from where).
    source = models.CharField(_("given"), max_length=20, choices=Source.choices, default=Source.PAPER)
    consent_text = models.TextField(_("text agreed to"), blank=True)
    consent_at = models.DateTimeField(_("agreed at"), null=True, blank=True)
    consent_channel = models.CharField(_("agreed through"), max_length=100, blank=True)
    consent_ip = models.GenericIPAddressField(_("from IP address"), null=True, blank=True)
    consent_user_agent = models.CharField(_("from browser"), max_length=300, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("recorded"), default=timezone.now)

    class Meta:
        verbose_name = _("mandate")
        verbose_name_plural = _("mandates")
        ordering = ["-signed_on", "-pk"]
        indexes = [models.Index(fields=["member", "status"], name="mandate_member_status_idx")]
        constraints = [
            # One mandate in use per member: a new one replaces the old (which is revoked first).
            models.UniqueConstraint(
                fields=["member"], condition=Q(status="active"), name="mandate_one_active_per_member"
            ),
        ]

    def __str__(self):
        return self.reference


class MandateAmendment(models.Model):
    """A change to a mandate (new IBAN, new reference) that the next collection must carry, once."""

    mandate = models.ForeignKey(Mandate, on_delete=models.CASCADE, related_name="amendments")
    changed_at = models.DateTimeField(_("changed"), default=timezone.now)
    original_reference = models.CharField(_("previous mandate reference"), max_length=35, blank=True)
    original_iban = EncryptedTextField(_("previous IBAN"), blank=True)
    original_iban_masked = models.CharField(_("previous IBAN"), max_length=40, blank=True)
    other_bank = models.BooleanField(
        _("moved to another bank"), default=False, help_text=_("Carried as SMNDA in the next collection.")
    )
    carried_in = models.ForeignKey(
        "CollectionBatch", null=True, blank=True, on_delete=models.SET_NULL, related_name="amendments"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("mandate amendment")
        verbose_name_plural = _("mandate amendments")
        ordering = ["mandate", "changed_at", "pk"]
        indexes = [
            models.Index(
                fields=["mandate"], condition=Q(carried_in__isnull=True), name="amendment_pending_idx"
            )
        ]

    def __str__(self):
        return f"{self.mandate} {self.changed_at:%Y-%m-%d}"


class CollectionBatch(models.Model):
    """One pain.008 file: the direct debits handed to the bank for one collection date."""

    class Status(models.TextChoices):
        CREATED = "created", _("file made")
        SUBMITTED = "submitted", _("handed to the bank")
        SETTLED = "settled", _("settled")
        CANCELLED = "cancelled", _("cancelled")

    message_id = models.CharField(_("message id"), max_length=35, unique=True)
    collection_date = models.DateField(_("collection date"))
    version = models.CharField(_("file version"), max_length=20)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.CREATED)
    debit_count = models.PositiveIntegerField(_("debits"), default=0)
    total = models.DecimalField(_("total"), max_digits=14, decimal_places=2, default=0)
    # The file itself lives in the database: every app server can hand it out again.
    xml = models.BinaryField(_("file"), blank=True)
    job = models.ForeignKey(
        "core.BackgroundJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("made"), default=timezone.now)

    class Meta:
        verbose_name = _("collection batch")
        verbose_name_plural = _("collection batches")
        ordering = ["-created_at", "-pk"]
        permissions = [("collect_directdebit", _("Can make direct-debit collection files"))]

    def __str__(self):
        return self.message_id


class CollectionItem(models.Model):
    """One invoice in one collection batch. An invoice is in at most one open collection at a time."""

    class Status(models.TextChoices):
        PENDING = "pending", _("in collection")
        COLLECTED = "collected", _("collected")
        RETURNED = "returned", _("returned")

    class SequenceType(models.TextChoices):
        RECURRENT = "RCUR", "RCUR"
        ONE_OFF = "OOFF", "OOFF"

    batch = models.ForeignKey(CollectionBatch, on_delete=models.PROTECT, related_name="items")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="collection_items")
    mandate = models.ForeignKey(Mandate, on_delete=models.PROTECT, related_name="collection_items")
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    end_to_end_id = models.CharField(_("end-to-end id"), max_length=35, db_index=True)
    sequence_type = models.CharField(_("sequence type"), max_length=4, choices=SequenceType.choices)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PENDING)
    return_reason = models.CharField(_("return reason code"), max_length=4, blank=True)
    attempt = models.PositiveSmallIntegerField(_("attempt"), default=1)

    class Meta:
        verbose_name = _("collected invoice")
        verbose_name_plural = _("collected invoices")
        constraints = [
            models.UniqueConstraint(
                fields=["invoice"], condition=Q(status="pending"), name="collection_item_one_open_per_invoice"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="collection_item_positive"),
        ]

    def __str__(self):
        return f"{self.end_to_end_id} ({self.get_status_display()})"


class PreNotification(models.Model):
    """The notice a debtor gets before a collection: amount, date, mandate and creditor id. Sent once."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("email")
        PAPER = "paper", _("paper")

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="prenotifications")
    mandate = models.ForeignKey(Mandate, on_delete=models.PROTECT, related_name="+")
    collection_date = models.DateField(_("collection date"))
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("pre-notification")
        verbose_name_plural = _("pre-notifications")
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "collection_date"], name="prenotification_once_per_invoice_and_date"
            )
        ]

    def __str__(self):
        return f"{self.invoice} {self.collection_date}"


class BankStatement(models.Model):
    """One imported bank statement (camt.053 or CODA). The same file twice is refused by its hash."""

    class Format(models.TextChoices):
        CAMT053 = "camt053", "camt.053"
        CODA = "coda", "CODA"

    format = models.CharField(_("format"), max_length=10, choices=Format.choices)
    format_version = models.CharField(_("version"), max_length=30, blank=True)
    file_name = models.CharField(_("file"), max_length=200, blank=True)
    file_sha256 = models.CharField(max_length=64, unique=True)
    account_iban = models.CharField(_("account"), max_length=34, blank=True)
    statement_id = models.CharField(_("statement"), max_length=100, blank=True)
    period_from = models.DateField(_("from"), null=True, blank=True)
    period_to = models.DateField(_("until"), null=True, blank=True)
    opening_balance = models.DecimalField(
        _("opening balance"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    closing_balance = models.DecimalField(
        _("closing balance"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    entry_count = models.PositiveIntegerField(_("transactions"), default=0)
    matched_count = models.PositiveIntegerField(_("matched"), default=0)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    imported_at = models.DateTimeField(_("imported"), default=timezone.now)

    class Meta:
        verbose_name = _("bank statement")
        verbose_name_plural = _("bank statements")
        ordering = ["-imported_at", "-pk"]
        permissions = [("import_bankstatement", _("Can import bank statements"))]

    def __str__(self):
        return f"{self.account_iban} {self.statement_id}"


class StatementTransaction(models.Model):
    """One transaction of a statement (a batch-booked entry gives one per underlying transaction)."""

    class Match(models.TextChoices):
        UNMATCHED = "unmatched", _("not matched")
        END_TO_END = "end_to_end", _("end-to-end id")
        REFERENCE = "reference", _("payment reference")
        INVOICE_NUMBER = "invoice_number", _("invoice number in the description")
        AMOUNT_AND_NAME = "amount_and_name", _("amount and name or IBAN")
        MANUAL = "manual", _("matched by hand")
        IGNORED = "ignored", _("not for an invoice")

    statement = models.ForeignKey(BankStatement, on_delete=models.CASCADE, related_name="transactions")
    position = models.PositiveIntegerField()
    entry_reference = models.CharField(_("bank reference"), max_length=100, blank=True)
    booking_date = models.DateField(_("booked"))
    value_date = models.DateField(_("value date"), null=True, blank=True)
    amount = models.DecimalField(
        _("amount"), max_digits=14, decimal_places=2, help_text=_("Negative: money out.")
    )
    is_return = models.BooleanField(_("return or refund"), default=False)
    return_reason = models.CharField(_("reason code"), max_length=4, blank=True)
    bank_transaction_code = models.CharField(_("transaction code"), max_length=40, blank=True)
    end_to_end_id = models.CharField(_("end-to-end id"), max_length=35, blank=True, db_index=True)
    mandate_reference = models.CharField(_("mandate reference"), max_length=35, blank=True)
    batch_reference = models.CharField(_("batch"), max_length=100, blank=True)
    remittance = models.CharField(_("description"), max_length=500, blank=True)
    structured_reference = models.CharField(_("payment reference"), max_length=35, blank=True)
    counterparty_name = models.CharField(_("name"), max_length=140, blank=True)
    counterparty_iban = EncryptedTextField(_("IBAN"), blank=True)
    counterparty_iban_masked = models.CharField(_("IBAN"), max_length=40, blank=True)
    counterparty_iban_fingerprint = models.CharField(max_length=64, blank=True, db_index=True)
    match = models.CharField(_("matched by"), max_length=20, choices=Match.choices, default=Match.UNMATCHED)
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.SET_NULL, related_name="statement_transactions"
    )
    payment = models.OneToOneField(
        Payment, null=True, blank=True, on_delete=models.SET_NULL, related_name="statement_transaction"
    )

    class Meta:
        verbose_name = _("statement transaction")
        verbose_name_plural = _("statement transactions")
        ordering = ["statement", "position"]
        indexes = [
            models.Index(fields=["match", "booking_date"], name="statement_tx_match_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["statement", "position"], name="statement_tx_position_unique"),
        ]

    def __str__(self):
        return f"{self.booking_date} {self.amount}"
