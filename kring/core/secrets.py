"""Secrets for the embedded demo: generated once into the git-ignored var/ folder.

Production sets KRING_SECRET_KEY and KRING_ENCRYPTION_KEYS in the environment instead, so
that every app server and worker shares the same keys (docs/OPERATIONS.md).
"""

import base64
import os
import secrets
from pathlib import Path


def load_or_create_secret(path: Path, kind: str) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fernet":
        value = base64.urlsafe_b64encode(os.urandom(32)).decode()
    else:
        value = secrets.token_urlsafe(50)
    # O_EXCL: when two processes start at once, the first one's key wins.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value
