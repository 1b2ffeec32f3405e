"""What the API fuzz run needs: admin and CMS credentials, and a store worth reading."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import requests
from schemathesis import Case, CheckContext, Response
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from standardwebhooks.webhooks import Webhook

from syndicator.config import Settings
from syndicator.store.db import Database
from tests.newsletter_support import add_subscriber, publish

__all__ = ["CHECKS", "SignedCmsHooks", "seed"]


def no_server_error(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """schemathesis's not_a_server_error, except a 503 the operation documents: readiness
    says 503 while no worker runs, which is the truth in this test."""
    if response.status_code == 503 and "503" in case.operation.responses.status_codes:
        return None
    return not_a_server_error(ctx, response, case)


# No 5xx; a documented status, in a documented content type, matching its schema.
CHECKS = [
    no_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


class SignedCmsHooks(requests.auth.AuthBase):
    """Sends the admin token, and signs every ``POST /hooks/cms`` body as the CMS does.

    Signing the prepared request signs the exact bytes sent, whatever schemathesis
    generated, so the fuzzer reaches the event's validation instead of a 401."""

    def __init__(self, settings: Settings) -> None:
        assert settings.admin_token and settings.cms_secret
        self.token = settings.admin_token
        self.hook = Webhook(settings.cms_secret)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        if request.path_url.split("?")[0] == "/hooks/cms":
            body = request.body or b""
            raw = body.encode() if isinstance(body, str) else body
            msg_id = f"msg_{uuid.uuid4().hex}"
            now = datetime.now(UTC)
            request.headers["webhook-id"] = msg_id
            request.headers["webhook-timestamp"] = str(int(now.timestamp()))
            request.headers["webhook-signature"] = self.hook.sign(
                msg_id=msg_id, timestamp=now, data=raw.decode("utf-8", "replace")
            )
        return request


def seed(db: Database) -> None:
    """Releases, subscribers and deliveries with small ids, which the fuzzer tries first."""
    for release_id in (1, 2, 3):
        publish(db, release_id)
    add_subscriber(db, "resident@example.org")
    add_subscriber(db, "pending@example.org", status="pending")
