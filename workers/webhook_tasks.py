"""Partner-webhook tasks: attempt-log retention. Being built (issue 10)."""

from __future__ import annotations
