"""The back office's front page: how many members, what changed lately, what is coming up."""

from collections import defaultdict
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta
from django.db.models import Count
from django.shortcuts import render
from django.utils import timezone

from kring.backoffice.permissions import staff_required
from kring.core.models import AuditEntry
from kring.members import queries
from kring.members.models import Member, Membership, Plan

NEWEST_MEMBERS = 8
RECENT_CHANGES = 10
COMING_OF_AGE_SHOWN = 20


@dataclass
class MemberCounts:
    by_status: list[tuple[str, int]]  # (status, members); "" is members without any membership
    by_plan: list[tuple[Plan, int]]  # current members per main plan
    current_total: int


def member_counts() -> MemberCounts:
    """Members per status and per plan from one aggregate query (one pass over the member table)."""
    per_status: dict[str, int] = defaultdict(int)
    per_plan: dict[int, int] = defaultdict(int)
    grouped = (
        Member.objects.order_by().values_list("membership_status", "current_plan").annotate(n=Count("id"))
    )
    for status, plan_id, count in grouped:
        per_status[status] += count
        if plan_id and status in Membership.CURRENT_STATUSES:
            per_plan[plan_id] += count
    by_status = [(status, per_status[status]) for status in Membership.Status.values]
    if per_status[""]:
        by_status.append(("", per_status[""]))
    return MemberCounts(
        by_status=by_status,
        by_plan=[(plan, per_plan[plan.pk]) for plan in Plan.objects.filter(is_addon=False)],
        current_total=sum(per_status[status] for status in Membership.CURRENT_STATUSES),
    )


@staff_required("members.view_member")
def dashboard(request):
    today = timezone.localdate()
    counts = member_counts()
    recent = []
    if request.user.has_perm("core.view_auditentry"):
        recent = list(AuditEntry.objects.order_by("-created_at", "-id")[:RECENT_CHANGES])
    members_by_id = Member.objects.in_bulk([entry.member_id for entry in recent if entry.member_id])
    coming_of_age = list(
        queries.members_coming_of_age(start=today, end=today + relativedelta(months=3))
        .exclude(membership_status__in=[Membership.Status.ENDED, ""])
        .select_related("member_type")
        .order_by("date_of_birth", "sort_name")[: COMING_OF_AGE_SHOWN + 1]
    )
    return render(
        request,
        "backoffice/dashboard.html",
        {
            "section": "dashboard",
            "status_counts": counts.by_status,
            "current_total": counts.current_total,
            "plan_counts": counts.by_plan,
            "newest_members": Member.objects.filter(member_since__isnull=False, member_since__lte=today)
            .select_related("current_plan")
            .order_by("-member_since", "-pk")[:NEWEST_MEMBERS],
            "recent_changes": [(entry, members_by_id.get(entry.member_id)) for entry in recent],
            "anniversary_count": len(queries.anniversaries_in(today.year)),
            "year": today.year,
            "coming_of_age": [
                (member, member.date_of_birth + relativedelta(years=18))
                for member in coming_of_age[:COMING_OF_AGE_SHOWN]
            ],
            "more_coming_of_age": len(coming_of_age) > COMING_OF_AGE_SHOWN,
            "coming_of_age_until": today + relativedelta(months=3),
        },
    )
