import threading

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection

from kring.core.jobs import requeue_stale_jobs


class Command(BaseCommand):
    help = (
        "Run a background worker for the configured task backend (database or Redis/RQ), and queue "
        "again the jobs of workers that died. Run one or more per machine; see docs/OPERATIONS.md."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--rescue-interval",
            type=float,
            default=30.0,
            help="Seconds between looks for jobs whose worker stopped reporting (default: 30).",
        )
        parser.add_argument(
            "--burst", action="store_true", help="Run the jobs that are waiting now, then stop."
        )

    def handle(self, *args, rescue_interval, burst, verbosity, **options):
        self.rescue()
        stop = threading.Event()
        if not burst:
            threading.Thread(
                target=self.rescue_loop, args=(stop, rescue_interval), daemon=True, name="kring-rescue"
            ).start()
        try:
            if settings.TASK_BACKEND == "rq":
                # django-tasks-rq needs its own Job class in the worker.
                call_command(
                    "rqworker", "default", job_class="django_tasks_rq.Job", burst=burst, verbosity=verbosity
                )
            else:
                # No autoreload: it would run this command (and its rescue loop) twice.
                call_command("db_worker", interval=0.5, batch=burst, reload=False, verbosity=verbosity)
        finally:
            stop.set()

    def rescue_loop(self, stop: threading.Event, interval: float) -> None:
        while not stop.wait(interval):
            self.rescue()

    def rescue(self) -> None:
        try:
            requeued = requeue_stale_jobs()
            if requeued:
                self.stderr.write(f"Queued again (their worker stopped): {', '.join(map(str, requeued))}")
        except Exception as exc:  # keep the worker alive; the next round tries again
            self.stderr.write(f"requeue_stale_jobs failed: {exc}")
        finally:
            # A fresh connection next round: this thread lives for days, the database may restart.
            connection.close()
