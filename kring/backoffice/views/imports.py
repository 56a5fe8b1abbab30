"""Importing a member list from the back office.

1. import_start: upload a CSV or Excel file. It is stored in a background job (in the database, so
   any app server and worker can read it) and checked there; the browser goes to the job's page.
2. import_detail: the progress bar while the check runs; then which column holds what, the
   problems (also as a CSV error report, import_errors) and what the import would change.
3. import_apply: "Import now" starts a second job that imports the same file, all or nothing.
"""

import csv
import io
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kring.backoffice.permissions import staff_required
from kring.backoffice.views.jobs import get_job_for
from kring.core.jobs import start_job
from kring.core.models import BackgroundJob
from kring.members.importing import ImportFileError, check_file_name, check_not_empty, errors_csv
from kring.members.importing.report import change_label
from kring.members.models import Plan

IMPORT_JOB = "members.import"
PERMISSION = "members.import_member"
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
# The page lists this many problems and changed rows; the error report (CSV) has all problems.
SHOWN_ERRORS = 200
SHOWN_ROWS = 200
EXAMPLE_COLUMNS = [
    "Lidnummer",
    "Voornaam",
    "Voorletters",
    "Tussenvoegsel",
    "Achternaam",
    "Geboortedatum",
    "E-mail",
    "Telefoon",
    "Straat",
    "Huisnummer",
    "Toevoeging",
    "Postcode",
    "Woonplaats",
    "Land",
    "IBAN",
    "Tenaamstelling",
    "Lidmaatschap",
    "Betaalfrequentie",
    "Lid sinds",
    "Soort",
    "Huishouden",
    "Rol in huishouden",
    "Correspondentie",
]


@dataclass(frozen=True)
class UploadedList:
    name: str
    data: bytes


class ImportForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Member list"),
        help_text=gettext_lazy("A CSV file or an Excel workbook (.xlsx), at most 20 MB."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.xlsx,.xlsm"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is larger than 20 MB. Split it into smaller files."))
        data = upload.read()
        try:
            check_file_name(upload.name)
            check_not_empty(data)
        except ImportFileError as exc:
            raise forms.ValidationError(str(exc)) from None
        return UploadedList(name=upload.name, data=data)


@staff_required(PERMISSION)
def import_start(request):
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            job = start_job(
                IMPORT_JOB,
                params={"apply": False, "language": get_language()},
                user=request.user,
                input_file=upload.data,
                filename=upload.name,
            )
            return redirect("backoffice:import_detail", job_id=job.pk)
    else:
        form = ImportForm()
    recent = (
        BackgroundJob.objects.filter(kind=IMPORT_JOB)
        .order_by("-created_at", "-pk")
        .values(
            "pk",
            "created_at",
            "input_filename",
            "status",
            "params",
            "result__counts",
            "created_by__full_name",
            "created_by__email",
        )[:10]
    )
    return render(
        request, "backoffice/imports/start.html", {"form": form, "recent": recent, "section": "import"}
    )


@staff_required(PERMISSION)
def import_detail(request, job_id: int):
    job = get_job_for(request.user, job_id, kind=IMPORT_JOB)
    context = {"job": job, "section": "import", "applying": bool(job.params.get("apply"))}
    if job.status == BackgroundJob.Status.SUCCEEDED:
        context.update(_report_context(job))
    return render(request, "backoffice/imports/detail.html", context)


def _report_context(job: BackgroundJob) -> dict:
    result = job.result
    counts = result["counts"]
    errors = result["errors"]
    rows = [
        {**row, "changes": [{**change, "label": change_label(change["field"])} for change in row["changes"]]}
        for row in result["rows"][:SHOWN_ROWS]
    ]
    to_change = counts["new"] + counts["updated"]
    applied_by = None
    if not job.params.get("apply"):
        applied_by = (
            BackgroundJob.objects.filter(kind=IMPORT_JOB, params__checked_job=job.pk)
            .values_list("pk", flat=True)
            .first()
        )
    return {
        "result": result,
        "counts": counts,
        "mapping": [
            {"column": column["column"], "label": change_label(column["field"]) if column["field"] else ""}
            for column in result["mapping"]["columns"]
        ],
        "unmapped": result["mapping"]["unmapped"],
        "errors": errors[:SHOWN_ERRORS],
        "more_errors": counts["errors"] - min(len(errors), SHOWN_ERRORS),
        "rows": rows,
        "more_rows": to_change - len(rows),
        "can_apply": not job.params.get("apply")
        and not counts["errors"]
        and to_change > 0
        and applied_by is None,
        "applied_by": applied_by,
    }


@staff_required(PERMISSION)
@require_POST
def import_apply(request, job_id: int):
    check = get_job_for(request.user, job_id, kind=IMPORT_JOB)
    with transaction.atomic():
        # One import per check, even when "Import now" is pressed twice.
        BackgroundJob.objects.select_for_update().filter(pk=check.pk).exists()
        existing = BackgroundJob.objects.filter(kind=IMPORT_JOB, params__checked_job=check.pk).first()
        if existing is not None:
            return redirect("backoffice:import_detail", job_id=existing.pk)
        counts = check.result.get("counts") or {}
        if (
            check.params.get("apply")
            or check.status != BackgroundJob.Status.SUCCEEDED
            or counts.get("errors", 1)
            or not counts.get("new", 0) + counts.get("updated", 0)
        ):
            messages.error(
                request, _("This file cannot be imported. Correct the problems and check it again.")
            )
            return redirect("backoffice:import_detail", job_id=check.pk)
        data = BackgroundJob.objects.values_list("input_file", flat=True).get(pk=check.pk)
        job = start_job(
            IMPORT_JOB,
            params={"apply": True, "checked_job": check.pk, "language": get_language()},
            user=request.user,
            input_file=bytes(data),
            filename=check.input_filename,
        )
    return redirect("backoffice:import_detail", job_id=job.pk)


@staff_required(PERMISSION)
def import_errors(request, job_id: int):
    job = get_job_for(request.user, job_id, kind=IMPORT_JOB)
    response = HttpResponse(errors_csv(job.result or {}), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="importfouten-{job.pk}.csv"'
    return response


@staff_required(PERMISSION)
def import_example(request):
    """An example file with the column names the import knows, to fill in or to compare with."""
    plan = Plan.objects.filter(is_addon=False, is_active=True).order_by("sort_order", "pk").first()
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow(EXAMPLE_COLUMNS)
    writer.writerow(
        [
            "",
            "Anna",
            "A.",
            "van den",
            "Berg",
            "15-04-1980",
            "anna@example.nl",
            "06 12345678",
            "Dorpsstraat",
            "12",
            "a",
            "1234 AB",
            "Utrecht",
            "Nederland",
            "NL91 ABNA 0417 1643 00",
            "A. van den Berg",
            plan.name if plan else "",
            "jaarlijks",
            "01-01-2015",
            "Lid",
            "",
            "",
            "e-mail",
        ]
    )
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="voorbeeld-ledenlijst.csv"'
    return response
