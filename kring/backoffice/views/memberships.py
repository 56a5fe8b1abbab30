"""Memberships in the back office: start, change status, cancel, withdraw a cancellation, switch
plan, change how often the member pays, and who pays. Each form calls one service.

Switching plans, cancelling and ending go through kring.billing.adjustments, which also corrects
dues already invoiced for after the end (credit notes, a new invoice for the new plan)."""

from datetime import date

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kring.backoffice.forms import (
    BillingFrequencyForm,
    CancelMembershipForm,
    MembershipCreateForm,
    MembershipStatusForm,
    PayerForm,
    PayerFormSet,
    SwitchPlanForm,
    WithdrawCancellationForm,
    add_service_errors,
    end_date_help,
    long_date,
    status_choices_for,
    typed_date,
)
from kring.backoffice.permissions import staff_required
from kring.backoffice.views.member_edit import member_page
from kring.billing import adjustments
from kring.members import services
from kring.members.models import Member, Membership, MembershipPayer


def get_membership(pk) -> Membership:
    return get_object_or_404(
        Membership.objects.select_related("member", "plan", "cancellation_reason", "parent_membership__plan"),
        pk=pk,
    )


def form_page(
    request,
    *,
    form,
    member,
    title,
    submit_label,
    membership=None,
    intro="",
    danger=False,
    template="backoffice/forms/page.html",
    **extra,
):
    return render(
        request,
        template,
        {
            "form": form,
            "member": member,
            "membership": membership,
            "title": title,
            "intro": intro,
            "submit_label": submit_label,
            "danger": danger,
            "problems": form.error_summary(),
            "section": "members",
            **extra,
        },
    )


def back_to_member_page(request, membership: Membership, message: str, level=messages.ERROR, adjustment=None):
    messages.add_message(request, level, message)
    if adjustment is not None:
        report_adjustment(request, adjustment)
    return member_page(membership.member_id)


def report_adjustment(request, result: adjustments.AdjustmentResult) -> None:
    """Tell what the change did to the invoices: credit notes, new invoices, what waits for a collection."""
    if result.credit_notes:
        numbers = ", ".join(note.number for note in result.credit_notes)
        messages.success(
            request,
            ngettext(
                "Credit note %(numbers)s takes back the dues already invoiced for after the end.",
                "Credit notes %(numbers)s take back the dues already invoiced for after the end.",
                len(result.credit_notes),
            )
            % {"numbers": numbers},
        )
    if result.new_invoices:
        numbers = ", ".join(invoice.number for invoice in result.new_invoices)
        messages.success(
            request,
            ngettext(
                "Invoice %(numbers)s asks the dues of the new plan for the rest of the period.",
                "Invoices %(numbers)s ask the dues of the new plan for the rest of the period.",
                len(result.new_invoices),
            )
            % {"numbers": numbers},
        )
    if result.in_collection:
        numbers = ", ".join(invoice.number for invoice in result.in_collection)
        messages.warning(
            request,
            ngettext(
                "Invoice %(numbers)s is being collected by direct debit and was not corrected. "
                "Correct it after the collection.",
                "Invoices %(numbers)s are being collected by direct debit and were not corrected. "
                "Correct them after the collection.",
                len(result.in_collection),
            )
            % {"numbers": numbers},
        )


@staff_required("members.view_member", "members.add_membership")
def membership_create(request, pk):
    member = get_object_or_404(Member.objects.select_related("member_type"), pk=pk)
    form = MembershipCreateForm(request.POST or None, member=member)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            membership = services.start_membership(
                member,
                data["plan"],
                actor=request.user,
                start_date=data["start_date"],
                billing_frequency=data["billing_frequency"],
                status=data["status"],
                parent_membership=data.get("parent_membership"),
                note=data["note"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc, default="plan")
        else:
            messages.success(
                request,
                _("%(name)s has a new membership: %(plan)s.")
                % {"name": member.display_name, "plan": membership.plan.name},
            )
            return member_page(member)
    return form_page(
        request,
        form=form,
        member=member,
        title=_("Start a membership"),
        submit_label=_("Start membership"),
        intro=_(
            "For a plan switch, use 'Switch plan' on the current membership instead: "
            "the member then keeps their history."
        ),
    )


@staff_required("members.view_member", "members.change_membership")
def membership_status(request, pk):
    membership = get_membership(pk)
    if not status_choices_for(membership):
        return back_to_member_page(request, membership, _("The status of this membership cannot be changed."))
    form = MembershipStatusForm(request.POST or None, membership=membership)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if data["status"] == Membership.Status.ENDED:
                _ended, result = adjustments.end_membership(
                    membership, actor=request.user, effective_date=data["effective_date"], note=data["note"]
                )
            else:
                result = None
                services.change_membership_status(
                    membership,
                    data["status"],
                    actor=request.user,
                    effective_date=data["effective_date"],
                    note=data["note"],
                )
        except ValidationError as exc:
            add_service_errors(form, exc, default="status")
        else:
            membership.refresh_from_db()
            return back_to_member_page(
                request,
                membership,
                _("The membership %(plan)s is now %(status)s.")
                % {"plan": membership.plan.name, "status": membership.get_status_display()},
                messages.SUCCESS,
                adjustment=result,
            )
    return form_page(
        request,
        form=form,
        member=membership.member,
        membership=membership,
        title=_("Change the status"),
        submit_label=_("Change status"),
        intro=_(
            "Only the changes that are possible from the current status are shown. "
            "To cancel a membership, use 'Cancel membership'."
        ),
    )


@staff_required("members.view_member", "members.change_membership")
def membership_cancel(request, pk):
    membership = get_membership(pk)
    if not membership.can_become(Membership.Status.CANCELLED):
        return back_to_member_page(
            request,
            membership,
            _("A membership that is %(status)s cannot be cancelled.")
            % {"status": membership.get_status_display()},
        )
    typed = request.POST.get("cancelled_on") if request.method == "POST" else request.GET.get("cancelled_on")
    earliest = services.earliest_end_date(membership, typed_date(typed) or date.today())
    if request.htmx and request.method == "GET":
        # The help text under 'end date' follows the cancellation date as it is typed.
        return HttpResponse(end_date_help(earliest))
    form = CancelMembershipForm(request.POST or None, earliest_end=earliest)
    form.fields["cancelled_on"].widget.attrs.update(
        {
            "hx-get": request.path,
            "hx-trigger": "change",
            "hx-target": "#id_end_date_helptext",
            "hx-swap": "innerHTML",
        }
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            membership, result = adjustments.cancel_membership(
                membership,
                actor=request.user,
                reason=data["reason"],
                cancelled_on=data["cancelled_on"],
                end_date=data["end_date"],
                note=data["note"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc, default="end_date")
        else:
            return back_to_member_page(
                request,
                membership,
                _("The membership %(plan)s has been cancelled. It ends on %(date)s.")
                % {"plan": membership.plan.name, "date": long_date(membership.end_date)},
                messages.SUCCESS,
                adjustment=result,
            )
    return form_page(
        request,
        form=form,
        member=membership.member,
        membership=membership,
        title=_("Cancel the membership"),
        submit_label=_("Cancel membership"),
        danger=True,
    )


@staff_required("members.view_member", "members.change_membership")
def membership_withdraw_cancellation(request, pk):
    membership = get_membership(pk)
    if membership.status != Membership.Status.CANCELLED:
        return back_to_member_page(request, membership, _("This membership has not been cancelled."))
    form = WithdrawCancellationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.withdraw_cancellation(
                membership, actor=request.user, on_date=form.cleaned_data["on_date"]
            )
        except ValidationError as exc:
            add_service_errors(form, exc, default="on_date")
        else:
            return back_to_member_page(
                request,
                membership,
                _("The cancellation has been withdrawn: %(plan)s continues.")
                % {"plan": membership.plan.name},
                messages.SUCCESS,
            )
    return form_page(
        request,
        form=form,
        member=membership.member,
        membership=membership,
        title=_("Withdraw the cancellation"),
        submit_label=_("Withdraw cancellation"),
        intro=_("The membership becomes active again and continues as if it was never cancelled."),
    )


@staff_required("members.view_member", "members.change_membership", "members.add_membership")
def membership_switch_plan(request, pk):
    membership = get_membership(pk)
    if membership.status not in (
        Membership.Status.ACTIVE,
        Membership.Status.PENDING,
        Membership.Status.LAPSED,
    ):
        return back_to_member_page(request, membership, _("Only a current membership can switch plans."))
    form = SwitchPlanForm(request.POST or None, membership=membership)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            new, result = adjustments.switch_plan(
                membership,
                data["plan"],
                actor=request.user,
                effective_date=data["effective_date"],
                billing_frequency=data["billing_frequency"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc, default="plan")
        else:
            return back_to_member_page(
                request,
                membership,
                _("%(name)s switches from %(old)s to %(new)s on %(date)s.")
                % {
                    "name": membership.member.display_name,
                    "old": membership.plan.name,
                    "new": new.plan.name,
                    "date": long_date(new.start_date),
                },
                messages.SUCCESS,
                adjustment=result,
            )
    return form_page(
        request,
        form=form,
        member=membership.member,
        membership=membership,
        title=_("Switch plan"),
        submit_label=_("Switch plan"),
        intro=_("The member keeps their member number and 'member since' date."),
    )


@staff_required("members.view_member", "members.change_membership")
def membership_frequency(request, pk):
    membership = get_membership(pk)
    if membership.status == Membership.Status.ENDED:
        return back_to_member_page(request, membership, _("This membership has ended."))
    form = BillingFrequencyForm(request.POST or None, membership=membership)
    if not form.fields["billing_frequency"].choices:
        return back_to_member_page(
            request,
            membership,
            _("The plan %(plan)s can only be paid %(frequency)s.")
            % {"plan": membership.plan.name, "frequency": membership.get_billing_frequency_display()},
        )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            membership = services.change_billing_frequency(
                membership,
                data["billing_frequency"],
                actor=request.user,
                effective_date=data["effective_date"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc, default="billing_frequency")
        else:
            return back_to_member_page(
                request,
                membership,
                _("%(name)s now pays %(frequency)s.")
                % {
                    "name": membership.member.display_name,
                    "frequency": membership.get_billing_frequency_display(),
                },
                messages.SUCCESS,
            )
    return form_page(
        request,
        form=form,
        member=membership.member,
        membership=membership,
        title=_("Change how often the member pays"),
        submit_label=_("Save"),
    )


# --- payers -------------------------------------------------------------------------------


@staff_required(
    "members.view_member",
    "members.view_membership",
    "members.add_membershippayer",
    "members.change_membershippayer",
    "members.delete_membershippayer",
)
def membership_payers(request, pk):
    membership = get_membership(pk)
    if membership.status == Membership.Status.ENDED:
        return back_to_member_page(request, membership, _("This membership has ended."))
    existing = membership.payers.select_related("payer_member")
    formset = PayerFormSet(
        request.POST or None,
        initial=[PayerForm.initial_for(p) for p in existing],
        form_kwargs={"membership": membership},
        prefix="payers",
    )
    service_errors = []
    if request.method == "POST" and formset.is_valid():
        kept = [
            form
            for index, form in enumerate(formset.forms)
            if form not in formset.deleted_forms
            and (index < formset.initial_form_count() or form.has_changed())
        ]
        try:
            services.set_payers(membership, [form.payer() for form in kept], actor=request.user)
        except ValidationError as exc:
            service_errors = exc.messages
            # Show the rows as they were sent, so 'Payer 2' in a message is the second row on the page.
            formset = PayerFormSet(
                initial=[payer_initial(form) for form in kept],
                form_kwargs={"membership": membership},
                prefix="payers",
            )
        else:
            if kept:
                message = _("Saved: %(count)s payers pay the membership %(plan)s.") % {
                    "count": len(kept),
                    "plan": membership.plan.name,
                }
            else:
                message = _("Saved: %(name)s pays the membership %(plan)s.") % {
                    "name": membership.member.display_name,
                    "plan": membership.plan.name,
                }
            return back_to_member_page(request, membership, message, messages.SUCCESS)
    return render(
        request,
        "backoffice/memberships/payers_form.html",
        {
            "formset": formset,
            "member": membership.member,
            "membership": membership,
            "section": "members",
            "problems": payer_problems(formset, service_errors),
            "title": _("Who pays for this membership?"),
            "kinds": MembershipPayer.Kind,
        },
    )


def payer_initial(form: PayerForm) -> dict:
    data = form.cleaned_data
    return {
        name: data.get(name)
        for name in (
            "kind",
            "member_number",
            "external_name",
            "external_email",
            "external_address",
            "external_reference",
            "share_percent",
        )
    }


def payer_problems(formset, service_errors: list[str]) -> list[tuple[str, str]]:
    if not formset.is_bound and not service_errors:
        return []
    problems = [("", message) for message in service_errors]
    if formset.is_bound:
        problems += [("", str(message)) for message in formset.non_form_errors()]
        for position, form in enumerate(formset.forms, start=1):
            if getattr(form, "cleaned_data", {}).get("DELETE"):
                continue
            for anchor, message in form.error_summary():
                problems.append((anchor, _("Payer %(n)s: %(message)s") % {"n": position, "message": message}))
    return problems
