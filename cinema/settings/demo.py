"""What `docker compose up` runs on a developer's machine: production's hardening (hardened.py),
with the sandbox payment provider, so the whole stack can be tried without a provider account.

The secret key: DJANGO_SECRET_KEY when it is set. Otherwise, with DEMO_SECRET_KEY_FILE set (compose
points it into a named volume every app container mounts), the first process makes a random key
in that file and every process reads it from there, so `docker compose up` comes up with one
command and still never signs with a key anybody else knows. Compose cannot make a random value
itself, and a default written in docker-compose.yml would be known to everyone; requiring the
variable (`${DJANGO_SECRET_KEY:?}`) would break the one-command demo. Production settings do not
do this: there the key is an operator's decision and a missing one stops the process.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def demo_secret_key(path: Path) -> str:
    """The key kept in `path`; made there (random, mode 0600) by the first process to find none.

    Processes starting together agree: each writes a key of its own to a private temporary file
    and links it into place, which only the first one manages, then all read the file.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # A random name: containers have pids of their own, which may be the same.
        draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(64))
        try:
            with contextlib.suppress(FileExistsError):
                os.link(draft, path)
        finally:
            draft.unlink()
    return path.read_text().strip()


if not os.environ.get("DJANGO_SECRET_KEY", "").strip() and os.environ.get("DEMO_SECRET_KEY_FILE"):
    os.environ["DJANGO_SECRET_KEY"] = demo_secret_key(Path(os.environ["DEMO_SECRET_KEY_FILE"]))

from .hardened import *  # noqa: E402, F403
from .hardened import env  # noqa: E402

PAYMENT_PROVIDER = "fake"
# The demo is where `make seed` belongs (compose runs it with SEED_DEMO=1).
DEMO_DATA_ALLOWED = env.bool("DEMO_DATA_ALLOWED", default=True)
