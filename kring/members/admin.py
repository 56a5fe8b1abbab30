"""The Django admin is for technical administrators only; the secretariat works in the back office.

Lists and reference data (plans, prices, member types, reasons, portal parts) can be kept here.
Members and memberships are read-only here, because their changes must go through the services
(validation, audit log, membership history).
"""

from django.contrib import admin

from kring.members.models import (
    BankAccount,
    CancellationReason,
    Member,
    Membership,
    MemberType,
    Plan,
    PlanPrice,
    PortalPart,
    PriceRule,
)


class PlanPriceInline(admin.TabularInline):
    model = PlanPrice
    extra = 0


class PriceRuleInline(admin.TabularInline):
    model = PriceRule
    extra = 0


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "yearly_price", "renewal", "is_addon", "is_active"]
    list_filter = ["is_addon", "is_active", "renewal"]
    filter_horizontal = ["addons", "portal_parts", "member_types"]
    inlines = [PlanPriceInline, PriceRuleInline]


@admin.register(MemberType)
class MemberTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "has_vote", "pays_dues", "is_honorary", "sort_order"]


@admin.register(CancellationReason)
class CancellationReasonAdmin(admin.ModelAdmin):
    list_display = ["label", "code", "is_active", "sort_order"]


@admin.register(PortalPart)
class PortalPartAdmin(admin.ModelAdmin):
    list_display = ["name", "code"]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Member)
class MemberAdmin(ReadOnlyAdmin):
    list_display = ["member_number", "listed_name", "city", "membership_status"]
    search_fields = ["member_number", "search_name", "email"]
    show_full_result_count = False


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdmin):
    list_display = ["member", "plan", "status", "start_date", "end_date"]
    list_select_related = ["member", "plan"]
    raw_id_fields = ["member"]
    show_full_result_count = False


@admin.register(BankAccount)
class BankAccountAdmin(ReadOnlyAdmin):
    list_display = ["member", "iban_masked", "holder_name", "is_primary"]
    list_select_related = ["member"]
    exclude = ["iban"]
    show_full_result_count = False
