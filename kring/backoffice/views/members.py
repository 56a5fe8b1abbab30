"""The member list (search, filters, paging, CSV export) and the member page of the back office."""

import csv
from dataclasses import dataclass
from datetime import date

from django import forms
from django.core.paginator import Paginator
from django.db.models import Prefetch, QuerySet
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import urlencode
from django.utils.text import capfirst, slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext, pgettext_lazy

from kring.backoffice.permissions import staff_required
from kring.billing import queries as billing_queries
from kring.core.models import Association, AuditEntry
from kring.members import queries, services, validation
from kring.members.models import (
    BankAccount,
    BillingFrequency,
    Country,
    Member,
    Membership,
    MembershipChange,
    MembershipPayer,
    Plan,
)

PER_PAGE = 25
# The list counts at most this many results; beyond it, it says "more than 1,000".
COUNT_LIMIT = 1000
HISTORY_PER_PAGE = 20
MEMBER_PAGE_INVOICES = 10
LIST_QUERY_SESSION_KEY = "backoffice_member_list_query"
FILTER_NAMES = ("q", "plan", "status", "country")


class MemberFilterForm(forms.Form):
    q = forms.CharField(
        label=gettext_lazy("Search"),
        required=False,
        max_length=200,
        help_text=gettext_lazy("Name, member number, email address, postcode or town"),
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off", "spellcheck": "false"}),
    )
    plan = forms.ModelChoiceField(
        label=gettext_lazy("Plan"),
        required=False,
        queryset=Plan.objects.filter(is_addon=False),
        empty_label=gettext_lazy("All plans"),
    )
    status = forms.ChoiceField(label=gettext_lazy("Membership status"), required=False)
    country = forms.ChoiceField(label=gettext_lazy("Country"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [
            ("", _("All statuses")),
            *((value, capfirst(label)) for value, label in Membership.Status.choices),
        ]
        self.fields["country"].choices = [("", _("All countries")), *Country.choices]

    def member_filters(self) -> queries.MemberFilters:
        """The valid part of the filters; a wrong value is reported on its field and ignored."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        plan = data.get("plan")
        return queries.MemberFilters(
            query=data.get("q") or "",
            plan_id=plan.pk if plan else None,
            status=data.get("status") or "",
            country=data.get("country") or "",
        )


def filter_params(request) -> dict[str, str]:
    return {
        name: request.GET.get(name, "").strip() for name in FILTER_NAMES if request.GET.get(name, "").strip()
    }


@dataclass
class ResultPage:
    members: list
    number: int
    total: int | None  # None: more than COUNT_LIMIT
    has_previous: bool
    has_next: bool

    @property
    def first_index(self) -> int:
        return (self.number - 1) * PER_PAGE + 1

    @property
    def last_index(self) -> int:
        return self.first_index + len(self.members) - 1

    @property
    def page_count(self) -> int | None:
        return None if self.total is None else max(1, -(-self.total // PER_PAGE))


def page_number(value) -> int:
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return 1


def result_page(filters: queries.MemberFilters, number: int) -> ResultPage:
    """One page of results without counting a million rows: the count stops at COUNT_LIMIT + 1."""
    found = queries.search_member_page(filters, number=number, per_page=PER_PAGE, count_limit=COUNT_LIMIT)
    return ResultPage(
        members=found.members,
        number=found.number,
        total=found.counted if found.counted <= COUNT_LIMIT else None,
        has_previous=found.number > 1,
        has_next=found.has_next,
    )


@staff_required("members.view_member")
def member_list(request):
    form = MemberFilterForm(request.GET)
    filters = form.member_filters()
    page = result_page(filters, page_number(request.GET.get("page")))
    params = filter_params(request)
    query_string = urlencode(params)
    list_query = urlencode({**params, "page": page.number}) if page.number > 1 else query_string
    if request.session.get(LIST_QUERY_SESSION_KEY) != list_query:
        request.session[LIST_QUERY_SESSION_KEY] = list_query
    context = {
        "section": "members",
        "form": form,
        "page": page,
        "searched": bool(params),
        "query_string": query_string,
        "previous_query": urlencode({**params, "page": page.number - 1}),
        "next_query": urlencode({**params, "page": page.number + 1}),
        "count_limit": COUNT_LIMIT,
    }
    partial = request.htmx and not request.htmx.history_restore_request
    template = "backoffice/members/_results.html" if partial else "backoffice/members/list.html"
    response = render(request, template, {**context, "partial": partial})
    patch_vary_headers(response, ["HX-Request"])
    return response


# --- CSV export -------------------------------------------------------------------------------

EXPORT_COLUMNS = [
    ("member_number", gettext_lazy("member number")),
    ("first_name", gettext_lazy("first name")),
    ("initials", gettext_lazy("initials")),
    ("name_prefix", gettext_lazy("tussenvoegsel")),
    ("last_name", gettext_lazy("last name")),
    ("organisation_name", gettext_lazy("organisation")),
    ("email", gettext_lazy("email address")),
    ("phone", gettext_lazy("phone number")),
    ("street", gettext_lazy("street")),
    ("house_number", gettext_lazy("house number")),
    ("house_number_addition", gettext_lazy("addition")),
    ("postcode", gettext_lazy("postcode")),
    ("city", gettext_lazy("city")),
    ("country", gettext_lazy("country")),
    ("current_plan__name", gettext_lazy("plan")),
    ("membership_status", gettext_lazy("membership status")),
    ("member_since", gettext_lazy("member since")),
]
# Cells starting with these are formulas to a spreadsheet (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    def write(self, value):
        return value


def spreadsheet_safe(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def export_lines(rows):
    """The CSV lines for `rows`: value tuples of the EXPORT_COLUMNS fields."""
    writer = csv.writer(_Echo(), delimiter=";", lineterminator="\r\n")
    status_labels = {value: str(label) for value, label in Membership.Status.choices}
    phone_at = [field for field, _label in EXPORT_COLUMNS].index("phone")
    status_at = [field for field, _label in EXPORT_COLUMNS].index("membership_status")
    # The byte order mark makes (Dutch) Excel read the file as UTF-8.
    yield "\ufeff" + writer.writerow([str(label) for _field, label in EXPORT_COLUMNS])
    for row in rows:
        row = list(row)
        row[phone_at] = validation.format_phone(row[phone_at])
        row[status_at] = status_labels.get(row[status_at], row[status_at])
        yield writer.writerow([spreadsheet_safe(value) for value in row])


@staff_required("members.view_member", "members.export_member")
def member_export(request):
    form = MemberFilterForm(request.GET)
    row_count, rows = queries.search_members_for_export(
        form.member_filters(), (field for field, _label in EXPORT_COLUMNS)
    )
    services.record_member_export(actor=request.user, filters=filter_params(request), row_count=row_count)
    filename = f"{slugify(pgettext('file name of the member export', 'members'))}-{timezone.localdate():%Y-%m-%d}.csv"
    response = StreamingHttpResponse(
        (line.encode("utf-8") for line in export_lines(rows)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- member page ------------------------------------------------------------------------------

PER_INSTALMENT = {
    BillingFrequency.YEARLY: pgettext_lazy("dues", "per year"),
    BillingFrequency.HALF_YEARLY: pgettext_lazy("dues", "per half year"),
    BillingFrequency.QUARTERLY: pgettext_lazy("dues", "per quarter"),
    BillingFrequency.MONTHLY: pgettext_lazy("dues", "per month"),
}


def member_page_queryset(*, with_full_iban: bool) -> QuerySet[Member]:
    """Everything the member page shows, in a fixed number of queries however long the history."""
    bank_accounts = BankAccount.objects.all() if with_full_iban else BankAccount.objects.defer("iban")
    memberships = Membership.objects.select_related(
        "plan", "parent_membership__plan", "cancellation_reason"
    ).prefetch_related(
        "plan__prices",
        "plan__price_rules",
        Prefetch("payers", queryset=MembershipPayer.objects.select_related("payer_member").order_by("pk")),
        Prefetch("changes", queryset=MembershipChange.objects.select_related("reason", "created_by")),
    )
    return Member.objects.select_related(
        "member_type", "household", "guardian", "current_plan", "user"
    ).prefetch_related(
        "contact_persons",
        Prefetch("household__members", queryset=Member.objects.order_by("sort_name", "pk")),
        Prefetch("wards", queryset=Member.objects.order_by("sort_name", "pk")),
        Prefetch("bank_accounts", queryset=bank_accounts),
        Prefetch("memberships", queryset=memberships),
        Prefetch(
            "paid_memberships",
            queryset=MembershipPayer.objects.select_related(
                "membership__member", "membership__plan"
            ).order_by("pk"),
        ),
    )


@dataclass
class MembershipBlock:
    membership: Membership
    breakdown: queries.DuesBreakdown | None
    per_instalment: str

    @property
    def is_current(self) -> bool:
        return self.membership.status in Membership.CURRENT_STATUSES


def membership_blocks(member: Member, today: date) -> list[MembershipBlock]:
    association = Association.current()
    blocks = []
    for membership in member.memberships.all():
        breakdown = None
        if membership.status in Membership.CURRENT_STATUSES:
            breakdown = queries.dues_breakdown(membership, on_date=today, association=association)
        blocks.append(MembershipBlock(membership, breakdown, PER_INSTALMENT[membership.billing_frequency]))
    # Running memberships first, main plans before their add-ons, then the ones that ended; each newest first.
    blocks.sort(key=lambda block: (not block.is_current, block.membership.parent_membership_id is not None))
    return blocks


@staff_required("members.view_member")
def member_detail(request, pk: int):
    may_see_full_iban = request.user.has_perm("members.view_full_iban")
    member = get_object_or_404(member_page_queryset(with_full_iban=may_see_full_iban), pk=pk)
    today = timezone.localdate()
    bank_accounts = list(member.bank_accounts.all())
    primary_account = next((account for account in bank_accounts if account.is_primary), None)
    invoices = None
    if request.user.has_perm("billing.view_invoice"):
        invoices = billing_queries.member_invoices(member.pk, limit=MEMBER_PAGE_INVOICES)
    history = None
    if request.user.has_perm("core.view_auditentry"):
        entries = AuditEntry.objects.filter(member_id=member.pk).order_by("-created_at", "-id")
        history = Paginator(entries, HISTORY_PER_PAGE).get_page(request.GET.get("history"))
    return render(
        request,
        "backoffice/members/detail.html",
        {
            "section": "members",
            "member": member,
            "phone": validation.format_phone(member.phone),
            "age": member.age_on(today),
            "household_members": [m for m in member.household.members.all() if m.pk != member.pk]
            if member.household_id
            else [],
            "contact_persons": [
                (person, validation.format_phone(person.phone)) for person in member.contact_persons.all()
            ],
            "blocks": membership_blocks(member, today),
            "pays_for": [
                payer for payer in member.paid_memberships.all() if payer.membership.member_id != member.pk
            ],
            "primary_account": primary_account,
            "earlier_accounts": [account for account in bank_accounts if not account.is_primary],
            "full_iban": validation.format_iban(primary_account.iban)
            if primary_account and may_see_full_iban
            else "",
            "history": history,
            "invoices": invoices[:MEMBER_PAGE_INVOICES] if invoices is not None else None,
            "more_invoices": invoices is not None and len(invoices) > MEMBER_PAGE_INVOICES,
            "back_query": request.session.get(LIST_QUERY_SESSION_KEY, ""),
        },
    )
