from django.core.management.base import BaseCommand

from kring.core.jobs import requeue_stale_jobs


class Command(BaseCommand):
    help = "Queue again the background jobs whose worker stopped reporting (safe to run any time)."

    def handle(self, *args, **options):
        requeued = requeue_stale_jobs()
        self.stdout.write(f"{len(requeued)} job(s) queued again.")
