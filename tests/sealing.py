"""The encryption key every test process and the processes it starts share.

Made fresh per test run, never committed. conftest.py puts it in the environment, so a
subprocess (`syndicator web`, a worker) started with the test's environment opens what
the test sealed, as processes sharing SYNDICATOR_ENCRYPTION_KEYS do in production.
"""

from __future__ import annotations

import os

from syndicator.store.sealed import Keyring, Sealed, generate_key, keyring

__all__ = ["ENCRYPTION_KEY", "ring", "seal"]

ENCRYPTION_KEY = os.environ.get("SYNDICATOR_ENCRYPTION_KEYS", "").split(" ")[0] or generate_key()


def ring() -> Keyring:
    return keyring((ENCRYPTION_KEY,))


def seal(plaintext: str) -> Sealed:
    return ring().seal(plaintext)
