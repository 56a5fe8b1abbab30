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
  therefore be safe to run again (all-or-nothing, or resumable).
"""

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tasks import task

from kring.core.models import BackgroundJob

logger = logging.getLogger(__name__)

HANDLERS: dict[str, Callable] = {}
HEARTBEAT_SECONDS = 1.0


class JobError(Exception):
    """A failure the user can act on; its message is shown on the job's page."""


def job_handler(kind: str):
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


def start_job(kind: str, *, params: dict, user=None, input_file: bytes | None = None, filename: str = "") -> BackgroundJob:
    if kind not in HANDLERS:
        _load_handlers()
    if kind not in HANDLERS:
        raise ValueError(f"Unknown job kind {kind!r}")
    job = BackgroundJob.objects.create(
        kind=kind, params=params, created_by=user if getattr(user, "pk", None) else None,
        input_file=input_file, input_filename=filename,
    )
    transaction.on_commit(lambda: run_background_job.enqueue(job.pk))
    return job


def _load_handlers() -> None:
    # Handlers live in each app's jobs module; importing it registers them.
    from django.apps import apps
    from django.utils.module_loading import module_has_submodule
    from importlib import import_module

    for config in apps.get_app_configs():
        if config.name.startswith("kring.") and module_has_submodule(config.module, "jobs"):
            import_module(f"{config.name}.jobs")


def _claim(job_id: int) -> BackgroundJob | None:
    stale_before = timezone.now() - timedelta(seconds=settings.KRING_JOB_STALE_AFTER_SECONDS)
    with transaction.atomic():
        job = BackgroundJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.is_finished:
            return None
        if job.status == BackgroundJob.Status.RUNNING and job.heartbeat_at and job.heartbeat_at > stale_before:
            return None  # another worker is on it
        now = timezone.now()
        job.status = BackgroundJob.Status.RUNNING
        job.started_at = now
        job.heartbeat_at = now
        job.attempts += 1
        job.error = ""
        job.save(update_fields=["status", "started_at", "heartbeat_at", "attempts", "error"])
    return job


class _Heartbeat(threading.Thread):
    def __init__(self, job_id: int, progress: Progress):
        super().__init__(daemon=True, name=f"job-{job_id}-heartbeat")
        self.job_id = job_id
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
            BackgroundJob.objects.filter(pk=self.job_id, status=BackgroundJob.Status.RUNNING).update(
                heartbeat_at=timezone.now(), progress_done=done, progress_total=total, progress_label=label[:200]
            )
        except Exception:  # a busy SQLite file: the next beat tries again
            logger.debug("heartbeat for job %s skipped", self.job_id, exc_info=True)


def execute_job(job_id: int) -> None:
    """Run one job in this process (what the task does; also used by tests and commands)."""
    _load_handlers()
    job = _claim(job_id)
    if job is None:
        return
    progress = Progress()
    heartbeat = _Heartbeat(job.pk, progress)
    heartbeat.start()
    try:
        result = HANDLERS[job.kind](job, progress)
    except JobError as exc:
        _finish(job, heartbeat, progress, BackgroundJob.Status.FAILED, error=str(exc))
    except Exception as exc:
        logger.exception("background job %s (%s) failed", job.pk, job.kind)
        _finish(job, heartbeat, progress, BackgroundJob.Status.FAILED,
                error=_("Something went wrong on our side (%(error)s). Nothing was changed; please try again "
                        "or contact the administrator.") % {"error": type(exc).__name__})
    else:
        _finish(job, heartbeat, progress, BackgroundJob.Status.SUCCEEDED, result=result or {})


def _finish(job, heartbeat, progress, status, *, result=None, error=""):
    heartbeat.stopped.set()
    heartbeat.join()
    done, total, label = progress.read()
    BackgroundJob.objects.filter(pk=job.pk).update(
        status=status, finished_at=timezone.now(), heartbeat_at=timezone.now(), result=result or {},
        error=error, progress_done=done if status != BackgroundJob.Status.SUCCEEDED else max(done, total),
        progress_total=total, progress_label=label[:200],
    )


@task()
def run_background_job(job_id: int) -> None:
    close_old_connections()
    execute_job(job_id)


def requeue_stale_jobs() -> list[int]:
    """Put jobs whose worker died (no heartbeat) or whose queue entry was lost back in the queue."""
    stale_before = timezone.now() - timedelta(seconds=settings.KRING_JOB_STALE_AFTER_SECONDS)
    stale = list(
        BackgroundJob.objects.filter(status=BackgroundJob.Status.RUNNING, heartbeat_at__lt=stale_before)
        .values_list("pk", flat=True)
    )
    # A queued job nobody picked up for ten times as long lost its queue entry (e.g. Redis flushed).
    forgotten_before = timezone.now() - timedelta(seconds=10 * settings.KRING_JOB_STALE_AFTER_SECONDS)
    forgotten = list(
        BackgroundJob.objects.filter(status=BackgroundJob.Status.QUEUED, created_at__lt=forgotten_before)
        .values_list("pk", flat=True)
    )
    for job_id in stale + forgotten:
        logger.warning("job %s had no worker for %ss; queueing it again", job_id,
                       settings.KRING_JOB_STALE_AFTER_SECONDS)
        run_background_job.enqueue(job_id)
    return stale + forgotten


def wait_for(job: BackgroundJob, timeout: float = 60) -> BackgroundJob:
    """Poll until the job is finished (used by commands that run a job in the foreground)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_finished:
            return job
        time.sleep(0.2)
    return job
