"""Background jobs of the finance domain (see kring.core.jobs)."""

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from kring.billing import mail, queries
from kring.core.jobs import Progress, job_handler
from kring.core.models import BackgroundJob


@job_handler("billing.send_invoices")
def send_invoices(job: BackgroundJob, progress: Progress) -> dict:
    """Email the unsent invoices (params: "run_id", "invoice_ids", "limit"; all optional).

    Safe to run again after a lost worker: every invoice is claimed before it is sent, so a
    second run sends only what the first did not.
    """
    params = job.params or {}
    with translation.override(params.get("language") or settings.LANGUAGE_CODE):
        if params.get("invoice_ids"):
            ids = [int(pk) for pk in params["invoice_ids"]]
        else:
            ids = queries.unsent_invoice_ids(run_id=params.get("run_id"), limit=params.get("limit"))
        label = _("Emailing invoices")
        progress.set(0, len(ids), label)
        sent, skipped = mail.send_invoice_emails(
            ids, progress=lambda done, total: progress.set(done, total, label)
        )
        return {"sent": sent, "skipped": skipped}


@job_handler("billing.send_reminders")
def send_reminders(job: BackgroundJob, progress: Progress) -> dict:
    """Send the reminders that are due (params: "date", the day to run for, default today).

    Safe to run again after a lost worker: every reminder step is taken and delivered once.
    """
    from datetime import date

    from kring.billing.reminders import send_reminders as send_due_reminders

    params = job.params or {}
    with translation.override(params.get("language") or settings.LANGUAGE_CODE):
        today = date.fromisoformat(params["date"]) if params.get("date") else None
        progress.set(0, 1, _("Sending reminders"))
        report = send_due_reminders(today=today, actor=job.created_by)
        progress.set(1, 1, _("Reminders sent"))
        return report.as_result()


@job_handler("billing.invoice_run")
def invoice_run(job: BackgroundJob, progress: Progress) -> dict:
    """Create the dues invoices of a period (params: "period", "invoice_date", "run", "language").

    Resumable, so safe to run again after a lost worker: every chunk of memberships is its own
    transaction and a second pass creates only the invoices that are still missing.
    """
    from datetime import date

    from django.core.exceptions import ValidationError

    from kring.billing.invoicing import run_invoices
    from kring.billing.models import InvoiceRun
    from kring.core.jobs import JobError

    params = job.params or {}
    with translation.override(params.get("language") or settings.LANGUAGE_CODE):
        run = InvoiceRun.objects.filter(pk=params["run"]).first() if params.get("run") else None
        try:
            run = run_invoices(
                params["period"],
                invoice_date=date.fromisoformat(params["invoice_date"])
                if params.get("invoice_date")
                else None,
                actor=job.created_by,
                progress=progress.set,
                run=run,
            )
        except ValidationError as error:
            if run is not None:
                InvoiceRun.objects.filter(pk=run.pk).update(status=InvoiceRun.Status.FAILED)
            raise JobError(" ".join(error.messages)) from None
        return {"run": run.pk, "invoices": run.invoice_count, "total": str(run.total)}
