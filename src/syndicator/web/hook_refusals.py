"""Why ``POST /hooks/cms`` refuses an event: one type per reason, each a problem document.

Each refusal fixes its status, title and the field it names, so the route raises the
reason and the app's one problem handler (web/problems.py) answers. Nothing is stored or
queued when one is raised.
"""

from __future__ import annotations

from typing import ClassVar

from syndicator.store.outage import RETRY_AFTER_SECONDS
from syndicator.web.problems import FieldError, Problem

__all__ = [
    "BadSignature",
    "BadWebhookId",
    "BodyNotUtf8",
    "BodyTooLarge",
    "DatabaseUnavailable",
    "HookRefused",
    "MalformedJson",
    "NotConfigured",
    "NotJson",
    "SchemaViolation",
    "ValueOutOfRange",
]


class HookRefused(Problem):
    # The status and title every refusal of this kind answers with.
    answer: ClassVar[tuple[int, str]]
    # The field a refusal names in ``errors``, with the reason; None: no errors list.
    field: ClassVar[str | None] = None
    retry_after: ClassVar[str | None] = None

    def __init__(self, detail: str, reason: str | None = None) -> None:
        errors = [{"field": self.field, "reason": reason or detail}] if self.field else None
        headers = {"Retry-After": self.retry_after} if self.retry_after else None
        super().__init__(*self.answer, detail, errors, headers)


class BodyTooLarge(HookRefused):
    answer = (413, "Payload too large")

    def __init__(self, limit: int) -> None:
        super().__init__(f"the body exceeds {limit} bytes")


class NotJson(HookRefused):
    answer, field = (415, "Unsupported media type"), "content-type"

    def __init__(self) -> None:
        super().__init__("send the event as application/json", "must be application/json")


class NotConfigured(HookRefused):
    answer = (503, "Not configured")

    def __init__(self) -> None:
        super().__init__("SYNDICATOR_CMS_SECRET is not set")


class BadSignature(HookRefused):
    answer, field = (401, "Invalid signature"), "webhook-signature"


class BodyNotUtf8(HookRefused):
    answer = (400, "Malformed body")

    def __init__(self) -> None:
        super().__init__("the body is not UTF-8")


class BadWebhookId(HookRefused):
    answer, field = (400, "Invalid header"), "webhook-id"


class MalformedJson(HookRefused):
    answer, field = (400, "Malformed JSON"), "(body)"


class SchemaViolation(HookRefused):
    answer = (422, "Schema violation")

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(f"{len(errors)} field(s) are invalid")
        self.errors = errors


class DatabaseUnavailable(HookRefused):
    # Not accepted, so the CMS must send it again; say when.
    answer, retry_after = (503, "Database unavailable"), str(RETRY_AFTER_SECONDS)

    def __init__(self) -> None:
        super().__init__("the event was not stored; retry shortly")


class ValueOutOfRange(HookRefused):
    # The schema's bounds should make this unreachable; if one is missed, the input is
    # still at fault, and a 5xx would make the sender retry it forever.
    answer, field = (422, "Value out of range"), "(body)"
