from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email, password=None, **extra_fields):
        if not email:
            raise ValueError("A user needs an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra_fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A login. Members, contact persons and staff all log in with their email address."""

    email = models.EmailField(_("email address"), unique=True)
    full_name = models.CharField(_("name"), max_length=200, blank=True)
    is_staff = models.BooleanField(
        _("staff"), default=False, help_text=_("Works in the back office (secretariat, treasurer, board, …).")
    )
    is_active = models.BooleanField(_("active"), default=True)
    mfa_exempt = models.BooleanField(
        _("exempt from the second factor"),
        default=False,
        help_text=_("Only for demo accounts: staff normally must use a second factor."),
    )
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self):
        return self.full_name or self.email

    def get_full_name(self):
        return self.full_name or self.email

    def get_short_name(self):
        return self.get_full_name()


class Association(models.Model):
    """The association that runs this Kring installation (one per installation)."""

    name = models.CharField(_("name"), max_length=200, default="Vereniging")
    kvk_number = models.CharField(_("KvK number"), max_length=8, blank=True)
    enterprise_number = models.CharField(_("Belgian enterprise number"), max_length=12, blank=True)
    vat_number = models.CharField(_("VAT number"), max_length=20, blank=True)
    street = models.CharField(_("street"), max_length=200, blank=True)
    house_number = models.CharField(_("house number"), max_length=20, blank=True)
    postcode = models.CharField(_("postcode"), max_length=10, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    country = models.CharField(_("country"), max_length=2, default="NL")
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    website = models.URLField(_("website"), blank=True)
    member_number_prefix = models.CharField(
        _("member number prefix"), max_length=10, blank=True, help_text=_("For example 'L' gives L000123.")
    )
    member_number_digits = models.PositiveSmallIntegerField(
        _("digits in a member number"),
        default=6,
        help_text=_("The number is padded with zeros to this length."),
    )
    age_reference_month = models.PositiveSmallIntegerField(
        _("month of the age reference date"),
        default=1,
        help_text=_("Age-based prices use the member's age on this day of the year (1 January by default)."),
    )
    age_reference_day = models.PositiveSmallIntegerField(_("day of the age reference date"), default=1)

    class Meta:
        verbose_name = _("association")
        verbose_name_plural = _("association")

    def __str__(self):
        return self.name

    def clean(self):
        if not 1 <= self.member_number_digits <= 12:
            raise ValidationError({"member_number_digits": _("Choose between 1 and 12 digits.")})

    @classmethod
    def current(cls) -> "Association":
        association = cls.objects.order_by("pk").first()
        if association is None:
            association, _created = cls.objects.get_or_create(pk=1)
        return association

    def format_member_number(self, number: int) -> str:
        return f"{self.member_number_prefix}{number:0{self.member_number_digits}d}"


class NumberSequence(models.Model):
    """Gapless counters (member numbers, later invoice numbers per year), taken under a row lock."""

    name = models.CharField(max_length=100, unique=True)
    last_value = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("number sequence")

    def __str__(self):
        return f"{self.name}: {self.last_value}"

    @classmethod
    def reserve(cls, name: str, count: int = 1) -> range:
        """Reserve `count` consecutive numbers; must run inside the caller's transaction."""
        if count < 1:
            return range(0)
        with transaction.atomic():
            cls.objects.get_or_create(name=name)
            sequence = cls.objects.select_for_update().get(name=name)
            first = sequence.last_value + 1
            sequence.last_value += count
            sequence.save(update_fields=["last_value"])
        return range(first, first + count)

    @classmethod
    def ensure_at_least(cls, name: str, value: int) -> None:
        """Move the counter past numbers that were assigned outside it (e.g. imported)."""
        with transaction.atomic():
            cls.objects.get_or_create(name=name)
            cls.objects.select_for_update().filter(name=name, last_value__lt=value).update(last_value=value)


class AuditEntry(models.Model):
    """One row per change to personal, financial or membership data: who, when, what, before → after.

    Written only through kring.core.audit.log_action. Never edited or deleted by the application.
    """

    action = models.CharField(_("action"), max_length=100, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_label = models.CharField(_("by"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    object_type = models.CharField(_("object type"), max_length=50)
    object_id = models.CharField(_("object id"), max_length=50)
    # The member this change concerns, so the member page can show its whole history.
    member_id = models.BigIntegerField(null=True, blank=True)
    changes = models.JSONField(_("changes"), default=list, blank=True)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["member_id", "-created_at"], name="audit_member_idx"),
            models.Index(fields=["object_type", "object_id"], name="audit_object_idx"),
        ]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk and not kwargs.pop("force_audit_update", False):
            raise ValidationError("Audit entries cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("Audit entries cannot be deleted.")


class BackgroundJob(models.Model):
    """A long-running piece of work (import, invoice run, …) with progress the user can watch.

    The task queue carries only the job id; this row holds the state, so a page reload, another
    app server or a restarted worker all see the same progress. See kring.core.jobs.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("waiting")
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("finished")
        FAILED = "failed", _("failed")

    kind = models.CharField(_("kind"), max_length=100)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.QUEUED)
    params = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    progress_label = models.CharField(max_length=200, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    input_file = models.BinaryField(null=True, blank=True, editable=False)
    input_filename = models.CharField(max_length=255, blank=True)

    class Meta:
        verbose_name = _("background job")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="job_status_idx")]

    def __str__(self):
        return f"{self.kind} #{self.pk} ({self.status})"

    @property
    def percent(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        if not self.progress_total:
            return 0
        return min(100, int(self.progress_done * 100 / self.progress_total))

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)
