import threading

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from kring.core.jobs import requeue_stale_jobs


class Command(BaseCommand):
    help = "Run a background worker for the configured task backend and rescue jobs of workers that died."

    def add_arguments(self, parser):
        parser.add_argument("--rescue-interval", type=float, default=30.0)

    def handle(self, *args, rescue_interval, **options):
        stop = threading.Event()

        def rescue_loop():
            while not stop.wait(rescue_interval):
                try:
                    requeue_stale_jobs()
                except Exception as exc:  # keep the worker alive; the next round tries again
                    self.stderr.write(f"requeue_stale_jobs failed: {exc}")

        requeue_stale_jobs()
        threading.Thread(target=rescue_loop, daemon=True, name="kring-rescue").start()
        try:
            if settings.TASK_BACKEND == "rq":
                call_command("rqworker", "default", with_scheduler=False)
            else:
                call_command("db_worker", interval=0.5)
        finally:
            stop.set()
