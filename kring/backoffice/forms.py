"""Forms of the back office's write side.

A form here only reads and types the input (dates, numbers, choices, '12a' → 12 + 'a'); the
rules live in kring.members.services and kring.members.validation. Views pass the cleaned
values to a service and put the service's ValidationErrors next to the right fields with
``add_service_errors``. No form saves a model.
"""

from datetime import date

from dateutil.relativedelta import relativedelta
from django import forms
from django.core.exceptions import ValidationError
from django.forms.renderers import DjangoTemplates
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from kring.backoffice.templatetags.backoffice import format_money
from kring.members import validation
from kring.members.models import (
    BillingFrequency,
    CancellationReason,
    Country,
    Member,
    Membership,
    MembershipPayer,
    MemberType,
    Plan,
)

DATE_INPUT_FORMATS = ["%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%y"]
YOUTH_MEMBER_TYPE_CODE = "jeugdlid"
ADULT_MEMBER_TYPE_CODE = "lid"


class BackofficeFormRenderer(DjangoTemplates):
    """Renders each field with its label, help text and errors tied to the input (aria-describedby)."""

    field_template_name = "backoffice/forms/field.html"


class BackofficeForm(forms.Form):
    default_renderer = BackofficeFormRenderer()

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def error_summary(self) -> list[tuple[str, str]]:
        """(anchor, message) pairs for the summary at the top of the form; anchor '' for form-wide errors."""
        items = [("", str(message)) for message in self.non_field_errors()]
        for name, field in self.fields.items():
            bound = self[name]
            for message in bound.errors:
                anchor = (
                    bound.auto_id if not isinstance(field.widget, forms.RadioSelect) else f"{bound.auto_id}_0"
                )
                items.append((anchor, f"{field.label}: {message}"))
        return items


def add_service_errors(form: forms.Form, error: ValidationError, *, rename=None, default: str | None = None):
    """Show a service's ValidationError on the form: each field's errors next to that field.

    ``rename`` maps a service's field name to the form's; errors without a field go to
    ``default`` (or to the top of the form).
    """
    rename = rename or {}
    if hasattr(error, "error_dict"):
        for name, errors in error.error_dict.items():
            target = rename.get(name, name)
            form.add_error(target if target in form.fields else None, errors)
    else:
        form.add_error(default if default in form.fields else None, error.error_list)


def date_field(label, *, required=True, help_text=""):
    return forms.DateField(
        label=label,
        required=required,
        help_text=help_text,
        input_formats=DATE_INPUT_FORMATS,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={
            "required": _("Enter a date."),
            "invalid": _("Enter a date like 31-12-2025."),
        },
    )


def required_message(text):
    return {"required": text}


def short_input(**attrs):
    return forms.TextInput(attrs={"class": "input--short", **attrs})


def choice_radios(**attrs):
    return forms.RadioSelect(attrs={"class": "choice-list", **attrs})


class PlanChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, plan):
        price = format_money(plan.yearly_price)
        if plan.is_addon:
            return _("%(plan)s (add-on) – %(price)s a year") % {"plan": plan.name, "price": price}
        return _("%(plan)s – %(price)s a year") % {"plan": plan.name, "price": price}


def plan_field(*, required=True, empty_label=None, queryset=None, label=None, help_text=""):
    return PlanChoiceField(
        queryset=queryset if queryset is not None else Plan.objects.filter(is_active=True),
        label=label or _("Plan"),
        required=required,
        empty_label=empty_label if empty_label is not None else _("Choose a plan…"),
        help_text=help_text,
        error_messages=required_message(_("Choose a plan.")),
    )


def frequency_field(*, required=True, choices=None, help_text=""):
    return forms.ChoiceField(
        label=_("How often does the member pay?"),
        choices=choices or BillingFrequency.choices,
        required=required,
        widget=choice_radios(),
        help_text=help_text,
        error_messages=required_message(_("Choose how often the member pays.")),
    )


def house_number_text(number, addition: str) -> str:
    """(12, 'a') → '12a', (12, '3') → '12-3', (12, 'bis') → '12 bis': what check_house_number reads back."""
    if number is None:
        return ""
    if not addition:
        return str(number)
    if addition[0].isdigit():
        return f"{number}-{addition}"
    if len(addition) == 1:
        return f"{number}{addition}"
    return f"{number} {addition}"


def long_date(day: date) -> str:
    """'22 November 2027' (in the user's language), as the back office writes dates in sentences."""
    return date_format(day, "j F Y")


def first_of_next_month(today: date) -> date:
    return today.replace(day=1) + relativedelta(months=1)


class OptionalPlanMixin:
    """An own plan from a given day: optional, but a plan needs a way of paying."""

    def clean(self):
        data = super().clean()
        if data.get("plan") and not data.get("billing_frequency"):
            self.add_error("billing_frequency", _("Choose how often the member pays for the new plan."))
        return data


# --- members ------------------------------------------------------------------------------


class MemberForm(OptionalPlanMixin, BackofficeForm):
    """Create or edit a member. Only the fields for the chosen kind (person or organisation) are on it."""

    PERSON_FIELDS = ["first_name", "initials", "name_prefix", "last_name", "date_of_birth"]
    ORGANISATION_FIELDS = ["organisation_name", "kvk_number"]
    CONTACT_FIELDS = ["email", "phone", "correspondence"]
    ADDRESS_FIELDS = ["street", "house_number", "postcode", "city", "country"]
    OTHER_FIELDS = ["may_be_named_for_anniversary", "notes"]
    MEMBERSHIP_FIELDS = ["plan", "billing_frequency", "start_date"]
    BANK_FIELDS = ["iban", "holder_name"]

    kind = forms.ChoiceField(choices=Member.Kind.choices, widget=forms.HiddenInput)
    member_number = forms.CharField(
        label=_("Member number"),
        required=False,
        max_length=20,
        help_text=_("Leave empty: the next free number is given automatically."),
        widget=short_input(),
    )
    member_type = forms.ModelChoiceField(
        queryset=MemberType.objects.all(),
        label=_("Member type"),
        empty_label=None,
        widget=choice_radios(),
        error_messages=required_message(_("Choose the member type.")),
    )

    first_name = forms.CharField(
        label=_("First name"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    initials = forms.CharField(
        label=_("Initials"),
        required=False,
        max_length=20,
        help_text=_("For example: A.M."),
        widget=short_input(),
    )
    name_prefix = forms.CharField(
        label=_("Tussenvoegsel"),
        required=False,
        max_length=20,
        help_text=_(
            "The small word before the last name, like 'van', 'de' or 'van der'. Leave empty if there is none."
        ),
        widget=short_input(),
    )
    last_name = forms.CharField(
        label=_("Last name"),
        required=False,
        max_length=150,
        help_text=_("Without the tussenvoegsel: for 'Anna van den Berg' type 'Berg'."),
    )
    date_of_birth = date_field(_("Date of birth"), required=False)

    organisation_name = forms.CharField(label=_("Name of the organisation"), required=False, max_length=200)
    kvk_number = forms.CharField(
        label=_("KvK number"),
        required=False,
        max_length=20,
        help_text=_("8 digits (Dutch Chamber of Commerce). Leave empty if unknown."),
        widget=short_input(inputmode="numeric"),
    )

    email = forms.CharField(
        label=_("Email address"),
        required=False,
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    phone = forms.CharField(
        label=_("Phone number"),
        required=False,
        max_length=30,
        help_text=_("For example 06 12345678 or +32 470 12 34 56."),
        widget=forms.TextInput(attrs={"type": "tel"}),
    )
    correspondence = forms.ChoiceField(
        label=_("Send letters and invoices"),
        choices=Member.Correspondence.choices,
        widget=choice_radios(),
        initial=Member.Correspondence.EMAIL,
        error_messages=required_message(_("Choose how the member receives letters.")),
    )

    street = forms.CharField(label=_("Street"), required=False, max_length=200)
    house_number = forms.CharField(
        label=_("House number"),
        required=False,
        max_length=20,
        help_text=_("With the addition if there is one, like 12a or 12-3."),
        widget=short_input(),
    )
    postcode = forms.CharField(
        label=_("Postcode"),
        required=False,
        max_length=12,
        help_text=_("Netherlands: 1234 AB. Belgium: 1000."),
        widget=short_input(),
    )
    city = forms.CharField(label=_("City"), required=False, max_length=100)
    country = forms.ChoiceField(label=_("Country"), choices=Country.choices, initial=Country.NL)

    may_be_named_for_anniversary = forms.BooleanField(
        label=_("May be named publicly at a membership anniversary (25, 40, 50 years)"),
        required=False,
        initial=True,
    )
    notes = forms.CharField(
        label=_("Notes"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Only staff see these notes."),
    )

    plan = plan_field(
        required=False,
        empty_label=_("No membership yet"),
        queryset=Plan.objects.filter(is_active=True, is_addon=False),
    )
    billing_frequency = frequency_field(required=False)
    start_date = date_field(_("Start date"), required=False)

    iban = forms.CharField(
        label=_("IBAN"),
        required=False,
        max_length=42,
        help_text=_("For example NL91 ABNA 0417 1643 00. Leave empty if not known yet."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    holder_name = forms.CharField(
        label=_("Account holder"),
        required=False,
        max_length=140,
        help_text=_("Leave empty if the account is in the member's own name."),
    )

    def __init__(self, *args, kind: str, creating: bool, with_membership=False, with_bank=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.creating = creating
        self.fields["kind"].initial = kind
        unused = self.ORGANISATION_FIELDS if kind == Member.Kind.PERSON else self.PERSON_FIELDS
        if not creating:
            unused = [*unused, "member_number"]
        if not (creating and with_membership):
            unused = [*unused, *self.MEMBERSHIP_FIELDS]
        if not (creating and with_bank):
            unused = [*unused, *self.BANK_FIELDS]
        for name in unused:
            del self.fields[name]
        if "start_date" in self.fields:
            self.fields["start_date"].initial = date.today()
            self.fields["start_date"].help_text = _("Leave as it is to start today.")
            self.fields["billing_frequency"].initial = BillingFrequency.YEARLY
        if not self.is_bound and creating:
            adult = MemberType.objects.filter(code=ADULT_MEMBER_TYPE_CODE).first()
            if adult is not None:
                self.fields["member_type"].initial = adult.pk

    def fieldsets(self):
        """(legend, [bound fields]) in the order the form shows them."""
        groups = [
            (_("Member number and type"), ["member_number", "member_type"]),
            (_("Name"), self.PERSON_FIELDS if self.kind == Member.Kind.PERSON else self.ORGANISATION_FIELDS),
            (_("Email and phone"), self.CONTACT_FIELDS),
            (_("Address"), self.ADDRESS_FIELDS),
            (_("Other"), self.OTHER_FIELDS),
            (_("First membership (optional)"), self.MEMBERSHIP_FIELDS),
            (_("Bank account (optional)"), self.BANK_FIELDS),
        ]
        return [
            (legend, [self[n] for n in names if n in self.fields])
            for legend, names in groups
            if any(n in self.fields for n in names)
        ]

    def clean_house_number(self):
        number, addition = validation.check_house_number(self.cleaned_data["house_number"])
        return number, addition

    def clean_member_number(self):
        return self.cleaned_data["member_number"].strip()

    def member_fields(self) -> dict:
        """The member's data as services.create_member / update_member take it (without member_type)."""
        data = self.cleaned_data
        names = [
            n
            for n in (
                *self.PERSON_FIELDS,
                *self.ORGANISATION_FIELDS,
                *self.CONTACT_FIELDS,
                *self.ADDRESS_FIELDS,
                *self.OTHER_FIELDS,
            )
            if n in self.fields and n in data
        ]
        fields = {"kind": self.kind}
        for name in names:
            fields[name] = data[name]
        if "house_number" in fields:
            fields["house_number"], fields["house_number_addition"] = fields["house_number"]
        if self.creating and data.get("member_number"):
            fields["member_number"] = data["member_number"]
        return fields

    @classmethod
    def initial_for(cls, member: Member) -> dict:
        initial = {
            name: getattr(member, name)
            for name in (
                *cls.PERSON_FIELDS,
                *cls.ORGANISATION_FIELDS,
                *cls.CONTACT_FIELDS,
                *cls.ADDRESS_FIELDS,
                *cls.OTHER_FIELDS,
            )
            if name != "house_number"
        }
        initial["member_type"] = member.member_type_id
        initial["house_number"] = house_number_text(member.house_number, member.house_number_addition)
        initial["phone"] = validation.format_phone(member.phone)
        return initial


class BankAccountForm(BackofficeForm):
    iban = forms.CharField(
        label=_("New IBAN"),
        max_length=42,
        help_text=_("For example NL91 ABNA 0417 1643 00. Spaces do not matter."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        error_messages=required_message(_("Enter an IBAN.")),
    )
    holder_name = forms.CharField(
        label=_("Account holder"),
        required=False,
        max_length=140,
        help_text=_("Leave empty if the account is in the member's own name."),
    )
    bic = forms.CharField(
        label=_("BIC (optional)"),
        required=False,
        max_length=11,
        help_text=_("Leave empty: for most banks it is filled in from the IBAN."),
    )


class ContactPersonForm(BackofficeForm):
    first_name = forms.CharField(label=_("First name"), required=False, max_length=100)
    name_prefix = forms.CharField(
        label=_("Tussenvoegsel"),
        required=False,
        max_length=20,
        help_text=_("Like 'van' or 'de'. Leave empty if there is none."),
    )
    last_name = forms.CharField(label=_("Last name"), required=False, max_length=150)
    role = forms.CharField(
        label=_("Role in the organisation"),
        required=False,
        max_length=100,
        help_text=_("For example: director, HR, administration."),
    )
    email = forms.CharField(label=_("Email address"), required=False, max_length=254, widget=forms.EmailInput)
    phone = forms.CharField(
        label=_("Phone number"), required=False, max_length=30, widget=forms.TextInput(attrs={"type": "tel"})
    )
    is_primary = forms.BooleanField(
        label=_("This is the main contact"),
        required=False,
        help_text=_("An organisation has one main contact. Ticking this replaces the current main contact."),
    )

    FIELDS = ["first_name", "name_prefix", "last_name", "role", "email", "phone", "is_primary"]


# --- memberships --------------------------------------------------------------------------


STATUS_EXPLANATIONS = {
    Membership.Status.PENDING: _("Pending: waiting, for example for the first payment"),
    Membership.Status.ACTIVE: _("Active"),
    Membership.Status.LAPSED: _("Lapsed: not renewed or not paid"),
    Membership.Status.CANCELLED: _("Cancelled"),
    Membership.Status.ENDED: _("Ended: the membership is over"),
}


def status_choices_for(membership: Membership) -> list[tuple[str, str]]:
    """The statuses this form may set. Cancelling (with a reason) and withdrawing a cancellation
    have their own forms, so they are left out here; Membership.TRANSITIONS decides the rest."""
    choices = []
    for status in Membership.Status:
        if status == membership.status or not membership.can_become(status):
            continue
        if status == Membership.Status.CANCELLED:
            continue
        if membership.status == Membership.Status.CANCELLED and status == Membership.Status.ACTIVE:
            continue
        choices.append((status.value, STATUS_EXPLANATIONS[status]))
    return choices


class MembershipCreateForm(BackofficeForm):
    plan = plan_field()
    billing_frequency = frequency_field()
    start_date = date_field(_("Start date"))
    status = forms.ChoiceField(
        label=_("Status"),
        widget=choice_radios(),
        choices=[
            (Membership.Status.ACTIVE.value, STATUS_EXPLANATIONS[Membership.Status.ACTIVE]),
            (Membership.Status.PENDING.value, STATUS_EXPLANATIONS[Membership.Status.PENDING]),
        ],
        initial=Membership.Status.ACTIVE,
    )
    parent_membership = forms.ModelChoiceField(
        queryset=Membership.objects.none(),
        required=False,
        label=_("Adds to membership"),
        empty_label=_("Not an add-on"),
        help_text=_("Only for an add-on plan: the membership it is added to."),
    )
    note = forms.CharField(
        label=_("Note (optional)"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, member: Member, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["start_date"].initial = date.today()
        self.fields["billing_frequency"].initial = BillingFrequency.YEARLY
        parents = member.memberships.filter(
            parent_membership__isnull=True, status__in=Membership.CURRENT_STATUSES
        ).select_related("plan")
        self.fields["parent_membership"].queryset = parents
        self.fields["parent_membership"].label_from_instance = lambda m: (
            _("%(plan)s, since %(start)s") % {"plan": m.plan.name, "start": long_date(m.start_date)}
        )
        if not parents:
            del self.fields["parent_membership"]


class MembershipStatusForm(BackofficeForm):
    status = forms.ChoiceField(
        label=_("New status"),
        widget=choice_radios(),
        error_messages={
            "required": _("Choose the new status."),
            "invalid_choice": _("This status is not possible for this membership."),
        },
    )
    effective_date = date_field(_("From"))
    note = forms.CharField(
        label=_("Note (optional)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Why the status changes. It is kept in the history."),
    )

    def __init__(self, *args, membership: Membership, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = status_choices_for(membership)
        self.fields["effective_date"].initial = date.today()


class CancelMembershipForm(BackofficeForm):
    reason = forms.ModelChoiceField(
        queryset=CancellationReason.objects.filter(is_active=True),
        label=_("Why does the membership end?"),
        empty_label=None,
        widget=choice_radios(),
        error_messages=required_message(_("Choose a reason.")),
    )
    cancelled_on = date_field(
        _("Date the member cancelled"), help_text=_("The day the letter, email or call came in.")
    )
    end_date = date_field(_("End date (optional)"), required=False)
    note = forms.CharField(
        label=_("Note (optional)"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, earliest_end: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cancelled_on"].initial = date.today()
        self.fields["end_date"].help_text = end_date_help(earliest_end)


def end_date_help(earliest_end: date) -> str:
    return _(
        "Leave empty to end on %(date)s: the end of the term, respecting the notice period. "
        "Fill in an earlier date only by agreement or on death."
    ) % {"date": long_date(earliest_end)}


def typed_date(raw: str | None) -> date | None:
    """A date as typed in a form field, or None when it cannot be read (yet)."""
    if not raw:
        return None
    try:
        return date_field("").clean(raw)
    except ValidationError:
        return None


class WithdrawCancellationForm(BackofficeForm):
    on_date = date_field(_("Date the member withdrew the cancellation"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["on_date"].initial = date.today()


class SwitchPlanForm(BackofficeForm):
    plan = plan_field(label=_("New plan"))
    effective_date = date_field(
        _("The new plan starts on"), help_text=_("The current plan ends the day before.")
    )
    billing_frequency = frequency_field()

    def __init__(self, *args, membership: Membership, **kwargs):
        super().__init__(*args, **kwargs)
        plans = Plan.objects.filter(is_active=True, is_addon=membership.plan.is_addon).exclude(
            pk=membership.plan_id
        )
        self.fields["plan"].queryset = plans
        self.fields["effective_date"].initial = first_of_next_month(date.today())
        self.fields["billing_frequency"].initial = membership.billing_frequency


class BillingFrequencyForm(BackofficeForm):
    billing_frequency = frequency_field()
    effective_date = date_field(_("From"))

    def __init__(self, *args, membership: Membership, **kwargs):
        super().__init__(*args, **kwargs)
        prices = list(membership.plan.prices.all())
        labels = dict(BillingFrequency.choices)
        order = [value for value, _label in BillingFrequency.choices]
        prices.sort(key=lambda p: order.index(p.frequency) if p.frequency in order else len(order))
        choices = [
            (
                p.frequency,
                _("%(frequency)s – %(price)s each time")
                % {
                    "frequency": labels.get(p.frequency, p.frequency),
                    "price": format_money(p.instalment_price),
                },
            )
            for p in prices
            if p.frequency != membership.billing_frequency
        ]
        self.fields["billing_frequency"].choices = choices
        self.fields["billing_frequency"].error_messages["invalid_choice"] = _(
            "The plan cannot be paid this way. Choose one of the options shown."
        )
        self.fields["effective_date"].initial = date.today()


class PayerForm(BackofficeForm):
    """One payer: a member (by member number) or someone outside the association, with a share."""

    kind = forms.ChoiceField(
        label=_("Who pays"),
        choices=[("", _("Choose…")), *MembershipPayer.Kind.choices],
        required=False,
    )
    member_number = forms.CharField(
        label=_("Member number of the payer"),
        required=False,
        max_length=20,
        help_text=_(
            "If the payer is a member, for example a parent. For 'the member' you may leave it empty."
        ),
        widget=short_input(),
    )
    external_name = forms.CharField(
        label=_("Or: name of the payer"),
        required=False,
        max_length=200,
        help_text=_("For a fund, employer or someone who is not a member."),
    )
    external_email = forms.CharField(
        label=_("Email address of the payer"), required=False, max_length=254, widget=forms.EmailInput
    )
    external_address = forms.CharField(
        label=_("Address of the payer"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    external_reference = forms.CharField(
        label=_("Reference"),
        required=False,
        max_length=100,
        help_text=_("For example the fund's file number."),
    )
    share_percent = forms.DecimalField(
        label=_("Share in %"),
        required=False,
        max_digits=5,
        decimal_places=2,
        localize=True,
        widget=short_input(inputmode="decimal"),
        error_messages={"invalid": _("Enter a number, like 75 or 33.33.")},
    )

    def __init__(self, *args, membership: Membership, **kwargs):
        self.membership = membership
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        if not data.get("kind"):
            self.add_error("kind", _("Choose who pays."))
        if data.get("share_percent") is None and "share_percent" not in self.errors:
            self.add_error("share_percent", _("Enter the share this payer pays, in %."))
        number = (data.get("member_number") or "").strip()
        data["payer_member"] = None
        if number:
            payer = Member.objects.filter(member_number__iexact=number).first()
            if payer is None:
                self.add_error("member_number", _("No member has number %(number)s.") % {"number": number})
            data["payer_member"] = payer
        elif data.get("kind") == MembershipPayer.Kind.MEMBER and not data.get("external_name"):
            data["payer_member"] = self.membership.member
        return data

    def payer(self) -> dict:
        """The payer as services.set_payers takes it."""
        data = self.cleaned_data
        return {
            "kind": data["kind"],
            "payer_member": data["payer_member"],
            "external_name": data["external_name"].strip(),
            "external_email": data["external_email"].strip(),
            "external_address": data["external_address"].strip(),
            "external_reference": data["external_reference"].strip(),
            "share_percent": data["share_percent"],
        }

    @staticmethod
    def initial_for(payer: MembershipPayer) -> dict:
        return {
            "kind": payer.kind,
            "member_number": payer.payer_member.member_number if payer.payer_member_id else "",
            "external_name": payer.external_name,
            "external_email": payer.external_email,
            "external_address": payer.external_address,
            "external_reference": payer.external_reference,
            "share_percent": payer.share_percent,
        }


class BasePayerFormSet(forms.BaseFormSet):
    renderer = BackofficeFormRenderer()

    def add_fields(self, form, index):
        super().add_fields(form, index)
        if "DELETE" in form.fields:
            form.fields["DELETE"].label = _("Remove this payer")


PayerFormSet = forms.formset_factory(
    PayerForm,
    formset=BasePayerFormSet,
    extra=2,
    can_delete=True,
    can_delete_extra=False,
    max_num=10,
    validate_max=True,
)


# --- households ---------------------------------------------------------------------------


class HouseholdCreateForm(BackofficeForm):
    name = forms.CharField(
        label=_("Name of the household"),
        max_length=200,
        help_text=_("For example: Family Van den Berg."),
        error_messages=required_message(_("Enter a name for the household.")),
    )


class HouseholdAddMemberForm(BackofficeForm):
    member_number = forms.CharField(
        label=_("Member number of the person to add"),
        max_length=20,
        help_text=_("The person must already be a member. Add them as a new member first if needed."),
        error_messages=required_message(_("Enter a member number.")),
        widget=short_input(),
    )
    role = forms.ChoiceField(
        label=_("Role in the household"),
        widget=choice_radios(),
        choices=[(r.value, r.label) for r in Member.HouseholdRole if r != Member.HouseholdRole.HEAD],
        error_messages=required_message(_("Choose the role in the household.")),
    )

    def clean_member_number(self):
        number = self.cleaned_data["member_number"].strip()
        member = Member.objects.filter(member_number__iexact=number).first()
        if member is None:
            raise ValidationError(_("No member has number %(number)s.") % {"number": number})
        self.cleaned_data["member"] = member
        return number


class LeaveHouseholdForm(OptionalPlanMixin, BackofficeForm):
    on_date = date_field(_("Leaves the household on"))
    plan = plan_field(
        required=False,
        empty_label=_("No own membership"),
        queryset=Plan.objects.filter(is_active=True, is_addon=False, covers_household=False),
        label=_("Own plan from that day (optional)"),
        help_text=_("The member keeps their member number and 'member since' date."),
    )
    billing_frequency = frequency_field(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["on_date"].initial = date.today()
        self.fields["billing_frequency"].initial = BillingFrequency.YEARLY


class ComeOfAgeForm(OptionalPlanMixin, BackofficeForm):
    on_date = date_field(_("From"))
    member_type = forms.ModelChoiceField(
        queryset=MemberType.objects.all(),
        label=_("New member type"),
        empty_label=None,
        widget=choice_radios(),
        error_messages=required_message(_("Choose the new member type.")),
    )
    plan = plan_field(
        required=False,
        empty_label=_("Keep the current plan"),
        queryset=Plan.objects.filter(is_active=True, is_addon=False),
        label=_("New plan (optional)"),
        help_text=_("The current plan ends the day before. Member number and 'member since' stay."),
    )
    billing_frequency = frequency_field(required=False)

    def __init__(self, *args, member: Member, **kwargs):
        super().__init__(*args, **kwargs)
        today = date.today()
        birthday = None
        if member.date_of_birth:
            try:
                birthday = member.date_of_birth.replace(year=member.date_of_birth.year + 18)
            except ValueError:  # born on 29 February
                birthday = date(member.date_of_birth.year + 18, 3, 1)
        self.fields["on_date"].initial = birthday if birthday and birthday <= today else today
        adult = MemberType.objects.filter(code=ADULT_MEMBER_TYPE_CODE).first()
        self.fields["member_type"].initial = adult.pk if adult else None
        self.fields["billing_frequency"].initial = BillingFrequency.YEARLY
