"""Background jobs through the Redis/RQ backend that production uses (KRING_TASK_BACKEND=rq).

Needs the Redis server at REDIS_URL: skipped without it, failed when KRING_REQUIRE_REDIS=1 (CI)
and Redis does not answer. The RQ SimpleWorker runs the job in this process, against the test
database, so the tests use transactional_db: the worker must see committed rows.
"""

import os
import time
from datetime import timedelta

import django_rq
import pytest
import redis
from django.utils import timezone

from kring.core import jobs
from kring.core.jobs import job_handler, requeue_stale_jobs, start_job
from kring.core.models import BackgroundJob

pytestmark = pytest.mark.redis


@job_handler("test.redis-count")
def count_to(job, progress):
    to = job.params["to"]
    progress.set(to // 2, to, "halfway")
    deadline = time.monotonic() + 10
    seen = False
    while not seen and time.monotonic() < deadline:
        seen = BackgroundJob.objects.get(pk=job.pk).progress_done == to // 2
        time.sleep(0.02)
    progress.set(to, to, "done")
    return {"counted": to, "progress_seen_while_running": seen}


@pytest.fixture
def rq_backend(settings, monkeypatch):
    url = os.environ.get("REDIS_URL", "")
    required = os.environ.get("KRING_REQUIRE_REDIS") == "1"
    if not url:
        if required:
            pytest.fail("KRING_REQUIRE_REDIS=1 but REDIS_URL is not set.")
        pytest.skip("REDIS_URL is not set: no Redis to test against.")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.exceptions.RedisError as exc:
        if required:
            pytest.fail(f"KRING_REQUIRE_REDIS=1 but Redis at {url} does not answer: {exc}")
        pytest.skip(f"Redis at {url} does not answer.")
    settings.TASK_BACKEND = "rq"
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    settings.RQ_QUEUES = {"default": {"URL": url, "DEFAULT_TIMEOUT": 600}}
    monkeypatch.setattr(jobs, "HEARTBEAT_SECONDS", 0.05)
    queue = django_rq.get_queue("default")
    queue.empty()
    for registry in (queue.finished_job_registry, queue.failed_job_registry):
        for job_id in registry.get_job_ids():
            registry.remove(job_id, delete_job=True)
    yield queue
    queue.empty()


def run_rq_worker_burst():
    worker = django_rq.get_worker("default", job_class="django_tasks_rq.Job", worker_class="rq.SimpleWorker")
    worker.work(burst=True)


def test_job_runs_through_redis_with_progress_and_result(transactional_db, rq_backend):
    job = start_job("test.redis-count", params={"to": 10})  # autocommit: queued at once

    assert rq_backend.count == 1
    job.refresh_from_db()
    assert job.status == BackgroundJob.Status.QUEUED

    run_rq_worker_burst()

    job.refresh_from_db()
    assert job.status == BackgroundJob.Status.SUCCEEDED
    assert job.result == {"counted": 10, "progress_seen_while_running": True}
    assert (job.progress_done, job.progress_total, job.percent) == (10, 10, 100)
    assert rq_backend.count == 0
    assert rq_backend.finished_job_registry.count == 1
    assert rq_backend.failed_job_registry.count == 0


def test_a_dead_workers_job_is_queued_again_in_redis_and_completes(transactional_db, rq_backend, settings):
    settings.KRING_JOB_STALE_AFTER_SECONDS = 120
    long_ago = timezone.now() - timedelta(seconds=600)
    job = BackgroundJob.objects.create(
        kind="test.redis-count",
        params={"to": 4},
        status=BackgroundJob.Status.RUNNING,
        heartbeat_at=long_ago,
        started_at=long_ago,
        attempts=1,
    )

    assert requeue_stale_jobs() == [job.pk]
    assert rq_backend.count == 1
    run_rq_worker_burst()

    job.refresh_from_db()
    assert (job.status, job.attempts) == (BackgroundJob.Status.SUCCEEDED, 2)
    assert job.result["counted"] == 4
