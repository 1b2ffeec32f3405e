"""``POST /hooks/bounces/<provider>`` over HTTP: each provider's documented sample, signed
its own way with keys made here, is recorded; a wrong or missing signature is a 401 and
changes nothing. SES fetches its signing certificate from a real local HTTPS server, the
host rule pointed at it through settings (the only way to move it)."""

from __future__ import annotations

import copy
import json
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from syndicator.config import Settings
from syndicator.store.db import Database
from syndicator.store.models import MailFeedback, Subscriber
from syndicator.web.app import create_app
from tests.live_server import serve
from tests.unit.bounces.providers import samples
from tests.unit.bounces.providers.signing import (
    key_pem,
    self_signed,
    sendgrid_keys,
    sign_mailgun,
    sign_sendgrid,
    sign_sns,
)

TOPIC = samples.SNS_NOTIFICATION["TopicArn"]
POSTMARK_AUTH = ("postmark", "a-long-random-password")
MAILGUN_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
SENDGRID_PRIVATE, SENDGRID_PUBLIC = sendgrid_keys()
SIGNING = self_signed()


class CertServer:
    """A real HTTPS server on 127.0.0.1 serving the SNS signing certificate and taking
    subscription confirmations, as sns.<region>.amazonaws.com does."""

    def __init__(self, directory: Path) -> None:
        # The server's own certificate names its address, so the client's check passes.
        tls = self_signed("127.0.0.1", hosts=("127.0.0.1",))
        self.ca_file = directory / "ca.pem"
        self.ca_file.write_bytes(tls.pem)
        (directory / "key.pem").write_bytes(key_pem(tls.key))
        self.visits: list[str] = []
        visits = self.visits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                visits.append(self.path)
                body = (
                    SIGNING.pem if self.path.endswith(".pem") else b"<ConfirmSubscriptionResponse/>"
                )
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.ca_file, directory / "key.pem")
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.base = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def certs(tmp_path: Path) -> Iterator[CertServer]:
    server = CertServer(tmp_path)
    yield server
    server.close()


@pytest.fixture
def hook_settings(app_settings: Settings, certs: CertServer) -> Settings:
    return app_settings.with_(
        bounce_address="bounces@news.example.kr",
        ses_topic_arns=(TOPIC,),
        sns_cert_hosts=r"127\.0\.0\.1:\d+",
        sns_ca_file=certs.ca_file,
        postmark_webhook_auth=":".join(POSTMARK_AUTH),
        mailgun_signing_keys=(MAILGUN_KEY,),
        sendgrid_public_key=SENDGRID_PUBLIC,
    )


@pytest.fixture
def hooks(hook_settings: Settings) -> Iterator[httpx.Client]:
    with serve(create_app(hook_settings)) as url, httpx.Client(base_url=url, timeout=30) as http:
        yield http


@pytest.fixture
def store(hook_settings: Settings) -> Iterator[Database]:
    with Database(hook_settings.database_url) as database:
        yield database


def subscriber(store: Database, email: str) -> int:
    with store.session() as session:
        row = Subscriber(email=email, status="active", mode="immediate")
        session.add(row)
        session.flush()
        return row.id


def state(store: Database, subscriber_id: int) -> tuple[str, str | None, int]:
    with store.session() as session:
        row = session.get(Subscriber, subscriber_id)
        assert row is not None
        kept = session.scalar(
            select(func.count()).where(MailFeedback.subscriber_id == subscriber_id)
        )
        return row.status, row.suppressed_kind, kept or 0


def feedback_rows(store: Database) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(MailFeedback)) or 0


def assert_problem(response: httpx.Response, status: int, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    if field is not None:
        assert [e["field"] for e in response.json()["errors"]] == [field]


# --- Amazon SES through SNS -----------------------------------------------------------------


def post_sns(hooks: httpx.Client, message: dict[str, Any]) -> httpx.Response:
    # SNS posts its JSON as text/plain.
    return hooks.post(
        "/hooks/bounces/ses",
        content=json.dumps(message).encode(),
        headers={
            "content-type": "text/plain; charset=UTF-8",
            "x-amz-sns-message-type": message.get("Type", ""),
        },
    )


@pytest.mark.parametrize("version", ["1", "2"])
def test_ses_bounce_signed_by_sns_suppresses_and_is_kept_once(
    hooks: httpx.Client, store: Database, certs: CertServer, version: str
) -> None:
    jane = subscriber(store, "jane@example.com")
    signed = sign_sns(samples.SNS_NOTIFICATION, SIGNING.key, f"{certs.base}/cert.pem", version)
    response = post_sns(hooks, signed)
    assert response.status_code == 200, response.text
    [outcome] = response.json()["recorded"]
    assert (outcome["outcome"], outcome["action"]) == ("recorded", "suppressed")
    assert state(store, jane) == ("suppressed", "hard_bounce", 1)
    # SNS delivers at least once: the same notification again changes nothing.
    again = post_sns(hooks, signed)
    assert again.json()["recorded"][0]["outcome"] == "duplicate"
    assert state(store, jane) == ("suppressed", "hard_bounce", 1)
    assert certs.visits.count("/cert.pem") == 1  # the certificate is kept


def test_ses_complaint_unsubscribes(
    hooks: httpx.Client, store: Database, certs: CertServer
) -> None:
    richard = subscriber(store, "richard@example.com")
    message = {**samples.SNS_NOTIFICATION, "Message": json.dumps(samples.SES_COMPLAINT)}
    response = post_sns(hooks, sign_sns(message, SIGNING.key, f"{certs.base}/cert.pem"))
    assert response.json()["recorded"][0]["action"] == "unsubscribed"
    assert state(store, richard)[:2] == ("suppressed", "complaint")


@pytest.mark.parametrize(
    ("tamper", "field"),
    [
        (lambda m: m.update(Message=m["Message"].replace("Permanent", "Transient")), "Signature"),
        (lambda m: m.pop("Signature"), "Signature"),
        (lambda m: m.update(SigningCertURL="https://evil.example/cert.pem"), "SigningCertURL"),
        (
            lambda m: m.update(SigningCertURL=m["SigningCertURL"].replace("https", "http")),
            "SigningCertURL",
        ),
    ],
    ids=["changed", "unsigned", "foreign-cert-host", "plain-http-cert"],
)
def test_ses_wrongly_signed_is_401_and_changes_nothing(
    hooks: httpx.Client, store: Database, certs: CertServer, tamper: Any, field: str
) -> None:
    jane = subscriber(store, "jane@example.com")
    message = sign_sns(samples.SNS_NOTIFICATION, SIGNING.key, f"{certs.base}/cert.pem")
    tamper(message)
    assert_problem(post_sns(hooks, message), 401, field)
    assert state(store, jane) == ("active", None, 0)


def test_ses_signed_by_another_key_is_401(hooks: httpx.Client, certs: CertServer) -> None:
    message = sign_sns(samples.SNS_NOTIFICATION, self_signed().key, f"{certs.base}/cert.pem")
    assert_problem(post_sns(hooks, message), 401, "Signature")


def test_ses_from_another_topic_is_403(hooks: httpx.Client, certs: CertServer) -> None:
    message = {**samples.SNS_NOTIFICATION, "TopicArn": "arn:aws:sns:us-east-1:999999999999:theirs"}
    assert_problem(
        post_sns(hooks, sign_sns(message, SIGNING.key, f"{certs.base}/c.pem")), 403, "TopicArn"
    )


def test_a_verified_subscription_is_confirmed_at_its_url(
    hooks: httpx.Client, certs: CertServer
) -> None:
    confirm = f"{certs.base}/?Action=ConfirmSubscription&Token=2336412f37"
    message = {**samples.SNS_SUBSCRIPTION, "SubscribeURL": confirm}
    forged = sign_sns(message, self_signed().key, f"{certs.base}/cert.pem")
    assert_problem(post_sns(hooks, forged), 401, "Signature")
    assert "/?Action=ConfirmSubscription&Token=2336412f37" not in certs.visits
    response = post_sns(hooks, sign_sns(message, SIGNING.key, f"{certs.base}/cert.pem"))
    assert response.status_code == 200 and response.json()["note"] == "subscription confirmed"
    assert "/?Action=ConfirmSubscription&Token=2336412f37" in certs.visits


def test_a_confirmation_url_off_the_host_rule_is_not_visited(
    hooks: httpx.Client, certs: CertServer
) -> None:
    message = {**samples.SNS_SUBSCRIPTION, "SubscribeURL": "https://evil.example/?Action=Confirm"}
    response = post_sns(hooks, sign_sns(message, SIGNING.key, f"{certs.base}/cert.pem"))
    assert_problem(response, 401, "SubscribeURL")


def test_ses_verified_but_malformed_names_the_field(hooks: httpx.Client, certs: CertServer) -> None:
    broken = copy.deepcopy(samples.SES_BOUNCE)
    del broken["bounce"]["feedbackId"]
    message = {**samples.SNS_NOTIFICATION, "Message": json.dumps(broken)}
    response = post_sns(hooks, sign_sns(message, SIGNING.key, f"{certs.base}/cert.pem"))
    assert_problem(response, 422, "bounce.feedbackId")


# --- Postmark ------------------------------------------------------------------------------


def test_postmark_bounce_with_its_credentials_suppresses(
    hooks: httpx.Client, store: Database
) -> None:
    john = subscriber(store, "john@example.com")
    response = hooks.post(
        "/hooks/bounces/postmark", json=samples.POSTMARK_BOUNCE, auth=POSTMARK_AUTH
    )
    assert response.status_code == 200, response.text
    assert state(store, john) == ("suppressed", "hard_bounce", 1)


@pytest.mark.parametrize("auth", [None, ("postmark", "wrong"), ("other", POSTMARK_AUTH[1])])
def test_postmark_without_its_credentials_is_401(
    hooks: httpx.Client, store: Database, auth: tuple[str, str] | None
) -> None:
    john = subscriber(store, "john@example.com")
    response = hooks.post("/hooks/bounces/postmark", json=samples.POSTMARK_BOUNCE, auth=auth)
    assert_problem(response, 401, "authorization")
    assert response.headers["www-authenticate"].startswith("Basic")
    assert state(store, john) == ("active", None, 0)


def test_postmark_body_that_is_not_json_is_400(hooks: httpx.Client) -> None:
    response = hooks.post(
        "/hooks/bounces/postmark",
        content=b"{not json",
        headers={"content-type": "application/json"},
        auth=POSTMARK_AUTH,
    )
    assert_problem(response, 400, "(body)")


# --- Mailgun -------------------------------------------------------------------------------


def test_mailgun_failure_signed_now_suppresses_and_a_replay_is_401(
    hooks: httpx.Client, store: Database
) -> None:
    alice = subscriber(store, "alice@example.com")
    signed = sign_mailgun(samples.MAILGUN_PERMANENT_FAILURE, MAILGUN_KEY, int(time.time()))
    response = hooks.post("/hooks/bounces/mailgun", json=signed)
    assert response.status_code == 200, response.text
    assert state(store, alice) == ("suppressed", "hard_bounce", 1)
    assert_problem(hooks.post("/hooks/bounces/mailgun", json=signed), 401, "signature.token")


@pytest.mark.parametrize(
    ("key", "age", "field"),
    [
        ("another-key", 0, "signature.signature"),
        (MAILGUN_KEY, 3600, "signature.timestamp"),
    ],
)
def test_mailgun_wrong_key_or_stale_is_401(
    hooks: httpx.Client, store: Database, key: str, age: int, field: str
) -> None:
    alice = subscriber(store, "alice@example.com")
    signed = sign_mailgun(samples.MAILGUN_PERMANENT_FAILURE, key, int(time.time()) - age)
    assert_problem(hooks.post("/hooks/bounces/mailgun", json=signed), 401, field)
    assert state(store, alice) == ("active", None, 0)


# --- SendGrid ------------------------------------------------------------------------------


def post_sendgrid(
    hooks: httpx.Client, body: bytes, signature: str, timestamp: str
) -> httpx.Response:
    return hooks.post(
        "/hooks/bounces/sendgrid",
        content=body,
        headers={
            "content-type": "application/json",
            "X-Twilio-Email-Event-Webhook-Signature": signature,
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        },
    )


def test_sendgrid_batch_signed_with_its_key_is_recorded(
    hooks: httpx.Client, store: Database
) -> None:
    reader = subscriber(store, "example@test.com")
    body = json.dumps(samples.SENDGRID_EVENTS).encode() + b"\r\n"
    timestamp = str(int(time.time()))
    response = post_sendgrid(
        hooks, body, sign_sendgrid(SENDGRID_PRIVATE, timestamp, body), timestamp
    )
    assert response.status_code == 200, response.text
    assert [o["action"] for o in response.json()["recorded"]] == ["suppressed", "unsubscribed"]
    assert len(response.json()["ignored"]) == 3
    assert state(store, reader) == ("suppressed", "complaint", 2)


def test_sendgrid_wrong_signature_is_401(hooks: httpx.Client, store: Database) -> None:
    reader = subscriber(store, "example@test.com")
    body = json.dumps(samples.SENDGRID_EVENTS).encode()
    other, _ = sendgrid_keys()
    assert_problem(
        post_sendgrid(hooks, body, sign_sendgrid(other, "1", body), "1"),
        401,
        "x-twilio-email-event-webhook-signature",
    )
    assert state(store, reader) == ("active", None, 0)


# --- Every provider ------------------------------------------------------------------------


def test_an_unknown_provider_is_404(hooks: httpx.Client) -> None:
    assert_problem(hooks.post("/hooks/bounces/sparkpost", json={}), 404)


def test_an_unconfigured_provider_is_503_naming_its_setting(app_settings: Settings) -> None:
    with serve(create_app(app_settings)) as url:
        response = httpx.post(f"{url}/hooks/bounces/mailgun", json={}, timeout=30)
    assert_problem(response, 503)
    assert "SYNDICATOR_MAILGUN_SIGNING_KEY" in response.json()["detail"]


def test_the_database_down_is_503_so_the_provider_retries(
    hook_settings: Settings, tmp_path: Path
) -> None:
    dead = hook_settings.with_(database_url=f"sqlite:///{tmp_path}/missing/dir/x.db")
    with serve(create_app(dead)) as url:
        response = httpx.post(
            f"{url}/hooks/bounces/postmark",
            json=samples.POSTMARK_BOUNCE,
            auth=POSTMARK_AUTH,
            timeout=30,
        )
    assert_problem(response, 503)
    assert response.headers["retry-after"]


def test_calls_past_the_limit_are_429(hook_settings: Settings) -> None:
    limited = hook_settings.with_(bounce_hook_limits="2/minute")
    with serve(create_app(limited)) as url, httpx.Client(base_url=url, timeout=30) as http:
        answers = [http.post("/hooks/bounces/postmark", json={}).status_code for _ in range(3)]
    assert answers == [401, 401, 429]


def test_a_body_over_the_cap_is_413_unread(hook_settings: Settings) -> None:
    small = hook_settings.with_(max_body_bytes=1024)
    with serve(create_app(small)) as url:
        response = httpx.post(
            f"{url}/hooks/bounces/sendgrid",
            content=b"[" + b" " * 2048 + b"]",
            headers={"content-type": "application/json"},
            timeout=30,
        )
    assert_problem(response, 413)
    assert feedback_rows(Database(small.database_url)) == 0
