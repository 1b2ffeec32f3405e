"""The request guard's answers in the OpenAPI document, read from the same policy table.

Every state-changing operation lists the refusals its policy can give before the route
runs (403 cross-site, 413 with its cap, 415 with the media types), so a client, and a
fuzzer checking statuses against the document, see them where they happen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from syndicator.web.problems import PROBLEM_CONTENT
from syndicator.web.request_policy import SAFE_METHODS, Policy, PolicyTable

__all__ = ["document_request_policy", "guard_responses"]


def guard_responses(policy: Policy) -> dict[str, dict[str, Any]]:
    responses = {
        "413": {
            "description": f"Body over {policy.max_bytes} bytes (refused before it is read)",
            **PROBLEM_CONTENT,
        }
    }
    if policy.media_types:
        responses["415"] = {
            "description": f"Media type other than {policy.described_types()}",
            **PROBLEM_CONTENT,
        }
    if policy.same_site_only:
        responses["403"] = {
            "description": "Sent by another site (Sec-Fetch-Site, else Origin)",
            **PROBLEM_CONTENT,
        }
    return responses


def document_request_policy(
    openapi: Callable[[], dict[str, Any]], table: PolicyTable
) -> Callable[[], dict[str, Any]]:
    """Wraps an app's ``openapi`` builder (which caches its document: this is idempotent)."""

    def documented() -> dict[str, Any]:
        schema = openapi()
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                if method.upper() in SAFE_METHODS or not isinstance(operation, dict):
                    continue
                answers = operation.setdefault("responses", {})
                for status, answer in guard_responses(table.policy_for(method, path)).items():
                    answers.setdefault(status, answer)
        return schema

    return documented
