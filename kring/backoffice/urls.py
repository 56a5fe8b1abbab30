from django.urls import include, path

from kring.backoffice.views import (
    anniversaries,
    dashboard,
    households,
    imports,
    jobs,
    member_edit,
    members,
    memberships,
)

app_name = "backoffice"

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("members/", members.member_list, name="member_list"),
    path("members/export/", members.member_export, name="member_export"),
    path("members/<int:pk>/", members.member_detail, name="member_detail"),
    # Write side (bo-edit): every change goes through kring.members.services.
    path("members/new/", member_edit.member_create, name="member_create"),
    path("members/<int:pk>/edit/", member_edit.member_edit, name="member_edit"),
    path("members/<int:pk>/bank-account/", member_edit.bank_account_edit, name="bank_account_edit"),
    path("members/<int:pk>/contact-persons/", member_edit.contact_person_list, name="contact_person_list"),
    path(
        "members/<int:pk>/contact-persons/new/",
        member_edit.contact_person_create,
        name="contact_person_create",
    ),
    path(
        "members/<int:pk>/contact-persons/<int:contact_pk>/edit/",
        member_edit.contact_person_edit,
        name="contact_person_edit",
    ),
    path(
        "members/<int:pk>/contact-persons/<int:contact_pk>/remove/",
        member_edit.contact_person_remove,
        name="contact_person_remove",
    ),
    path("members/<int:pk>/memberships/new/", memberships.membership_create, name="membership_create"),
    path("memberships/<int:pk>/status/", memberships.membership_status, name="membership_status"),
    path("memberships/<int:pk>/cancel/", memberships.membership_cancel, name="membership_cancel"),
    path(
        "memberships/<int:pk>/withdraw-cancellation/",
        memberships.membership_withdraw_cancellation,
        name="membership_withdraw_cancellation",
    ),
    path(
        "memberships/<int:pk>/switch-plan/", memberships.membership_switch_plan, name="membership_switch_plan"
    ),
    path("memberships/<int:pk>/frequency/", memberships.membership_frequency, name="membership_frequency"),
    path("memberships/<int:pk>/payers/", memberships.membership_payers, name="membership_payers"),
    path("members/<int:pk>/household/new/", households.household_create, name="household_create"),
    path("members/<int:pk>/household/add/", households.household_add_member, name="household_add_member"),
    path("members/<int:pk>/household/leave/", households.household_leave, name="household_leave"),
    path("members/<int:pk>/turned-18/", households.come_of_age, name="come_of_age"),
    path("anniversaries/", anniversaries.anniversaries, name="anniversaries"),
    path("import/", imports.import_start, name="import_start"),
    path("import/example.csv", imports.import_example, name="import_example"),
    path("import/<int:job_id>/", imports.import_detail, name="import_detail"),
    path("import/<int:job_id>/apply/", imports.import_apply, name="import_apply"),
    path("import/<int:job_id>/errors.csv", imports.import_errors, name="import_errors"),
    path("jobs/<int:job_id>/status/", jobs.job_status, name="job_status"),
    path("finance/", include("kring.backoffice.urls_finance")),
]
