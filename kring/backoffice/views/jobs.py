"""Progress of background jobs, for any page that starts one (imports now; invoice runs later).

A page shows ``{% include "backoffice/jobs/_progress.html" %}`` with ``job`` in its context. While
the job runs, the partial asks job_status for a fresh copy of itself every second (htmx); when
the job is done, job_status tells htmx to reload the page, which then shows the outcome. The
job id is in the page's address, so a reload or another app server shows the same job.
"""

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, render

from kring.backoffice.permissions import staff_required
from kring.core.models import BackgroundJob

# Who may follow a job of each kind. A kind not listed here is visible to the one who started it.
JOB_PERMISSIONS = {
    "members.import": "members.import_member",
    "billing.invoice_run": "billing.view_invoicerun",
    "billing.send_reminders": "billing.view_reminder",
    "billing.send_invoices": "billing.view_invoice",
    "sepa.collect": "sepa.view_collectionbatch",
}


def get_job_for(user, job_id: int, kind: str | None = None) -> BackgroundJob:
    """The job, if this user may see it (404 for another kind, 403 without the permission)."""
    jobs = BackgroundJob.objects.defer("input_file")
    if kind is not None:
        jobs = jobs.filter(kind=kind)
    job = get_object_or_404(jobs, pk=job_id)
    permission = JOB_PERMISSIONS.get(job.kind)
    allowed = user.has_perm(permission) if permission else (job.created_by_id == user.pk or user.is_superuser)
    if not allowed:
        raise PermissionDenied
    return job


# Any staff member who works with members may ask; which jobs they may follow is get_job_for's call.
@staff_required("members.view_member")
def job_status(request, job_id: int):
    job = get_job_for(request.user, job_id)
    response = render(request, "backoffice/jobs/_progress.html", {"job": job})
    if job.is_finished and request.htmx:
        # The page around the progress bar shows the outcome; let it load afresh.
        response["HX-Refresh"] = "true"
    return response
