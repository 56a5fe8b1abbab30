"""Member administration: people and organisations, plans, memberships, households, payers.

Models guard their own invariants (clean + database constraints). State changes go through
the named functions in services.py, which also write the audit log.
"""

from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kring.core.fields import EncryptedTextField


class Country(models.TextChoices):
    NL = "NL", _("Netherlands")
    BE = "BE", _("Belgium")
    DE = "DE", _("Germany")
    LU = "LU", _("Luxembourg")
    FR = "FR", _("France")
    OTHER = "XX", _("Other country")


class BillingFrequency(models.TextChoices):
    YEARLY = "yearly", _("yearly")
    HALF_YEARLY = "half_yearly", _("half-yearly")
    QUARTERLY = "quarterly", _("quarterly")
    MONTHLY = "monthly", _("monthly")

    @classmethod
    def instalments_per_year(cls, frequency: str) -> int:
        return {cls.YEARLY: 1, cls.HALF_YEARLY: 2, cls.QUARTERLY: 4, cls.MONTHLY: 12}[frequency]


class PaymentMethod(models.TextChoices):
    TRANSFER = "transfer", _("bank transfer")
    DIRECT_DEBIT = "direct_debit", _("direct debit")


class MemberType(models.Model):
    """Kinds of membership as the statutes define them (member, youth member, donor, honorary member, …)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    has_vote = models.BooleanField(_("has a vote at the general assembly"), default=True)
    pays_dues = models.BooleanField(_("pays dues"), default=True)
    is_honorary = models.BooleanField(
        _("honorary"), default=False, help_text=_("Honorary members and members of merit.")
    )
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("member type")
        verbose_name_plural = _("member types")
        ordering = ["sort_order", "name"]

    def __str__(self):
        return self.name


class PortalPart(models.Model):
    """A part of the member portal that a plan can give access to (knowledge base, community, …)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        verbose_name = _("portal part")
        verbose_name_plural = _("portal parts")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Plan(models.Model):
    class Renewal(models.TextChoices):
        AUTOMATIC = "automatic", _("renews automatically")
        CONFIRMATION = "confirmation", _("the member must confirm renewal")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    yearly_price = models.DecimalField(
        _("price per year"), max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    term_months = models.PositiveSmallIntegerField(_("term in months"), default=12)
    renewal = models.CharField(
        _("renewal"), max_length=20, choices=Renewal.choices, default=Renewal.AUTOMATIC
    )
    notice_period_days = models.PositiveSmallIntegerField(
        _("notice period in days"),
        default=30,
        help_text=_("How long before the end of the term a member must cancel."),
    )
    is_addon = models.BooleanField(_("add-on"), default=False, help_text=_("Taken on top of a main plan."))
    addons = models.ManyToManyField(
        "self",
        verbose_name=_("available add-ons"),
        blank=True,
        symmetrical=False,
        limit_choices_to={"is_addon": True},
        related_name="base_plans",
    )
    portal_parts = models.ManyToManyField(PortalPart, verbose_name=_("gives access to"), blank=True)
    member_types = models.ManyToManyField(
        MemberType,
        verbose_name=_("for member types"),
        blank=True,
        help_text=_("Leave empty if every member type may take this plan."),
    )
    covers_household = models.BooleanField(
        _("covers the household"),
        default=False,
        help_text=_("One membership for everyone in the household (partner, children)."),
    )
    for_organisations = models.BooleanField(_("for organisations"), default=False)
    vat_rate = models.DecimalField(
        _("VAT rate (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("0 when the dues are exempt from VAT, as for most associations."),
    )
    vat_exemption_text = models.CharField(
        _("VAT exemption text"),
        max_length=200,
        blank=True,
        default="Vrijgesteld van btw",
        help_text=_("Printed on the invoice when the VAT rate is 0, e.g. 'Vrijgesteld van btw'."),
    )
    is_active = models.BooleanField(_("open for new members"), default=True)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("membership plan")
        verbose_name_plural = _("membership plans")
        ordering = ["sort_order", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(yearly_price__gte=0), name="plan_price_not_negative"),
            models.CheckConstraint(
                condition=Q(vat_rate__gte=0) & Q(vat_rate__lte=100), name="plan_vat_rate_percentage"
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        if self.term_months < 1:
            raise ValidationError({"term_months": _("A term lasts at least one month.")})


class PlanPrice(models.Model):
    """A billing frequency the plan allows, with the price of one instalment."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="prices", verbose_name=_("plan"))
    frequency = models.CharField(_("billing frequency"), max_length=20, choices=BillingFrequency.choices)
    instalment_price = models.DecimalField(
        _("price per instalment"),
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"))],
    )

    class Meta:
        verbose_name = _("plan price")
        verbose_name_plural = _("plan prices")
        constraints = [
            models.UniqueConstraint(fields=["plan", "frequency"], name="plan_price_once_per_frequency"),
            models.CheckConstraint(
                condition=Q(instalment_price__gte=0), name="plan_price_instalment_not_negative"
            ),
        ]

    def __str__(self):
        return f"{self.plan} – {self.get_frequency_display()}: € {self.instalment_price}"


class PriceRule(models.Model):
    """A discount or surcharge on a plan, shown as its own line in the dues breakdown."""

    class Kind(models.TextChoices):
        YOUTH = "youth", _("youth")
        STUDENT = "student", _("student")
        SENIOR = "senior", _("senior")
        HOUSEHOLD = "household", _("household member")
        FIRST_YEAR = "first_year", _("first year")
        REGIONAL = "regional", _("region")

    class Adjustment(models.TextChoices):
        PERCENT = "percent", _("percentage of the base price")
        AMOUNT = "amount", _("fixed amount per year")

    plan = models.ForeignKey(
        Plan, on_delete=models.CASCADE, related_name="price_rules", verbose_name=_("plan")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    label = models.CharField(_("text on the invoice"), max_length=100)
    adjustment = models.CharField(_("adjustment"), max_length=10, choices=Adjustment.choices)
    value = models.DecimalField(
        _("value"),
        max_digits=10,
        decimal_places=2,
        help_text=_("Negative for a discount, positive for a surcharge: -50 is 50% off or € 50 off."),
    )
    min_age = models.PositiveSmallIntegerField(_("from age"), null=True, blank=True)
    max_age = models.PositiveSmallIntegerField(_("up to and including age"), null=True, blank=True)
    countries = models.CharField(
        _("countries"),
        max_length=50,
        blank=True,
        help_text=_("Country codes, comma-separated (regional rules)."),
    )
    postcode_from = models.CharField(_("postcode from"), max_length=10, blank=True)
    postcode_to = models.CharField(_("postcode up to"), max_length=10, blank=True)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("price rule")
        verbose_name_plural = _("price rules")
        ordering = ["sort_order", "pk"]

    def __str__(self):
        return self.label

    def clean(self):
        errors = {}
        if self.kind in (self.Kind.YOUTH, self.Kind.SENIOR) and self.min_age is None and self.max_age is None:
            errors["min_age"] = _("An age rule needs a lowest or highest age.")
        if self.min_age is not None and self.max_age is not None and self.min_age > self.max_age:
            errors["max_age"] = _("The highest age must not be below the lowest age.")
        if self.adjustment == self.Adjustment.PERCENT and not Decimal("-100") <= self.value <= Decimal("100"):
            errors["value"] = _("A percentage lies between -100 and 100.")
        if self.kind == self.Kind.REGIONAL and not (self.countries or self.postcode_from):
            errors["countries"] = _("A regional rule needs countries or a postcode range.")
        if errors:
            raise ValidationError(errors)


class CancellationReason(models.Model):
    """Why members leave, as a list the association keeps."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    label = models.CharField(_("reason"), max_length=200)
    is_active = models.BooleanField(_("in use"), default=True)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("cancellation reason")
        verbose_name_plural = _("cancellation reasons")
        ordering = ["sort_order", "label"]

    def __str__(self):
        return self.label


class Household(models.Model):
    name = models.CharField(_("name"), max_length=200)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")

    def __str__(self):
        return self.name


class Member(models.Model):
    """A member: a person or an organisation. Each person keeps their own data and login."""

    class Kind(models.TextChoices):
        PERSON = "person", _("person")
        ORGANISATION = "organisation", _("organisation")

    class Correspondence(models.TextChoices):
        EMAIL = "email", _("by email")
        PAPER = "paper", _("on paper")

    class HouseholdRole(models.TextChoices):
        HEAD = "head", _("main member")
        PARTNER = "partner", _("partner")
        CHILD = "child", _("child")
        OTHER = "other", _("other")

    member_number = models.CharField(_("member number"), max_length=20, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.PERSON)
    member_type = models.ForeignKey(MemberType, verbose_name=_("member type"), on_delete=models.PROTECT)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("login"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="member",
    )

    # People (Dutch name parts)
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    initials = models.CharField(_("initials"), max_length=20, blank=True)
    name_prefix = models.CharField(
        _("tussenvoegsel"), max_length=20, blank=True, help_text=_("e.g. 'van der'")
    )
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    date_of_birth = models.DateField(_("date of birth"), null=True, blank=True)
    student_until = models.DateField(_("student until"), null=True, blank=True)
    # Organisations
    organisation_name = models.CharField(_("organisation name"), max_length=200, blank=True)
    kvk_number = models.CharField(_("KvK number"), max_length=8, blank=True)

    # Derived, stored for sorting and search (kept in step by Member.save and the import).
    sort_name = models.CharField(_("sort name"), max_length=300, editable=False)
    search_name = models.CharField(max_length=400, editable=False)

    email = models.EmailField(_("email address"), blank=True)
    phone = models.CharField(
        _("phone number"), max_length=20, blank=True, help_text=_("Stored as +31612345678.")
    )
    street = models.CharField(_("street"), max_length=200, blank=True)
    house_number = models.PositiveIntegerField(_("house number"), null=True, blank=True)
    house_number_addition = models.CharField(_("addition"), max_length=10, blank=True)
    postcode = models.CharField(_("postcode"), max_length=10, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    city_search = models.CharField(max_length=100, editable=False, blank=True)
    country = models.CharField(_("country"), max_length=2, choices=Country.choices, default=Country.NL)
    correspondence = models.CharField(
        _("correspondence"), max_length=10, choices=Correspondence.choices, default=Correspondence.EMAIL
    )
    payment_method = models.CharField(
        _("pays by"), max_length=20, choices=PaymentMethod.choices, default=PaymentMethod.TRANSFER
    )

    household = models.ForeignKey(
        Household,
        verbose_name=_("household"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
    )
    household_role = models.CharField(
        _("role in household"), max_length=20, choices=HouseholdRole.choices, blank=True
    )
    guardian = models.ForeignKey(
        "self",
        verbose_name=_("parent or guardian"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="wards",
        help_text=_("Logs in and pays for this (young) member."),
    )

    # Summary of the main (non add-on) current membership, kept by services.refresh_membership_summary
    # so that the back office can filter a million members by plan and status through an index.
    current_plan = models.ForeignKey(
        Plan, verbose_name=_("plan"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    membership_status = models.CharField(_("membership status"), max_length=20, blank=True)

    member_since = models.DateField(
        _("member since"), null=True, blank=True, help_text=_("Start of the current continuous membership.")
    )
    may_be_named_for_anniversary = models.BooleanField(
        _("may be named at anniversaries"),
        default=True,
        help_text=_("The member agrees to be named publicly for a membership anniversary."),
    )
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        ordering = ["sort_name", "pk"]
        indexes = [
            models.Index(fields=["sort_name", "id"], name="member_sort_idx"),
            models.Index(fields=["postcode"], name="member_postcode_idx"),
            models.Index(fields=["city_search"], name="member_city_idx"),
            models.Index(fields=["country", "sort_name", "id"], name="member_country_idx"),
            models.Index(fields=["membership_status", "sort_name", "id"], name="member_status_idx"),
            models.Index(fields=["current_plan", "sort_name", "id"], name="member_plan_idx"),
            models.Index(fields=["email"], name="member_email_idx"),
            models.Index(fields=["member_since"], name="member_since_idx"),
            # "Turning 18 soon" on the overview looks members up by birth date.
            models.Index(fields=["date_of_birth"], name="member_birth_idx"),
        ]
        permissions = [
            ("export_member", _("Can export members")),
            ("import_member", _("Can import members")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="organisation") | ~Q(last_name=""), name="member_person_has_last_name"
            ),
            models.CheckConstraint(
                condition=Q(kind="person") | ~Q(organisation_name=""), name="member_organisation_has_name"
            ),
        ]

    def __str__(self):
        return self.display_name

    def save(self, *args, **kwargs):
        self.refresh_derived_fields()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = set(update_fields) | {"sort_name", "search_name", "city_search"}
        super().save(*args, **kwargs)

    def refresh_derived_fields(self):
        from kring.members.names import city_search_key, search_key, sort_key

        self.sort_name = sort_key(self)
        self.search_name = search_key(self)
        self.city_search = city_search_key(self.city)

    @property
    def is_person(self) -> bool:
        return self.kind == self.Kind.PERSON

    @property
    def display_name(self) -> str:
        from kring.members.names import display_name

        return display_name(self)

    @property
    def listed_name(self) -> str:
        """'Berg, Anna van den': how lists sort and show people."""
        from kring.members.names import listed_name

        return listed_name(self)

    def age_on(self, day: date) -> int | None:
        if not self.date_of_birth:
            return None
        born = self.date_of_birth
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


class ContactPerson(models.Model):
    """A contact person of an organisation member (trade associations: companies as members)."""

    organisation = models.ForeignKey(
        Member,
        on_delete=models.CASCADE,
        related_name="contact_persons",
        verbose_name=_("organisation"),
        limit_choices_to={"kind": Member.Kind.ORGANISATION},
    )
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    name_prefix = models.CharField(_("tussenvoegsel"), max_length=20, blank=True)
    last_name = models.CharField(_("last name"), max_length=150)
    role = models.CharField(_("role"), max_length=100, blank=True, help_text=_("e.g. director, HR"))
    email = models.EmailField(_("email address"), blank=True)
    phone = models.CharField(_("phone number"), max_length=20, blank=True)
    is_primary = models.BooleanField(_("main contact"), default=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contact_person",
        verbose_name=_("login"),
    )

    class Meta:
        verbose_name = _("contact person")
        verbose_name_plural = _("contact persons")
        ordering = ["-is_primary", "last_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation"],
                condition=Q(is_primary=True),
                name="one_primary_contact_per_organisation",
            )
        ]

    def __str__(self):
        return " ".join(p for p in (self.first_name, self.name_prefix, self.last_name) if p)


class BankAccount(models.Model):
    """A member's bank account. The IBAN is encrypted at rest; lists show only the masked form."""

    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="bank_accounts", verbose_name=_("member")
    )
    iban = EncryptedTextField(_("IBAN"))
    iban_fingerprint = models.CharField(max_length=64, editable=False, db_index=True)
    iban_masked = models.CharField(_("IBAN"), max_length=40, editable=False)
    bic = models.CharField(_("BIC"), max_length=11, blank=True)
    holder_name = models.CharField(_("account holder"), max_length=140)
    is_primary = models.BooleanField(_("in use"), default=True)
    created_at = models.DateTimeField(_("added"), default=timezone.now)

    class Meta:
        verbose_name = _("bank account")
        verbose_name_plural = _("bank accounts")
        ordering = ["-is_primary", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["member"], condition=Q(is_primary=True), name="one_primary_bank_account"
            )
        ]
        permissions = [("view_full_iban", _("Can see full IBANs"))]

    def __str__(self):
        return self.iban_masked

    def save(self, *args, **kwargs):
        from kring.core.crypto import fingerprint
        from kring.members.validation import mask_iban

        self.iban_masked = mask_iban(self.iban)
        self.iban_fingerprint = fingerprint(self.iban)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "iban" in update_fields:
            kwargs["update_fields"] = set(update_fields) | {"iban_masked", "iban_fingerprint"}
        super().save(*args, **kwargs)


class Membership(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        ACTIVE = "active", _("active")
        LAPSED = "lapsed", _("lapsed")
        CANCELLED = "cancelled", _("cancelled")
        ENDED = "ended", _("ended")

    # The one place that says which status may follow which (enforced by services.change_status).
    TRANSITIONS = {
        Status.PENDING: {Status.ACTIVE, Status.CANCELLED, Status.ENDED},
        Status.ACTIVE: {Status.LAPSED, Status.CANCELLED, Status.ENDED},
        Status.LAPSED: {Status.ACTIVE, Status.CANCELLED, Status.ENDED},
        Status.CANCELLED: {Status.ACTIVE, Status.ENDED},
        Status.ENDED: set(),
    }
    CURRENT_STATUSES = (Status.PENDING, Status.ACTIVE, Status.LAPSED, Status.CANCELLED)

    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="memberships", verbose_name=_("member")
    )
    plan = models.ForeignKey(
        Plan, on_delete=models.PROTECT, related_name="memberships", verbose_name=_("plan")
    )
    billing_frequency = models.CharField(
        _("billing frequency"),
        max_length=20,
        choices=BillingFrequency.choices,
        default=BillingFrequency.YEARLY,
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PENDING)
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"), null=True, blank=True)
    current_term_end = models.DateField(_("current term ends"), null=True, blank=True)
    parent_membership = models.ForeignKey(
        "self",
        verbose_name=_("main membership"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="addon_memberships",
        help_text=_("For add-on plans: the membership it adds to."),
    )
    cancellation_reason = models.ForeignKey(
        CancellationReason,
        verbose_name=_("cancellation reason"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
    )
    cancelled_on = models.DateField(_("cancelled on"), null=True, blank=True)
    renewal_confirmed_until = models.DateField(_("renewal confirmed until"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        ordering = ["-start_date", "-pk"]
        indexes = [
            models.Index(fields=["status", "plan"], name="membership_status_plan_idx"),
            models.Index(fields=["plan", "status"], name="membership_plan_status_idx"),
            models.Index(fields=["member", "status"], name="membership_member_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name="membership_ends_after_start",
            ),
        ]

    def __str__(self):
        return f"{self.plan} ({self.get_status_display()})"

    def can_become(self, status: str) -> bool:
        return status in self.TRANSITIONS[self.status]


class MembershipPayer(models.Model):
    """Who pays (part of) a membership when it is not the member: parent, employer, fund.

    The shares of one membership add up to 100%; without rows the member pays everything.
    """

    class Kind(models.TextChoices):
        MEMBER = "member", _("the member")
        GUARDIAN = "guardian", _("parent or guardian")
        EMPLOYER = "employer", _("employer")
        FUND = "fund", _("fund")
        OTHER = "other", _("other")

    membership = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="payers", verbose_name=_("membership")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    payer_member = models.ForeignKey(
        Member,
        verbose_name=_("paying member"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="paid_memberships",
    )
    external_name = models.CharField(_("name"), max_length=200, blank=True)
    external_email = models.EmailField(_("email address"), blank=True)
    external_address = models.TextField(_("address"), blank=True)
    external_reference = models.CharField(
        _("reference"),
        max_length=100,
        blank=True,
        help_text=_("e.g. the fund's file number or the employer's PO."),
    )
    share_percent = models.DecimalField(
        _("share (%)"),
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01"))],
    )

    class Meta:
        verbose_name = _("payer")
        verbose_name_plural = _("payers")
        constraints = [
            models.CheckConstraint(
                condition=Q(share_percent__gt=0) & Q(share_percent__lte=100),
                name="payer_share_between_0_and_100",
            ),
            models.CheckConstraint(
                condition=(Q(payer_member__isnull=False) & Q(external_name=""))
                | (Q(payer_member__isnull=True) & ~Q(external_name="")),
                name="payer_is_member_or_external",
            ),
        ]

    def __str__(self):
        name = str(self.payer_member) if self.payer_member_id else self.external_name
        return f"{name} ({self.share_percent}%)"


class MembershipChange(models.Model):
    """What happened to a membership and why: created, plan switch, cancellation, status changes, …"""

    class Kind(models.TextChoices):
        STARTED = "started", _("started")
        STATUS = "status", _("status changed")
        PLAN_SWITCH = "plan_switch", _("plan switched")
        FREQUENCY = "frequency", _("billing frequency changed")
        CANCELLED = "cancelled", _("cancelled")
        CANCELLATION_WITHDRAWN = "cancellation_withdrawn", _("cancellation withdrawn")
        RENEWED = "renewed", _("renewed")
        HOUSEHOLD_LEFT = "household_left", _("left the household")
        CAME_OF_AGE = "came_of_age", _("turned 18")
        PAYERS = "payers", _("payers changed")

    membership = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="changes", verbose_name=_("membership")
    )
    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices)
    effective_date = models.DateField(_("effective date"))
    from_value = models.CharField(_("from"), max_length=200, blank=True)
    to_value = models.CharField(_("to"), max_length=200, blank=True)
    reason = models.ForeignKey(
        CancellationReason, verbose_name=_("reason"), null=True, blank=True, on_delete=models.PROTECT
    )
    note = models.TextField(_("note"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("membership change")
        verbose_name_plural = _("membership changes")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["kind", "effective_date"], name="membership_change_kind_idx")]

    def __str__(self):
        return f"{self.get_kind_display()} {self.effective_date}"
