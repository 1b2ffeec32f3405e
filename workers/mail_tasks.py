"""Newsletter tasks: digests on schedule. Being built (issue 9)."""

from __future__ import annotations
