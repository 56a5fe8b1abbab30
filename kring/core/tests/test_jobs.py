"""Background jobs: run through the task backends, report progress, survive retries and dead workers."""

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import dj_database_url
import psycopg
import pytest
from django.core.management import call_command
from django.utils import timezone

from kring.core import jobs
from kring.core.jobs import JobError, execute_job, job_handler, requeue_stale_jobs, start_job
from kring.core.models import BackgroundJob

BASE_DIR = Path(__file__).resolve().parents[3]
CALLS: list[int] = []


@job_handler("test.count")
def count_to(job, progress):
    """Counts to params["to"]; waits until the heartbeat has stored the halfway point."""
    CALLS.append(job.pk)
    to = job.params["to"]
    progress.set(to // 2, to, "halfway")
    seen = wait_until(lambda: BackgroundJob.objects.get(pk=job.pk).progress_done == to // 2)
    progress.set(to, to, "done")
    return {"counted": to, "progress_seen_while_running": seen}


@job_handler("test.refuse")
def refuse(job, progress):
    raise JobError("Row 3: the postcode 12345 is not a Dutch or Belgian postcode.")


@job_handler("test.crash")
def crash(job, progress):
    return {}["missing"]


def wait_until(condition, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture(autouse=True)
def _fast_heartbeat(monkeypatch):
    monkeypatch.setattr(jobs, "HEARTBEAT_SECONDS", 0.05)
    CALLS.clear()


@pytest.fixture
def database_backend(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def run_db_worker_once():
    call_command("db_worker", batch=True, reload=False, startup_delay=False, verbosity=0)


def start(kind: str, params: dict, capture) -> BackgroundJob:
    with capture(execute=True):
        job = start_job(kind, params=params)
    job.refresh_from_db()
    return job


def test_job_runs_through_the_immediate_backend_with_progress(
    transactional_db, django_capture_on_commit_callbacks
):
    job = start("test.count", {"to": 10}, django_capture_on_commit_callbacks)

    assert job.status == BackgroundJob.Status.SUCCEEDED
    assert job.result == {"counted": 10, "progress_seen_while_running": True}
    assert (job.progress_done, job.progress_total, job.progress_label) == (10, 10, "done")
    assert job.percent == 100
    assert job.attempts == 1
    assert job.started_at <= job.finished_at


def test_job_waits_in_the_database_queue_until_a_worker_runs_it(transactional_db, database_backend):
    from django_tasks_db.models import DBTaskResult

    job = start_job("test.count", params={"to": 4})  # autocommit: queued at once

    job.refresh_from_db()
    assert job.status == BackgroundJob.Status.QUEUED
    assert [row.args_kwargs["args"] for row in DBTaskResult.objects.all()] == [[job.pk]]
    assert CALLS == []

    run_db_worker_once()

    job.refresh_from_db()
    assert job.status == BackgroundJob.Status.SUCCEEDED
    assert job.result == {"counted": 4, "progress_seen_while_running": True}
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"


def test_job_is_queued_only_when_the_transaction_commits(transactional_db, database_backend):
    from django.db import transaction
    from django_tasks_db.models import DBTaskResult

    with transaction.atomic():
        job = start_job("test.count", params={"to": 2})
        assert not DBTaskResult.objects.exists()
    assert [row.args_kwargs["args"] for row in DBTaskResult.objects.all()] == [[job.pk]]


def test_kring_worker_burst_runs_the_waiting_jobs(transactional_db, database_backend):
    first = start_job("test.count", params={"to": 2})
    second = start_job("test.count", params={"to": 6})

    call_command("kring_worker", burst=True, verbosity=0)

    assert sorted(CALLS) == sorted([first.pk, second.pk])
    assert set(BackgroundJob.objects.values_list("status", flat=True)) == {BackgroundJob.Status.SUCCEEDED}


def test_a_second_delivery_of_a_finished_job_does_nothing(
    transactional_db, django_capture_on_commit_callbacks
):
    job = start("test.count", {"to": 2}, django_capture_on_commit_callbacks)

    execute_job(job.pk)

    assert CALLS == [job.pk]
    job.refresh_from_db()
    assert job.attempts == 1


def test_a_second_delivery_of_a_running_job_does_nothing(db):
    job = BackgroundJob.objects.create(
        kind="test.count",
        params={"to": 2},
        status=BackgroundJob.Status.RUNNING,
        heartbeat_at=timezone.now(),
        attempts=1,
    )

    execute_job(job.pk)

    assert CALLS == []
    job.refresh_from_db()
    assert (job.status, job.attempts) == (BackgroundJob.Status.RUNNING, 1)


def test_a_job_error_is_stored_for_the_user_and_not_logged_as_a_crash(
    transactional_db, django_capture_on_commit_callbacks, caplog
):
    job = start("test.refuse", {}, django_capture_on_commit_callbacks)

    assert job.status == BackgroundJob.Status.FAILED
    assert job.error == "Row 3: the postcode 12345 is not a Dutch or Belgian postcode."
    assert job.finished_at is not None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.allow_error_logs
def test_an_unexpected_error_is_stored_as_a_friendly_message_and_logged(
    transactional_db, django_capture_on_commit_callbacks, caplog, settings
):
    settings.LANGUAGE_CODE = "en"
    job = start("test.crash", {}, django_capture_on_commit_callbacks)

    assert job.status == BackgroundJob.Status.FAILED
    assert job.error.startswith("Something went wrong on our side (KeyError).")
    assert "missing" not in job.error  # no internals for the user
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(logged) == 1
    assert logged[0].exc_info[0] is KeyError
    assert f"background job {job.pk} (test.crash) failed" in logged[0].getMessage()


@pytest.mark.allow_error_logs
def test_a_job_whose_code_is_gone_fails_instead_of_hanging(db):
    job = BackgroundJob.objects.create(kind="test.no-such-kind")

    execute_job(job.pk)

    job.refresh_from_db()
    assert job.status == BackgroundJob.Status.FAILED
    assert "LookupError" in job.error


def stale_running_job(kind="test.count", params=None, attempts=1) -> BackgroundJob:
    """What a killed worker leaves behind: running, with a heartbeat that stopped long ago."""
    long_ago = timezone.now() - timedelta(seconds=600)
    return BackgroundJob.objects.create(
        kind=kind,
        params=params or {"to": 4},
        status=BackgroundJob.Status.RUNNING,
        started_at=long_ago,
        heartbeat_at=long_ago,
        attempts=attempts,
        progress_done=2,
        progress_total=4,
    )


def test_requeue_gives_a_dead_workers_job_to_another_worker_and_it_completes(transactional_db, settings):
    settings.KRING_JOB_STALE_AFTER_SECONDS = 120
    job = stale_running_job()

    requeued = requeue_stale_jobs()  # the immediate backend runs it at once

    assert requeued == [job.pk]
    job.refresh_from_db()
    assert job.status == BackgroundJob.Status.SUCCEEDED
    assert job.attempts == 2
    assert job.result["counted"] == 4


def test_requeue_leaves_jobs_alone_whose_worker_still_reports(db, settings):
    settings.KRING_JOB_STALE_AFTER_SECONDS = 120
    BackgroundJob.objects.create(
        kind="test.count", params={"to": 2}, status=BackgroundJob.Status.RUNNING, heartbeat_at=timezone.now()
    )
    BackgroundJob.objects.create(kind="test.count", params={"to": 2})  # queued just now

    assert requeue_stale_jobs() == []
    assert CALLS == []


def test_requeue_rescues_a_queued_job_whose_queue_entry_was_lost(transactional_db, settings):
    settings.KRING_JOB_STALE_AFTER_SECONDS = 60
    job = BackgroundJob.objects.create(
        kind="test.count", params={"to": 2}, created_at=timezone.now() - timedelta(seconds=601)
    )

    assert requeue_stale_jobs() == [job.pk]
    job.refresh_from_db()
    assert job.status == BackgroundJob.Status.SUCCEEDED


def test_requeue_command_reports_what_it_did(transactional_db, capsys):
    stale_running_job()

    call_command("requeue_stale_jobs")

    assert "1 job(s) queued again." in capsys.readouterr().out


@pytest.mark.allow_error_logs
def test_a_job_that_keeps_killing_its_worker_is_given_up(transactional_db, settings):
    settings.LANGUAGE_CODE = "en"
    job = stale_running_job(attempts=jobs.MAX_ATTEMPTS)

    requeue_stale_jobs()

    job.refresh_from_db()
    assert job.status == BackgroundJob.Status.FAILED
    assert job.error.startswith(f"This task was started {jobs.MAX_ATTEMPTS} times")
    assert CALLS == []


def test_a_worker_given_up_for_lost_cannot_overwrite_the_attempt_that_replaced_it(
    transactional_db, settings, database_backend
):
    settings.KRING_JOB_STALE_AFTER_SECONDS = 120
    job = BackgroundJob.objects.create(kind="test.count", params={"to": 2})
    slow_worker_claim = jobs._claim(job.pk)
    BackgroundJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=600))
    requeue_stale_jobs()
    run_db_worker_once()  # the replacement finishes

    jobs._finish(slow_worker_claim, jobs.Progress(), BackgroundJob.Status.FAILED, result={}, error="too late")

    job.refresh_from_db()
    assert (job.status, job.attempts, job.error) == (BackgroundJob.Status.SUCCEEDED, 2, "")


# A real worker process, killed with SIGKILL in the middle of a job.


@pytest.fixture
def scratch_database_url(tmp_path):
    """A database of its own for worker processes (the test database is not shared with them)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{tmp_path / 'worker.sqlite3'}"
        return
    config = dj_database_url.parse(url)
    name = f"{config['NAME']}_killed_worker"
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def job_row(database_url: str, job_id: int) -> tuple:
    query = "SELECT status, attempts, progress_done, result FROM core_backgroundjob WHERE id = %s"
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            return conn.execute(query.replace("%s", "?"), (job_id,)).fetchone()
    with psycopg.connect(database_url) as conn:
        return conn.execute(query, (job_id,)).fetchone()


def test_a_killed_worker_loses_no_work(tmp_path, scratch_database_url):
    env = {key: value for key, value in os.environ.items() if not key.startswith("KRING_")}
    env.update(
        DATABASE_URL=scratch_database_url,
        KRING_VAR_DIR=str(tmp_path),
        KRING_TASK_BACKEND="database",
        KRING_JOB_STALE_AFTER_SECONDS="2",
        PYTHONUNBUFFERED="1",
    )
    env.pop("REDIS_URL", None)

    def run(*args, **kwargs):
        return subprocess.run(
            [sys.executable, *args],
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            **kwargs,
        )

    def worker(log_name):
        return subprocess.Popen(
            [sys.executable, "-m", "kring.core.tests.slow_job", "kring_worker", "--rescue-interval", "0.5"],
            cwd=BASE_DIR,
            env=env,
            stdout=open(tmp_path / log_name, "w"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    assert run("manage.py", "migrate", "-v0").returncode == 0
    started = run("-m", "kring.core.tests.slow_job", "start", "6", "0.3")
    assert started.returncode == 0, started.stderr
    job_id = int(started.stdout.strip())

    first = worker("first-worker.log")
    try:
        reached = wait_until(
            lambda: (
                (job_row(scratch_database_url, job_id) or ("",))[0] == "running"
                and job_row(scratch_database_url, job_id)[2] >= 2
            ),
            timeout=60,
        )
        assert reached, (tmp_path / "first-worker.log").read_text()
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    status, attempts, done, _ = job_row(scratch_database_url, job_id)
    assert (status, attempts) == ("running", 1)
    assert 2 <= done < 6

    second = worker("second-worker.log")
    try:
        finished = wait_until(lambda: job_row(scratch_database_url, job_id)[0] == "succeeded", timeout=60)
        assert finished, (tmp_path / "second-worker.log").read_text()
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(timeout=30)
    status, attempts, done, result = job_row(scratch_database_url, job_id)
    assert (status, attempts, done) == ("succeeded", 2, 6)
    assert "Queued again" in (tmp_path / "second-worker.log").read_text()
