"""Direct-debit collections in the back office.

1. finance_collection_new: choose the collection date → "Show what will be collected" shows how
   many invoices, the total and the invoices that cannot be collected (with the reason); nothing
   is made yet. "Make the collection file" (POST, sepa.collect_directdebit) starts a background job.
2. finance_collection_job: the job's progress; when it is done, the batch page (or what went wrong).
3. finance_collection_detail: the batch — counts, total, its invoices — and the XML to download
   (sepa.view_collectionbatch) for the bank.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from kring.backoffice.forms import BackofficeForm, date_field
from kring.backoffice.permissions import staff_required
from kring.backoffice.views.jobs import get_job_for
from kring.core import jobs
from kring.sepa import business_days, collection
from kring.sepa.models import CollectionBatch, CreditorSettings

VIEW = "sepa.view_collectionbatch"
COLLECT = "sepa.collect_directdebit"
BATCHES_SHOWN = 50
ITEMS_SHOWN = 100


class CollectionForm(BackofficeForm):
    collection_date = date_field(
        gettext_lazy("Collection date"),
        help_text=gettext_lazy(
            "The day the money is taken from the members' accounts. It must be a banking day, and the "
            "members must have been told the date in advance."
        ),
    )
    version = forms.ChoiceField(
        label=gettext_lazy("File version"),
        choices=CreditorSettings.MessageVersion.choices,
        help_text=gettext_lazy("Keep the version from the settings unless your bank asks for another one."),
    )


def context(request, **extra) -> dict:
    return {
        "section": "finance",
        "subsection": "collections",
        "read_only": not request.user.has_perm(COLLECT),
        **extra,
    }


@staff_required(VIEW)
@require_safe
def finance_collection_list(request):
    batches = CollectionBatch.objects.select_related("created_by").defer("xml")[:BATCHES_SHOWN]
    return render(request, "backoffice/finance/collections/list.html", context(request, batches=batches))


@staff_required(VIEW, COLLECT)
def finance_collection_new(request):
    creditor = CreditorSettings.current()
    earliest = collection.earliest_collection_date(creditor=creditor)
    if not business_days.is_business_day(earliest):
        earliest = business_days.next_business_day(earliest)
    data = (
        request.POST
        if request.method == "POST"
        else (request.GET if "collection_date" in request.GET else None)
    )
    form = CollectionForm(data, initial={"collection_date": earliest, "version": creditor.message_version})
    preview = None
    if data is not None and form.is_valid():
        collection_date, version = form.cleaned_data["collection_date"], form.cleaned_data["version"]
        try:
            if request.method == "POST":
                job = jobs.start_job(
                    "sepa.collect",
                    params={
                        "collection_date": collection_date.isoformat(),
                        "version": version,
                        "language": get_language(),
                    },
                    user=request.user,
                )
                messages.success(
                    request,
                    _("The collection file is being made. You can leave this page; the work goes on."),
                )
                return redirect("backoffice:finance_collection_job", job_id=job.pk)
            preview = collection.preview(collection_date)
        except ValidationError as error:
            form.add_error("collection_date", error.messages)
    return render(
        request,
        "backoffice/finance/collections/new.html",
        context(request, form=form, preview=preview, problems=form.error_summary(), earliest=earliest),
    )


@staff_required(VIEW)
@require_safe
def finance_collection_job(request, job_id: int):
    job = get_job_for(request.user, job_id, "sepa.collect")
    result = job.result or {}
    if job.status == job.Status.SUCCEEDED and result.get("batch_id"):
        return redirect("backoffice:finance_collection_detail", pk=result["batch_id"])
    return render(
        request, "backoffice/finance/collections/job.html", context(request, job=job, result=result)
    )


@staff_required(VIEW)
@require_safe
def finance_collection_detail(request, pk: int):
    batch = get_object_or_404(CollectionBatch.objects.select_related("created_by", "job").defer("xml"), pk=pk)
    items = list(batch.items.select_related("invoice", "mandate").order_by("pk")[:ITEMS_SHOWN])
    uncollectable = (batch.job.result or {}).get("uncollectable", []) if batch.job else []
    return render(
        request,
        "backoffice/finance/collections/detail.html",
        context(request, batch=batch, items=items, uncollectable=uncollectable, items_shown=ITEMS_SHOWN),
    )


@staff_required(VIEW)
@require_safe
def finance_collection_download(request, pk: int):
    batch = get_object_or_404(CollectionBatch, pk=pk)
    if not batch.xml:
        raise Http404("This batch has no file.")
    response = HttpResponse(bytes(batch.xml), content_type="application/xml")
    response["Content-Disposition"] = f'attachment; filename="{batch.message_id}.xml"'
    return response
