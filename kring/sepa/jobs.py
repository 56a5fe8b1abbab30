"""Background jobs of the SEPA loop."""

from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import translation

from kring.core.jobs import JobError, Progress, job_handler
from kring.core.models import BackgroundJob


@job_handler("sepa.collect")
def collect_job(job: BackgroundJob, progress: Progress) -> dict:
    """Make the collection file (params: "collection_date", "version", "language").

    All-or-nothing (one transaction), so safe to run again after a lost worker: invoices already
    in a collection are not taken again.
    """
    from kring.sepa.collection import collect

    params = job.params or {}
    with translation.override(params.get("language") or settings.LANGUAGE_CODE):
        try:
            result = collect(
                date.fromisoformat(params["collection_date"]),
                version=params.get("version") or None,
                actor=job.created_by,
                job=job,
                progress=lambda done, total, label: progress.set(done, total, label),
            )
        except ValidationError as error:
            raise JobError(" ".join(error.messages)) from None
        return {
            "batch_id": result.batch.pk if result.batch else None,
            "count": result.count,
            "total": str(result.total),
            "uncollectable": [
                {
                    "invoice_id": u.invoice_id,
                    "number": u.number,
                    "name": u.name,
                    "amount": str(u.amount),
                    "reason": u.reason,
                }
                for u in result.uncollectable
            ],
        }
