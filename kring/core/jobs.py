"""Background jobs with progress, on top of Django's task API (django-tasks).

The queue (database or Redis/RQ) only carries a job id. The BackgroundJob row holds the state:

- ``start_job`` creates the row and enqueues ``run_background_job`` after the transaction
  commits, so a worker never looks for a row it cannot see yet.
- ``run_background_job`` claims the row under a lock (a second delivery of the same task does
  nothing), runs the registered handler and records the outcome. While it runs, a heartbeat
  thread writes the progress and the time, on its own database connection, so the progress is
  visible even while the handler is inside a long transaction.
- ``requeue_stale_jobs`` (run by ``manage.py kring_worker`` every half minute) puts jobs whose
  worker stopped reporting back in the queue: a killed worker loses no work. Handlers must
  therefore be safe to run again (all-or-nothing, or resumable). A job whose worker dies
  ``MAX_ATTEMPTS`` times (say it exhausts the memory each time) is failed instead of looping.

Every write after the claim is tied to the attempt number: a worker that was given up for lost
and comes back later cannot overwrite the state of the attempt that replaced it.
"""

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from importlib import import_module

from django.apps import apps
from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import module_has_submodule
from django.utils.translation import gettext as _
from django_tasks import task

from kring.core.models import BackgroundJob

logger = logging.getLogger(__name__)

HANDLERS: dict[str, Callable] = {}
HEARTBEAT_SECONDS = 1.0
MAX_ATTEMPTS = 3
# A queued job nobody picked up for this many stale periods lost its queue entry (e.g. Redis flushed).
FORGOTTEN_AFTER_STALE_PERIODS = 10


class JobError(Exception):
    """A failure the user can act on; its message is shown on the job's page."""


def job_handler(kind: str):
    """Register ``function(job, progress) -> dict`` as the code that runs jobs of this kind.

    The handler reads ``job.params`` / ``job.input_file``, calls ``progress.set(...)`` as it goes,
    raises JobError with a message for the user when the input is wrong, and returns the result
    (stored as ``job.result``). It must not write the job row itself: the heartbeat does that,
    and a row locked by the handler's transaction would stop the heartbeat.
    """

    def register(function):
        HANDLERS[kind] = function
        return function

    return register


class Progress:
    """Handed to a handler; it sets how far it is. The heartbeat thread stores it."""

    def __init__(self):
        self.done = 0
        self.total = 0
        self.label = ""
        self._lock = threading.Lock()

    def set(self, done: int, total: int | None = None, label: str | None = None) -> None:
        with self._lock:
            self.done = done
            if total is not None:
                self.total = total
            if label is not None:
                self.label = label

    def read(self) -> tuple[int, int, str]:
        with self._lock:
            return self.done, self.total, self.label


def start_job(
    kind: str, *, params: dict, user=None, input_file: bytes | None = None, filename: str = ""
) -> BackgroundJob:
    """Create the job and queue it once the surrounding transaction commits."""
    if kind not in HANDLERS:
        _load_handlers()
    if kind not in HANDLERS:
        raise ValueError(f"Unknown job kind {kind!r}")
    job = BackgroundJob.objects.create(
        kind=kind,
        params=params,
        created_by=user if getattr(user, "pk", None) else None,
        input_file=input_file,
        input_filename=filename,
    )
    transaction.on_commit(lambda: run_background_job.enqueue(job.pk))
    return job


def _load_handlers() -> None:
    # Handlers live in each app's jobs module; importing it registers them.
    for config in apps.get_app_configs():
        if config.name.startswith("kring.") and module_has_submodule(config.module, "jobs"):
            import_module(f"{config.name}.jobs")


def _claim(job_id: int) -> BackgroundJob | None:
    """Mark the job as running for this worker, or return None if there is nothing to do."""
    stale_before = timezone.now() - timedelta(seconds=settings.KRING_JOB_STALE_AFTER_SECONDS)
    with transaction.atomic():
        job = BackgroundJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.is_finished:
            return None
        if (
            job.status == BackgroundJob.Status.RUNNING
            and job.heartbeat_at
            and job.heartbeat_at > stale_before
        ):
            return None  # another worker is on it
        now = timezone.now()
        if job.attempts >= MAX_ATTEMPTS:
            job.status = BackgroundJob.Status.FAILED
            job.finished_at = now
            job.error = _(
                "This task was started %(attempts)s times and stopped without finishing each time. "
                "Nothing was changed. Please contact the administrator."
            ) % {"attempts": job.attempts}
            job.save(update_fields=["status", "finished_at", "error"])
            logger.error("job %s (%s) given up after %s attempts", job.pk, job.kind, job.attempts)
            return None
        job.status = BackgroundJob.Status.RUNNING
        job.started_at = now
        job.heartbeat_at = now
        job.attempts += 1
        job.error = ""
        job.progress_done = 0
        job.progress_label = ""
        job.save(
            update_fields=[
                "status",
                "started_at",
                "heartbeat_at",
                "attempts",
                "error",
                "progress_done",
                "progress_label",
            ]
        )
    return job


class _Heartbeat(threading.Thread):
    def __init__(self, job: BackgroundJob, progress: Progress):
        super().__init__(daemon=True, name=f"job-{job.pk}-heartbeat")
        self.job_id = job.pk
        self.attempt = job.attempts
        self.progress = progress
        self.stopped = threading.Event()

    def run(self):
        try:
            while not self.stopped.wait(HEARTBEAT_SECONDS):
                self.beat()
        finally:
            connection.close()

    def beat(self):
        done, total, label = self.progress.read()
        try:
            BackgroundJob.objects.filter(
                pk=self.job_id, status=BackgroundJob.Status.RUNNING, attempts=self.attempt
            ).update(
                heartbeat_at=timezone.now(),
                progress_done=done,
                progress_total=total,
                progress_label=label[:200],
            )
        except Exception:  # a busy SQLite file or a database restart: the next beat tries again
            logger.debug("heartbeat for job %s skipped", self.job_id, exc_info=True)
            connection.close()

    def stop(self):
        self.stopped.set()
        self.join()


def execute_job(job_id: int) -> None:
    """Run one job in this process (what the task does; also used by tests and commands)."""
    _load_handlers()
    job = _claim(job_id)
    if job is None:
        return
    progress = Progress()
    heartbeat = _Heartbeat(job, progress)
    heartbeat.start()
    result, error = {}, ""
    try:
        handler = HANDLERS.get(job.kind)
        if handler is None:
            raise LookupError(f"no handler registered for job kind {job.kind!r}")
        result = handler(job, progress) or {}
    except JobError as exc:
        error = str(exc) or _("The task could not be completed.")
    except Exception as exc:
        logger.exception("background job %s (%s) failed", job.pk, job.kind)
        error = _(
            "Something went wrong on our side (%(error)s). Nothing was changed; please try again "
            "or contact the administrator."
        ) % {"error": type(exc).__name__}
    finally:
        # Also when the worker is being shut down mid-job (SystemExit): the job then stays
        # "running" without a heartbeat, and requeue_stale_jobs gives it to another worker.
        heartbeat.stop()
    status = BackgroundJob.Status.FAILED if error else BackgroundJob.Status.SUCCEEDED
    _finish(job, progress, status, result=result, error=error)


def _finish(job: BackgroundJob, progress: Progress, status: str, *, result: dict, error: str) -> None:
    done, total, label = progress.read()
    now = timezone.now()
    BackgroundJob.objects.filter(pk=job.pk, attempts=job.attempts).update(
        status=status,
        finished_at=now,
        heartbeat_at=now,
        result=result,
        error=error,
        progress_done=max(done, total) if status == BackgroundJob.Status.SUCCEEDED else done,
        progress_total=total,
        progress_label=label[:200],
    )


@task()
def run_background_job(job_id: int) -> None:
    close_old_connections()
    execute_job(job_id)


def requeue_stale_jobs() -> list[int]:
    """Queue again the jobs whose worker died (no heartbeat) or whose queue entry was lost.

    Safe to run from several machines at once: each job is taken back by one update that
    checks it is still stale, and a second delivery of a job does nothing anyway.
    """
    now = timezone.now()
    stale_after = timedelta(seconds=settings.KRING_JOB_STALE_AFTER_SECONDS)
    lost = Q(status=BackgroundJob.Status.RUNNING, heartbeat_at__lt=now - stale_after)
    forgotten_before = now - FORGOTTEN_AFTER_STALE_PERIODS * stale_after
    # A requeued job's heartbeat_at records when it was put back in the queue.
    forgotten = Q(status=BackgroundJob.Status.QUEUED) & (
        Q(heartbeat_at__lt=forgotten_before) | Q(heartbeat_at__isnull=True, created_at__lt=forgotten_before)
    )
    requeued = []
    for condition in (lost, forgotten):
        for job_id in list(BackgroundJob.objects.filter(condition).values_list("pk", flat=True)):
            taken = BackgroundJob.objects.filter(condition, pk=job_id).update(
                status=BackgroundJob.Status.QUEUED, heartbeat_at=now
            )
            if taken:
                logger.warning("job %s had no worker for %s; queueing it again", job_id, stale_after)
                run_background_job.enqueue(job_id)
                requeued.append(job_id)
    return requeued


def wait_for(job: BackgroundJob, timeout: float = 60) -> BackgroundJob:
    """Poll until the job is finished (used by commands that run a job in the foreground)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_finished:
            return job
        time.sleep(0.2)
    return job
