"""Households in the back office: start one, add someone, leave it, and 'turned 18'.

Leaving a household or coming of age is a recorded change of the same member (same number,
same 'member since'), never a re-entry: the services take care of that.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from kring.backoffice.forms import (
    YOUTH_MEMBER_TYPE_CODE,
    ComeOfAgeForm,
    HouseholdAddMemberForm,
    HouseholdCreateForm,
    LeaveHouseholdForm,
    add_service_errors,
    long_date,
)
from kring.backoffice.permissions import staff_required
from kring.backoffice.views.member_edit import member_page
from kring.backoffice.views.memberships import form_page
from kring.members import services
from kring.members.models import Member


def get_person(pk) -> Member:
    return get_object_or_404(Member.objects.select_related("member_type", "household"), pk=pk)


def refuse(request, member: Member, message: str):
    messages.error(request, message)
    return member_page(member)


def is_youth_member(member: Member) -> bool:
    """Whom the back office offers 'turned 18': youth members, and young members with a guardian."""
    return member.kind == Member.Kind.PERSON and (
        member.member_type.code == YOUTH_MEMBER_TYPE_CODE or member.guardian_id is not None
    )


def household_name_for(member: Member) -> str:
    prefix = member.name_prefix[:1].upper() + member.name_prefix[1:]
    family_name = " ".join(part for part in (prefix, member.last_name) if part)
    return _("Family %(name)s") % {"name": family_name}


@staff_required("members.view_member", "members.change_member", "members.add_household")
def household_create(request, pk):
    member = get_person(pk)
    if member.kind != Member.Kind.PERSON:
        return refuse(request, member, _("Only people can form a household."))
    if member.household_id:
        return refuse(
            request,
            member,
            _("%(name)s already belongs to household %(household)s.")
            % {"name": member.display_name, "household": member.household.name},
        )
    form = HouseholdCreateForm(request.POST or None, initial={"name": household_name_for(member)})
    if request.method == "POST" and form.is_valid():
        try:
            household = services.create_household(
                actor=request.user, name=form.cleaned_data["name"].strip(), head=member
            )
        except ValidationError as exc:
            add_service_errors(form, exc, default="name")
        else:
            messages.success(
                request,
                _("Household %(household)s has been made, with %(name)s as the main member.")
                % {"household": household.name, "name": member.display_name},
            )
            return member_page(member)
    return form_page(
        request,
        form=form,
        member=member,
        title=_("Start a household"),
        submit_label=_("Start household"),
        intro=_("%(name)s becomes the main member. You can add a partner or children next.")
        % {"name": member.display_name},
    )


@staff_required("members.view_member", "members.change_member", "members.change_household")
def household_add_member(request, pk):
    member = get_person(pk)
    if not member.household_id:
        return refuse(
            request,
            member,
            _("%(name)s is not in a household yet. Start one first.") % {"name": member.display_name},
        )
    form = HouseholdAddMemberForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        other = form.cleaned_data["member"]
        role = form.cleaned_data["role"]
        if other.pk == member.pk:
            form.add_error(
                "member_number", _("This is the member themselves. Enter the number of someone else.")
            )
        else:
            try:
                services.add_to_household(other, member.household, role=role, actor=request.user)
            except ValidationError as exc:
                add_service_errors(form, exc, default="member_number")
            else:
                messages.success(
                    request,
                    _("%(name)s now belongs to household %(household)s as %(role)s.")
                    % {
                        "name": other.display_name,
                        "household": member.household.name,
                        "role": Member.HouseholdRole(role).label,
                    },
                )
                return member_page(member)
    return form_page(
        request,
        form=form,
        member=member,
        title=_("Add someone to the household"),
        submit_label=_("Add to household"),
        intro=_("Household: %(household)s.") % {"household": member.household.name},
    )


@staff_required("members.view_member", "members.change_member", "members.add_membership")
def household_leave(request, pk):
    member = get_person(pk)
    if not member.household_id:
        return refuse(request, member, _("%(name)s is not in a household.") % {"name": member.display_name})
    household_name = member.household.name
    form = LeaveHouseholdForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            membership = services.leave_household(
                member,
                actor=request.user,
                on_date=data["on_date"],
                new_plan=data["plan"],
                billing_frequency=data["billing_frequency"] or None,
            )
        except ValidationError as exc:
            add_service_errors(form, exc, default="plan")
            member = get_person(pk)  # the service changed this instance before it failed; nothing was saved
        else:
            message = _("%(name)s has left household %(household)s.") % {
                "name": member.display_name,
                "household": household_name,
            }
            if membership is not None:
                message += " " + _("Their own membership %(plan)s starts on %(date)s.") % {
                    "plan": membership.plan.name,
                    "date": long_date(membership.start_date),
                }
            messages.success(request, message)
            return member_page(member)
    return form_page(
        request,
        form=form,
        member=member,
        title=_("Leave the household"),
        submit_label=_("Leave household"),
        intro=_("%(name)s leaves household %(household)s, for example after moving out.")
        % {"name": member.display_name, "household": household_name},
    )


@staff_required(
    "members.view_member", "members.change_member", "members.change_membership", "members.add_membership"
)
def come_of_age(request, pk):
    member = get_person(pk)
    if not is_youth_member(member):
        return refuse(request, member, _("%(name)s is not a youth member.") % {"name": member.display_name})
    form = ComeOfAgeForm(request.POST or None, member=member)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.come_of_age(
                member,
                actor=request.user,
                on_date=data["on_date"],
                member_type=data["member_type"],
                new_plan=data["plan"],
                billing_frequency=data["billing_frequency"] or None,
            )
        except ValidationError as exc:
            add_service_errors(form, exc, rename={"effective_date": "on_date"}, default="plan")
            member = get_person(pk)  # the service changed this instance before it failed; nothing was saved
        else:
            messages.success(
                request,
                _("%(name)s is now %(type)s.")
                % {"name": member.display_name, "type": data["member_type"].name},
            )
            return member_page(member)
    return form_page(
        request,
        form=form,
        member=member,
        title=_("Turned 18"),
        submit_label=_("Save"),
        intro=_(
            "A youth member becomes an adult member: same member number, same 'member since' "
            "date. Afterwards, check who pays for the membership."
        ),
    )
