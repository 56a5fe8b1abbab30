"""Membership anniversaries (25, 40, 50 years) for the secretariat, honouring who may be named."""

from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone

from kring.backoffice.permissions import staff_required
from kring.members import queries

YEARS_BACK = 5
YEARS_AHEAD = 5
# A big association has thousands of anniversaries a year; a page shows this many.
PER_PAGE = 100


def chosen_year(value, this_year: int) -> int:
    try:
        year = int(value)
    except (TypeError, ValueError):
        return this_year
    return year if 1900 <= year <= 2200 else this_year


@staff_required("members.view_member")
def anniversaries(request):
    this_year = timezone.localdate().year
    year = chosen_year(request.GET.get("year"), this_year)
    found = sorted(queries.anniversaries_in(year), key=lambda a: (a.date, a.member.sort_name))
    years = list(range(this_year - YEARS_BACK, this_year + YEARS_AHEAD + 1))
    if year not in years:
        years = sorted([*years, year])
    return render(
        request,
        "backoffice/anniversaries.html",
        {
            "section": "anniversaries",
            "year": year,
            "years": years,
            "total": len(found),
            "page": Paginator(found, PER_PAGE).get_page(request.GET.get("page")),
            "not_named_count": sum(1 for a in found if not a.may_be_named),
            "milestones": queries.ANNIVERSARY_YEARS,
        },
    )
