"""Staff roles as Django groups, each with exactly the permissions it needs.

This table is the one place that says who may do what; ``sync_roles`` (run after every
migrate) makes the groups match it. Later apps add their finance permissions here.
"""

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

SECRETARIAT = "secretariaat"
TREASURER = "penningmeester"
BOARD = "bestuur"
AUDIT_COMMITTEE = "kascommissie"

MEMBER_ADMIN_READ = [
    "members.view_member",
    "members.view_membership",
    "members.view_plan",
    "members.view_household",
    "members.view_contactperson",
    "members.view_membershippayer",
    "members.view_membershipchange",
    "members.view_bankaccount",
    "members.view_membertype",
    "members.view_cancellationreason",
    "core.view_auditentry",
]
MEMBER_ADMIN_WRITE = [
    "members.add_member",
    "members.change_member",
    "members.add_membership",
    "members.change_membership",
    "members.add_household",
    "members.change_household",
    "members.add_contactperson",
    "members.change_contactperson",
    "members.delete_contactperson",
    "members.add_membershippayer",
    "members.change_membershippayer",
    "members.delete_membershippayer",
    "members.add_bankaccount",
    "members.change_bankaccount",
    "members.export_member",
    "members.import_member",
]

FINANCE_READ = [
    "billing.view_invoice",
    "billing.view_invoiceline",
    "billing.view_invoicerun",
    "billing.view_payment",
    "billing.view_onlinepayment",
    "billing.view_reminder",
    "billing.view_reminderstep",
    "billing.view_printbatch",
    "billing.view_billingsettings",
    "sepa.view_creditorsettings",
    "sepa.view_mandate",
    "sepa.view_mandateamendment",
    "sepa.view_collectionbatch",
    "sepa.view_collectionitem",
    "sepa.view_prenotification",
    "sepa.view_bankstatement",
    "sepa.view_statementtransaction",
]
FINANCE_WRITE = [
    "billing.add_invoice",
    "billing.change_invoice",
    "billing.run_invoices",
    "billing.add_payment",
    "billing.add_reminderstep",
    "billing.change_reminderstep",
    "billing.delete_reminderstep",
    "billing.add_printbatch",
    "billing.change_printbatch",
    "billing.change_billingsettings",
    "members.change_plan",
    "sepa.change_creditorsettings",
    "sepa.add_mandate",
    "sepa.change_mandate",
    "sepa.collect_directdebit",
    "sepa.change_collectionbatch",
    "sepa.import_bankstatement",
    "sepa.change_statementtransaction",
]

ROLE_PERMISSIONS = {
    # The secretariat follows up invoices flagged after the last reminder, so it may read them.
    SECRETARIAT: MEMBER_ADMIN_READ + MEMBER_ADMIN_WRITE + ["billing.view_invoice", "billing.view_reminder"],
    # The treasurer keeps the bank details and sees full IBANs; members are changed by the secretariat.
    TREASURER: MEMBER_ADMIN_READ
    + [
        "members.add_bankaccount",
        "members.change_bankaccount",
        "members.view_full_iban",
        "members.export_member",
    ]
    + FINANCE_READ
    + FINANCE_WRITE
    + ["billing.export_invoice"],
    BOARD: MEMBER_ADMIN_READ,
    # Read-only access to the member administration and finance, as Dutch law gives it.
    AUDIT_COMMITTEE: MEMBER_ADMIN_READ + FINANCE_READ + ["members.view_full_iban", "billing.export_invoice"],
}

ROLE_LABELS = {
    SECRETARIAT: "Secretariaat",
    TREASURER: "Penningmeester",
    BOARD: "Bestuur",
    AUDIT_COMMITTEE: "Kascommissie",
}


def sync_roles(**kwargs) -> None:
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        condition = Q(pk__in=[])
        for dotted in codenames:
            app_label, codename = dotted.split(".")
            condition |= Q(content_type__app_label=app_label, codename=codename)
        group.permissions.set(Permission.objects.filter(condition))
