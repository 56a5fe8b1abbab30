"""A slow job, for tests that run a real worker process and kill it mid-job.

    python -m kring.core.tests.slow_job start STEPS PAUSE   # queue a job, print its id
    python -m kring.core.tests.slow_job kring_worker [...]  # run any manage.py command

Both register the "test.slow" handler first, so the worker process knows it.
"""

import os
import sys
import time

import django


def slow(job, progress):
    steps, pause = job.params["steps"], job.params["pause"]
    for step in range(steps):
        progress.set(step, steps, f"step {step + 1} of {steps}")
        time.sleep(pause)
    return {"steps": steps, "attempt": job.attempts}


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kring.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from kring.core.jobs import job_handler, start_job

    job_handler("test.slow")(slow)
    if argv[0] == "start":
        with transaction.atomic():
            job = start_job("test.slow", params={"steps": int(argv[1]), "pause": float(argv[2])})
        print(job.pk, flush=True)
    else:
        call_command(*argv)


if __name__ == "__main__":
    main(sys.argv[1:])
