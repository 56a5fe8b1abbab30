"""Create and edit members, their bank account and (for organisations) their contact persons.

Every change goes through kring.members.services; a service's ValidationError is shown next to
the field it is about and nothing is saved.
"""

from datetime import date

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from kring.backoffice.forms import BankAccountForm, ContactPersonForm, MemberForm, add_service_errors
from kring.backoffice.permissions import staff_required
from kring.members import services, validation
from kring.members.models import ContactPerson, Member

# Service field names that the member form shows under another name.
MEMBER_FIELD_NAMES = {"house_number_addition": "house_number"}


class _UndoCreate(Exception):
    """Raised inside the creating transaction when any part failed, so nothing is kept."""


def member_kind(request, default: str) -> str:
    kind = request.POST.get("kind") or request.GET.get("kind") or default
    return kind if kind in Member.Kind.values else default


def member_page(member_or_pk):
    pk = getattr(member_or_pk, "pk", member_or_pk)
    return redirect("backoffice:member_detail", pk)


# --- members ------------------------------------------------------------------------------


@staff_required("members.view_member", "members.add_member")
def member_create(request):
    kind = member_kind(request, Member.Kind.PERSON)
    form = MemberForm(
        request.POST or None,
        kind=kind,
        creating=True,
        with_membership=request.user.has_perm("members.add_membership"),
        with_bank=request.user.has_perm("members.add_bankaccount"),
    )
    if request.method == "POST":
        member = create_member_from(form, actor=request.user)
        if member is not None:
            messages.success(
                request,
                _("%(name)s is now a member, with member number %(number)s.")
                % {"name": member.display_name, "number": member.member_number},
            )
            return member_page(member)
    return render(
        request,
        "backoffice/members/form.html",
        {
            "form": form,
            "kind": kind,
            "creating": True,
            "problems": form.error_summary(),
            "section": "members",
        },
    )


def create_member_from(form: MemberForm, *, actor) -> Member | None:
    """The member, their first membership and bank account in one transaction: all or nothing.

    Every part is checked even when an earlier part failed, so the form shows all problems at once.
    """
    if not form.is_valid():
        check_member_fields(form)
        check_bank_fields(form)
        return None
    data = form.cleaned_data
    try:
        with transaction.atomic():
            member = None
            try:
                member = services.create_member(
                    actor=actor, member_type=data["member_type"], **form.member_fields()
                )
            except ValidationError as exc:
                add_service_errors(form, exc, rename=MEMBER_FIELD_NAMES)
            if data.get("plan"):
                frequency = data["billing_frequency"]
                try:
                    if member is not None:
                        services.start_membership(
                            member,
                            data["plan"],
                            actor=actor,
                            start_date=data["start_date"] or date.today(),
                            billing_frequency=frequency,
                        )
                    else:
                        unsaved = Member(kind=form.kind, member_type=data["member_type"])
                        services.check_plan_for(unsaved, data["plan"], frequency, None)
                except ValidationError as exc:
                    add_service_errors(form, exc, default="plan")
            if data.get("iban") or data.get("holder_name"):
                try:
                    if member is not None:
                        services.set_bank_account(
                            member, actor=actor, iban=data["iban"], holder_name=data["holder_name"]
                        )
                    else:
                        validation.check_iban(data["iban"])
                except ValidationError as exc:
                    add_service_errors(form, exc, default="iban")
            if form.errors:
                raise _UndoCreate
    except _UndoCreate:
        return None
    return member


def check_member_fields(form: MemberForm) -> None:
    """When some fields could not be read, still check the others with the service's rules."""
    try:
        services.normalise_member_fields(form.member_fields())
    except ValidationError as exc:
        for name, errors in exc.message_dict.items():
            name = MEMBER_FIELD_NAMES.get(name, name)
            if name in form.fields and name not in form.errors:
                form.add_error(name, errors)


def check_bank_fields(form: MemberForm) -> None:
    iban = form.cleaned_data.get("iban")
    if "iban" in form.fields and iban and "iban" not in form.errors:
        try:
            validation.check_iban(iban)
        except ValidationError as exc:
            form.add_error("iban", exc)


@staff_required("members.view_member", "members.change_member")
def member_edit(request, pk):
    member = get_object_or_404(Member.objects.select_related("member_type"), pk=pk)
    kind = member_kind(request, member.kind)
    form = MemberForm(request.POST or None, kind=kind, creating=False, initial=MemberForm.initial_for(member))
    if request.method == "POST":
        if form.is_valid():
            try:
                changes = services.update_member(
                    member,
                    actor=request.user,
                    member_type=form.cleaned_data["member_type"],
                    **form.member_fields(),
                )
            except ValidationError as exc:
                add_service_errors(form, exc, rename=MEMBER_FIELD_NAMES)
            else:
                if changes:
                    messages.success(
                        request, _("The details of %(name)s have been saved.") % {"name": member_name(member)}
                    )
                else:
                    messages.info(request, _("Nothing was changed."))
                return member_page(member)
        else:
            check_member_fields(form)
    return render(
        request,
        "backoffice/members/form.html",
        {
            "form": form,
            "kind": kind,
            "creating": False,
            "member": member,
            "problems": form.error_summary(),
            "section": "members",
        },
    )


def member_name(member: Member) -> str:
    member.refresh_from_db(
        fields=["kind", "first_name", "initials", "name_prefix", "last_name", "organisation_name"]
    )
    return member.display_name


# --- bank account -------------------------------------------------------------------------


@staff_required("members.view_member", "members.add_bankaccount", "members.change_bankaccount")
def bank_account_edit(request, pk):
    member = get_object_or_404(Member, pk=pk)
    current = member.bank_accounts.filter(is_primary=True).first()
    form = BankAccountForm(
        request.POST or None, initial={"holder_name": current.holder_name if current else ""}
    )
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                account = services.set_bank_account(member, actor=request.user, **form.cleaned_data)
                # The active direct-debit mandate keeps its reference and records the new account;
                # the next collection carries the amendment.
                from kring.sepa.services import amend_active_mandate_for_account

                amend_active_mandate_for_account(
                    member, iban=account.iban, bic=account.bic, actor=request.user
                )
        except ValidationError as exc:
            add_service_errors(form, exc, default="bic" if getattr(exc, "code", "") == "bic" else "iban")
        else:
            messages.success(
                request,
                _("The bank account of %(name)s is now %(iban)s.")
                % {"name": member.display_name, "iban": account.iban_masked},
            )
            return member_page(member)
    return render(
        request,
        "backoffice/members/bank_account_form.html",
        {
            "form": form,
            "member": member,
            "current": current,
            "problems": form.error_summary(),
            "section": "members",
            "title": _("Bank account"),
            "submit_label": _("Save bank account"),
        },
    )


# --- contact persons ----------------------------------------------------------------------


def get_organisation(pk) -> Member:
    organisation = get_object_or_404(Member, pk=pk)
    if organisation.kind != Member.Kind.ORGANISATION:
        raise Http404("Only organisations have contact persons.")
    return organisation


def get_contact_person_for(organisation: Member, contact_pk) -> ContactPerson:
    return get_object_or_404(ContactPerson, pk=contact_pk, organisation=organisation)


@staff_required("members.view_member", "members.view_contactperson")
def contact_person_list(request, pk):
    organisation = get_organisation(pk)
    return render(
        request,
        "backoffice/members/contact_persons.html",
        {
            "member": organisation,
            "section": "members",
            "contact_persons": [
                (person, validation.format_phone(person.phone))
                for person in organisation.contact_persons.all()
            ],
        },
    )


@staff_required("members.view_member", "members.add_contactperson", "members.change_contactperson")
def contact_person_create(request, pk):
    organisation = get_organisation(pk)
    form = ContactPersonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            contact = services.add_contact_person(organisation, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("%(name)s has been added as a contact person.") % {"name": contact})
            return member_page(organisation)
    return render(
        request,
        "backoffice/members/contact_person_form.html",
        {
            "form": form,
            "member": organisation,
            "problems": form.error_summary(),
            "section": "members",
            "title": _("Add a contact person"),
            "submit_label": _("Add contact person"),
        },
    )


@staff_required("members.view_member", "members.change_contactperson")
def contact_person_edit(request, pk, contact_pk):
    organisation = get_organisation(pk)
    contact = get_contact_person_for(organisation, contact_pk)
    initial = {name: getattr(contact, name) for name in ContactPersonForm.FIELDS}
    initial["phone"] = validation.format_phone(contact.phone)
    form = ContactPersonForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            changes = services.update_contact_person(contact, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if changes:
                contact.refresh_from_db()
                messages.success(request, _("The details of %(name)s have been saved.") % {"name": contact})
            else:
                messages.info(request, _("Nothing was changed."))
            return member_page(organisation)
    return render(
        request,
        "backoffice/members/contact_person_form.html",
        {
            "form": form,
            "member": organisation,
            "contact": contact,
            "problems": form.error_summary(),
            "section": "members",
            "title": _("Change contact person %(name)s") % {"name": contact},
            "submit_label": _("Save"),
        },
    )


@staff_required("members.view_member", "members.delete_contactperson", "members.change_contactperson")
def contact_person_remove(request, pk, contact_pk):
    organisation = get_organisation(pk)
    contact = get_contact_person_for(organisation, contact_pk)
    problems = []
    if request.method == "POST":
        try:
            new_main = services.remove_contact_person(contact, actor=request.user)
        except ValidationError as exc:
            problems = [("", message) for message in exc.messages]
        else:
            messages.success(request, _("%(name)s is no longer a contact person.") % {"name": contact})
            if new_main is not None:
                messages.info(request, _("%(name)s is now the main contact.") % {"name": new_main})
            return member_page(organisation)
    return render(
        request,
        "backoffice/members/contact_person_remove.html",
        {
            "member": organisation,
            "contact": contact,
            "problems": problems,
            "section": "members",
        },
    )
