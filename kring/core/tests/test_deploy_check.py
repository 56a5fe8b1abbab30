"""Production settings pass Django's deployment checklist (`manage.py check --deploy`).

Two warnings are accepted on purpose, and documented in docs/OPERATIONS.md:
- security.W005 (HSTS for subdomains): an association's domain often has other sites on
  subdomains that Kring does not control; the operator opts in with KRING_HSTS_INCLUDE_SUBDOMAINS=1.
- security.W021 (HSTS preload): submitting a domain to the browsers' preload list is a lasting
  decision for the domain owner, not a default.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parents[3]
ACCEPTED = {"security.W005", "security.W021"}


def production_env(tmp_path, **overrides) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("KRING_", "DJANGO_"))}
    env.update(
        KRING_DEBUG="0",
        KRING_SECRET_KEY="x7#Qm2!vR9pL$w4Zt8&Yk3^Nb6*Hc1@Jf5%Gd0(Ls2)Xe9-Ua4+Wi7=Oo3",
        KRING_ENCRYPTION_KEYS=f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}",
        KRING_ALLOWED_HOSTS="leden.example.nl",
        KRING_CSRF_TRUSTED_ORIGINS="https://leden.example.nl",
        KRING_VAR_DIR=str(tmp_path),
        KRING_TASK_BACKEND="rq",
        REDIS_URL="redis://127.0.0.1:6379/0",
        DATABASE_URL=f"sqlite:///{tmp_path / 'kring.sqlite3'}",
    )
    env.update(overrides)
    return env


def check_deploy(env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def reported_ids(result) -> set[str]:
    return set(re.findall(r"\((\w+\.[WE]\d+)\)", result.stdout + result.stderr))


def test_production_settings_pass_the_deployment_checklist(tmp_path):
    result = check_deploy(production_env(tmp_path))

    assert result.returncode == 0, result.stderr
    assert reported_ids(result) == ACCEPTED, result.stdout + result.stderr


def test_hsts_for_subdomains_can_be_switched_on(tmp_path):
    result = check_deploy(production_env(tmp_path, KRING_HSTS_INCLUDE_SUBDOMAINS="1"))

    assert reported_ids(result) == {"security.W021"}, result.stdout + result.stderr


def test_production_refuses_to_start_without_shared_keys(tmp_path):
    env = production_env(tmp_path)
    del env["KRING_ENCRYPTION_KEYS"]

    result = check_deploy(env)

    assert result.returncode != 0
    assert "KRING_ENCRYPTION_KEYS" in result.stderr
    assert not (tmp_path / "encryption_key.txt").exists()


def test_health_check_answers_ok_when_the_database_answers(client, db):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.content == b"ok"
