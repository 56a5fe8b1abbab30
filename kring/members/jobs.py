"""Background jobs of the member administration (see kring.core.jobs)."""

from django.conf import settings
from django.utils import translation

from kring.core.jobs import JobError, Progress, job_handler
from kring.core.models import BackgroundJob
from kring.members.importing import ImportFileError, run_import


@job_handler("members.import")
def import_members(job: BackgroundJob, progress: Progress) -> dict:
    """Check (params["apply"] false) or import the member list stored in the job.

    All or nothing, so safe to run again after a lost worker: a second run of an applied import
    finds every row unchanged.
    """
    with translation.override(job.params.get("language") or settings.LANGUAGE_CODE):
        try:
            report = run_import(
                bytes(job.input_file or b""),
                job.input_filename,
                apply=bool(job.params.get("apply")),
                actor=job.created_by,
                progress=progress.set,
            )
        except ImportFileError as exc:
            raise JobError(str(exc)) from None
        return report.as_result()
