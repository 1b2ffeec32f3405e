"""Subscribing over HTTP, with the confirmation mail received by a real SMTP server."""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itsdangerous import TimestampSigner
from sqlalchemy import select

from syndicator.config import Settings
from syndicator.store.db import Database
from syndicator.store.models import AuditEntry, Subscriber, SubscriberTopic
from syndicator.subscriptions import states
from syndicator.subscriptions.confirmation import RETRY_DELAYS, send_with_retries
from syndicator.subscriptions.preferences import Preferences
from syndicator.subscriptions.tokens import make_token, read_link
from syndicator.web.app import create_app
from tests.live_server import serve
from tests.mail_server import MailServer, Received, running_mail_server
from tests.services import free_port
from tests.system import run_cli, wait_for
from tests.topics import name_topics

ADDRESS = "resident@example.org"
LINK = re.compile(r"https://press\.example\.kr/\S+")


@dataclass
class Site:
    http: httpx.Client
    inbox: MailServer
    db: Database
    settings: Settings


@pytest.fixture
def site(app_settings: Settings) -> Iterator[Site]:
    with running_mail_server() as inbox:
        configured = app_settings.with_(smtp_url=inbox.url)
        with (
            serve(create_app(configured)) as url,
            httpx.Client(base_url=url, timeout=30) as http,
            Database(configured.database_url) as db,
        ):
            name_topics(db)
            yield Site(http, inbox, db, configured)


def _mails(smtp: MailServer, count: int) -> list[Received]:
    """At least ``count`` messages, waiting for the background task that sends them."""
    return wait_for(lambda: list(smtp.received) if len(smtp.received) >= count else None, 30)


def _text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def _links(message: EmailMessage) -> list[str]:
    return LINK.findall(_text(message))


def _path(url: str) -> str:
    return url.removeprefix("https://press.example.kr")


def _subscriber(db: Database, address: str = ADDRESS) -> Subscriber:
    with db.session() as session:
        found = session.scalars(select(Subscriber).where(Subscriber.email == address)).one()
        session.expunge(found)
        return found


def _topics(db: Database, subscriber_id: int) -> set[tuple[str, str]]:
    with db.session() as session:
        rows = session.execute(
            select(SubscriberTopic.kind, SubscriberTopic.name).where(
                SubscriberTopic.subscriber_id == subscriber_id
            )
        )
        return {(kind, name) for kind, name in rows}


def test_subscribe_confirm_by_mail_and_a_get_alone_never_confirms(site: Site) -> None:
    answer = site.http.post(
        "/subscriptions",
        json={"email": ADDRESS, "mode": "daily", "categories": ["경제"], "departments": []},
    )
    assert answer.status_code == 202, answer.text
    (mail,) = _mails(site.inbox, 1)
    assert mail.recipients == (ADDRESS,)
    message = mail.parsed()
    assert "구독" in str(message["Subject"])
    (confirm,) = [link for link in _links(message) if "/subscriptions/confirm/" in link]
    assert ADDRESS not in confirm

    page = site.http.get(_path(confirm))
    assert page.status_code == 200
    assert 'method="post"' in page.text and "구독 확인" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert _subscriber(site.db).status == "pending"

    done = site.http.post(_path(confirm))
    assert done.status_code == 200
    assert "구독이 확인되었습니다" in done.text
    subscriber = _subscriber(site.db)
    assert (subscriber.status, subscriber.mode, subscriber.consent) == (
        "active",
        "daily",
        "double_opt_in",
    )
    assert _topics(site.db, subscriber.id) == {("category", "경제")}
    # Pressing it twice is harmless.
    assert site.http.post(_path(confirm)).status_code == 200


def test_the_answer_never_reveals_whether_the_address_was_subscribed(site: Site) -> None:
    first = site.http.post("/subscriptions", json={"email": ADDRESS})
    (mail,) = _mails(site.inbox, 1)
    (confirm,) = [link for link in _links(mail.parsed()) if "/confirm/" in link]
    site.http.post(_path(confirm))

    again = site.http.post(
        "/subscriptions", json={"email": ADDRESS, "mode": "weekly", "categories": ["복지"]}
    )
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    # The mailbox learns it instead, with the preferences link, and nothing changed.
    note = _mails(site.inbox, 2)[1].parsed()
    assert "이미" in str(note["Subject"])
    assert any("/preferences/" in link for link in _links(note))
    subscriber = _subscriber(site.db)
    assert (subscriber.status, subscriber.mode) == ("active", "immediate")
    assert _topics(site.db, subscriber.id) == set()


def test_a_pending_address_is_sent_the_confirmation_again(site: Site) -> None:
    for _ in range(2):
        assert site.http.post("/subscriptions", json={"email": ADDRESS}).status_code == 202
    mails = _mails(site.inbox, 2)
    assert all(any("/confirm/" in link for link in _links(m.parsed())) for m in mails)
    assert _subscriber(site.db).status == "pending"


def test_a_form_post_subscribes_with_repeated_fields(site: Site) -> None:
    answer = site.http.post(
        "/subscriptions",
        content="email=resident%40example.org&mode=weekly&categories=%EA%B2%BD%EC%A0%9C"
        "&categories=%EB%B3%B5%EC%A7%80&departments=%EC%9C%84%EC%83%9D%EC%A0%95%EC%B1%85%EA%B3%BC",
        headers={"content-type": "application/x-www-form-urlencoded", "accept": "text/html"},
    )
    assert answer.status_code == 202
    assert answer.headers["content-type"].startswith("text/html")
    subscriber = _subscriber(site.db)
    assert subscriber.mode == "weekly"
    assert _topics(site.db, subscriber.id) == {
        ("category", "경제"),
        ("category", "복지"),
        ("department", "위생정책과"),
    }


_LOCAL = st.from_regex(r"[a-z0-9]{1,20}", fullmatch=True)
_BAD_ADDRESSES = st.one_of(
    st.text(alphabet=st.characters(blacklist_characters="@"), max_size=60),
    _LOCAL.map(lambda s: f"{s}@"),
    _LOCAL.map(lambda s: f"@{s}.org"),
    _LOCAL.map(lambda s: f"{s}@@example.org"),
    _LOCAL.map(lambda s: f"{s} x@example.org"),
    _LOCAL.map(lambda s: f"{s}@localhost{s}"),  # no dot in the domain
    _LOCAL.map(lambda s: f".{s}@example.org"),
    _LOCAL.map(lambda s: f"{s}@example..org"),
    _LOCAL.map(lambda s: f"{s}@-example.org"),
    _LOCAL.map(lambda s: f"{s * 70}@example.org"),  # local part over 64
    st.sampled_from(["", " ", "a@b@c.org", "<a@b.org>", "a@b.org\nBcc: x@y.org"]),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(address=_BAD_ADDRESSES)
def test_a_bad_address_is_a_422_naming_the_field(site: Site, address: str) -> None:
    answer = site.http.post("/subscriptions", json={"email": address})
    assert answer.status_code == 422, address
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert {e["field"] for e in answer.json()["errors"]} == {"email"}


def test_other_bad_fields_are_named(site: Site) -> None:
    answer = site.http.post(
        "/subscriptions", json={"email": ADDRESS, "mode": "hourly", "categories": "경제"}
    )
    assert answer.status_code == 422
    assert {e["field"] for e in answer.json()["errors"]} == {"mode"}
    answer = site.http.post("/subscriptions", json={"email": ADDRESS, "categories": "경제"})
    assert {e["field"] for e in answer.json()["errors"]} == {"categories"}
    assert site.http.post("/subscriptions", json=[ADDRESS]).status_code == 422
    assert (
        site.http.post(
            "/subscriptions", content=b"{", headers={"content-type": "application/json"}
        ).status_code
        == 400
    )
    assert len(site.inbox.received) == 0


_UNKNOWN_NAMES = st.lists(
    st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=30).filter(
        lambda name: name not in ("경제", "복지", "보건", "위생정책과", "복지정책과")
    ),
    min_size=1,
    max_size=3,
    unique=True,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(field=st.sampled_from(["categories", "departments"]), names=_UNKNOWN_NAMES)
def test_topics_no_release_has_named_are_a_422_naming_them(
    site: Site, field: str, names: list[str]
) -> None:
    known = {"categories": ["경제"], "departments": ["위생정책과"]}
    body = {"email": ADDRESS, **known, field: [*known[field], *names]}
    answer = site.http.post("/subscriptions", json=body)
    assert answer.status_code == 422, answer.text
    (error,) = answer.json()["errors"]
    assert error["field"] == field
    # Named as stored: NFC (a compatibility ideograph becomes its unified form).
    assert all(unicodedata.normalize("NFC", name) in error["reason"] for name in names)
    assert "경제" not in error["reason"] and "위생정책과" not in error["reason"]
    with site.db.session() as session:
        assert session.scalars(select(Subscriber)).first() is None
    assert len(site.inbox.received) == 0


def test_the_preferences_form_refuses_unknown_topics_too(site: Site) -> None:
    subscriber = _active(site)
    path = f"/preferences/{make_token(site.settings, 'preferences', subscriber.id)}"
    refused = site.http.post(path, data={"mode": "daily", "departments": ["없는과"]})
    assert refused.status_code == 422
    assert "없는과" in refused.text and "목록에 있는 부서만" in refused.text
    assert _subscriber(site.db).mode == "immediate"
    assert _topics(site.db, subscriber.id) == {("category", "경제")}


def test_repeated_requests_for_one_address_are_limited(site: Site) -> None:
    # Different clients would see the same limit: it is counted per address, in Redis.
    for _ in range(3):
        assert site.http.post("/subscriptions", json={"email": ADDRESS}).status_code == 202
    refused = site.http.post("/subscriptions", json={"email": ADDRESS.upper()})
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(refused.headers["retry-after"]) <= 3600
    # A later request's mail arrives after any the refused one could have caused.
    assert site.http.post("/subscriptions", json={"email": "other@example.org"}).status_code == 202
    mails = _mails(site.inbox, 4)
    assert [m.recipients for m in mails].count((ADDRESS,)) == 3


def test_every_spelling_of_one_mailbox_shares_its_limit(site: Site) -> None:
    # A distinct client per request would change nothing: the limit is on the mailbox.
    variants = ["Res.Ident+1@gmail.com", "resident+2@googlemail.com", "r.e.s.i.d.e.n.t@GMAIL.com"]
    for variant in variants:
        assert site.http.post("/subscriptions", json={"email": variant}).status_code == 202
    refused = site.http.post("/subscriptions", json={"email": "RESIDENT+4@gmail.com"})
    assert refused.status_code == 429
    assert "address" in refused.json()["detail"]


@pytest.fixture
def strict_domains(app_settings: Settings) -> Iterator[Site]:
    with running_mail_server() as inbox:
        configured = app_settings.with_(smtp_url=inbox.url, subscribe_domain_limits="2/hour")
        with (
            serve(create_app(configured)) as url,
            httpx.Client(base_url=url, timeout=30) as http,
            Database(configured.database_url) as db,
        ):
            yield Site(http, inbox, db, configured)


def test_one_domain_is_capped_whatever_the_addresses(strict_domains: Site) -> None:
    http = strict_domains.http
    assert http.post("/subscriptions", json={"email": "a@catch-all.example"}).status_code == 202
    assert http.post("/subscriptions", json={"email": "b@Catch-All.example"}).status_code == 202
    refused = http.post("/subscriptions", json={"email": "c@catch-all.example"})
    assert refused.status_code == 429 and "domain" in refused.json()["detail"]
    assert http.post("/subscriptions", json={"email": "c@example.org"}).status_code == 202


def _suppressed(site: Site) -> Subscriber:
    subscriber = _active(site)
    with site.db.session() as session:
        row = session.get(Subscriber, subscriber.id)
        assert row is not None
        row.status, row.suppressed_reason = "suppressed", "550 5.1.1 no such user"
    return subscriber


def test_a_suppressed_address_is_sent_nothing_until_an_operator_lifts_it(site: Site) -> None:
    subscriber = _suppressed(site)  # one confirmation mail so far
    other = site.http.post("/subscriptions", json={"email": "other@example.org"})
    asked = site.http.post("/subscriptions", json={"email": ADDRESS, "categories": ["복지"]})
    # The same answer as for anyone, so nobody learns the address bounced.
    assert (asked.status_code, asked.json()) == (other.status_code, other.json())
    # A later request's mail arrives after any the suppressed one could have caused.
    assert site.http.post("/subscriptions", json={"email": "third@example.org"}).status_code == 202
    mails = _mails(site.inbox, 3)
    assert [m.recipients for m in mails].count((ADDRESS,)) == 1
    assert _subscriber(site.db).status == "suppressed"

    admin = {"Authorization": f"Bearer {site.settings.admin_token}", "X-Operator": "lee"}
    path = f"/api/subscribers/{subscriber.id}/unsuppress"
    assert site.http.post(path, headers=admin).status_code == 204
    assert site.http.post(path, headers=admin).status_code == 409
    assert site.http.post("/api/subscribers/99999/unsuppress", headers=admin).status_code == 404
    with site.db.session() as session:
        audit = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert audit is not None
        assert (audit.action, audit.target) == ("unsuppress", f"subscriber:{subscriber.id}")
        assert audit.who.startswith("api:") and audit.who.endswith(":lee")
    assert _subscriber(site.db).status == "unsubscribed"
    assert site.http.post("/subscriptions", json={"email": ADDRESS}).status_code == 202
    again = _mails(site.inbox, 4)[3]
    assert again.recipients == (ADDRESS,)
    assert any("/confirm/" in link for link in _links(again.parsed()))


def test_one_client_asking_for_many_addresses_is_limited(site: Site) -> None:
    answers = [
        site.http.post("/subscriptions", json={"email": f"r{n}@example.org"}).status_code
        for n in range(6)
    ]
    assert answers == [202] * 5 + [429]


def test_tampered_and_expired_links_are_refused_in_korean(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    site.http.post("/subscriptions", json={"email": ADDRESS})
    (mail,) = _mails(site.inbox, 1)
    (confirm,) = [link for link in _links(mail.parsed()) if "/confirm/" in link]
    tampered = _path(confirm)[:-3] + ("AAA" if not confirm.endswith("AAA") else "BBB")
    for method in ("GET", "POST"):
        refused = site.http.request(method, tampered)
        assert refused.status_code == 400
        assert "잘못된 링크" in refused.text
    subscriber_id = _subscriber(site.db).id
    then = int(time.time()) - 73 * 3600
    with monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: then)
        expired = make_token(site.settings, "confirm", subscriber_id)
    for method in ("GET", "POST"):
        refused = site.http.request(method, f"/subscriptions/confirm/{expired}")
        assert refused.status_code == 410
        assert "만료" in refused.text
    assert _subscriber(site.db).status == "pending"
    # An unsubscribe token does not confirm anyone.
    wrong = make_token(site.settings, "unsubscribe", subscriber_id)
    assert site.http.post(f"/subscriptions/confirm/{wrong}").status_code == 400


def _active(site: Site) -> Subscriber:
    site.http.post("/subscriptions", json={"email": ADDRESS, "categories": ["경제"]})
    (mail,) = _mails(site.inbox, 1)
    (confirm,) = [link for link in _links(mail.parsed()) if "/confirm/" in link]
    site.http.post(_path(confirm))
    return _subscriber(site.db)


def test_one_click_unsubscribe_needs_nothing_but_the_link(site: Site) -> None:
    subscriber = _active(site)
    path = f"/unsubscribe/{make_token(site.settings, 'unsubscribe', subscriber.id)}"
    page = site.http.get(path)
    assert page.status_code == 200 and 'method="post"' in page.text
    assert _subscriber(site.db).status == "active"
    # What a mail client sends (RFC 8058): no cookie, no session, no CSRF token.
    left = httpx.post(
        str(site.http.base_url) + path,
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
        timeout=30,
    )
    assert left.status_code == 200
    assert "수신이 해지되었습니다" in left.text and "<form" not in left.text
    assert _subscriber(site.db).status == "unsubscribed"
    # Pressed again, or with any other body: still fine.
    assert site.http.post(path, content=b"whatever").status_code == 200
    assert site.http.post(path[:-2] + "xx").status_code == 400


def test_the_preferences_page_changes_topics_and_mode_or_leaves(site: Site) -> None:
    subscriber = _active(site)
    path = f"/preferences/{make_token(site.settings, 'preferences', subscriber.id)}"
    page = site.http.get(path)
    assert page.status_code == 200
    assert 'value="경제" checked' in page.text
    saved = site.http.post(
        path,
        data={"action": "save", "mode": "weekly", "departments": ["위생정책과"]},
    )
    assert saved.status_code == 200 and "저장했습니다" in saved.text
    assert _subscriber(site.db).mode == "weekly"
    assert _topics(site.db, subscriber.id) == {("department", "위생정책과")}
    bad = site.http.post(path, data={"mode": "hourly"})
    assert bad.status_code == 422 and "즉시, 매일, 매주 가운데 하나로" in bad.text  # Korean
    left = site.http.post(path, data={"action": "unsubscribe"})
    assert left.status_code == 200
    assert _subscriber(site.db).status == "unsubscribed"
    # Leaving revoked the link: it neither shows nor changes anything, and says so.
    for method in ("GET", "POST"):
        stale = site.http.request(
            method, path, data={"mode": "daily"} if method == "POST" else None
        )
        assert stale.status_code == 410 and "더 이상 쓸 수 없는 링크" in stale.text
    assert (_subscriber(site.db).status, _subscriber(site.db).mode) == ("unsubscribed", "weekly")


def _new_link(site: Site, address: str = ADDRESS) -> httpx.Response:
    return site.http.post("/preferences", data={"email": address})


def test_a_new_link_revokes_every_earlier_one(site: Site) -> None:
    subscriber = _active(site)  # one mail so far
    old = f"/preferences/{make_token(site.settings, 'preferences', subscriber.id)}"
    old_leave = f"/unsubscribe/{make_token(site.settings, 'unsubscribe', subscriber.id)}"
    assert site.http.get(old).status_code == 200
    form = site.http.get("/preferences")
    assert form.status_code == 200 and 'name="email"' in form.text
    asked = _new_link(site)
    nobody = _new_link(site, "nobody@example.org")
    # The same answer whether or not the address is subscribed.
    assert (asked.status_code, asked.text) == (nobody.status_code, nobody.text) == (202, asked.text)
    mail = _mails(site.inbox, 2)[1]
    assert mail.recipients == (ADDRESS,)
    (fresh,) = [link for link in _links(mail.parsed()) if "/preferences/" in link]
    assert site.http.get(_path(fresh)).status_code == 200
    for revoked in (old, old_leave):
        answer = site.http.get(revoked)
        assert answer.status_code == 410 and "/preferences" in answer.text
    assert site.http.post(old_leave).status_code == 410
    assert _subscriber(site.db).status == "active"
    # Nothing went to the unknown address: a later request's mail comes after it.
    site.http.post("/subscriptions", json={"email": "later@example.org"})
    assert [m.recipients for m in _mails(site.inbox, 3)] == [
        (ADDRESS,),
        (ADDRESS,),
        ("later@example.org",),
    ]


def test_coming_back_after_leaving_is_confirmed_by_mail(site: Site) -> None:
    subscriber = _active(site)
    leave = f"/unsubscribe/{make_token(site.settings, 'unsubscribe', subscriber.id)}"
    assert site.http.post(leave).status_code == 200
    assert _new_link(site).status_code == 202
    (fresh,) = [
        link for link in _links(_mails(site.inbox, 2)[1].parsed()) if "/preferences/" in link
    ]
    back = site.http.post(_path(fresh), data={"mode": "weekly", "categories": ["복지"]})
    assert back.status_code == 200 and "메일을 확인해 주세요" in back.text
    # Not on the spot: nothing changed but the status, until the mailbox confirms.
    assert (_subscriber(site.db).status, _subscriber(site.db).mode) == ("pending", "immediate")
    confirmation = _mails(site.inbox, 3)[2].parsed()
    (confirm,) = [link for link in _links(confirmation) if "/confirm/" in link]
    assert site.http.post(_path(confirm)).status_code == 200
    assert (_subscriber(site.db).status, _subscriber(site.db).mode) == ("active", "weekly")
    assert _topics(site.db, subscriber.id) == {("category", "복지")}


def test_each_confirmation_confirms_what_it_was_sent_for(site: Site) -> None:
    site.http.post("/subscriptions", json={"email": ADDRESS, "categories": ["경제"]})
    site.http.post(
        "/subscriptions", json={"email": ADDRESS, "mode": "daily", "departments": ["위생정책과"]}
    )
    mails = _mails(site.inbox, 2)
    # The second request did not overwrite the first.
    subscriber = _subscriber(site.db)
    assert (subscriber.status, subscriber.mode) == ("pending", "immediate")
    assert _topics(site.db, subscriber.id) == {("category", "경제")}
    confirms = [link for mail in mails for link in _links(mail.parsed()) if "/confirm/" in link]
    # The mails may arrive in either order: a link names its request, and ids grow.
    first, second = sorted(
        confirms, key=lambda link: read_link(site.settings, "confirm", link.rsplit("/", 1)[1])
    )
    assert first != second
    # Whichever mail the resident acts on decides: here the second request's.
    assert site.http.post(_path(second)).status_code == 200
    assert _subscriber(site.db).mode == "daily"
    assert _topics(site.db, subscriber.id) == {("department", "위생정책과")}
    assert site.http.post(_path(first)).status_code == 200  # already active: no change
    assert _topics(site.db, subscriber.id) == {("department", "위생정책과")}


def test_smtp_down_answers_202_and_gives_up_after_a_few_tries(
    app_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Accepted means the pending row is committed; the mail is retried briefly, then the
    resident may simply ask again."""
    down = app_settings.with_(smtp_url=f"smtp://127.0.0.1:{free_port()}")
    with Database(down.database_url) as db:
        with db.session() as session:
            result = states.request_subscription(session, ADDRESS, Preferences())
        slept: list[float] = []
        sent = send_with_retries(down, db, result.subscriber_id, result.mail, sleep=slept.append)
        assert _subscriber(db).status == "pending"
    assert not sent
    assert slept == [0.0, *RETRY_DELAYS]
    assert "subscription mail not sent" in caplog.text
    assert ADDRESS not in caplog.text and f"subscriber:{result.subscriber_id}" in caplog.text


def test_import_can_send_the_confirmations(app_settings: Settings, tmp_path: Path) -> None:
    file = tmp_path / "list.csv"
    file.write_text("a@example.org\nb@example.org,daily\n", encoding="utf-8")
    with running_mail_server() as inbox:
        result = run_cli(
            "subscribers",
            "import",
            str(file),
            "--send-confirmations",
            SYNDICATOR_DATA_DIR=str(app_settings.data_dir),
            SYNDICATOR_DATABASE_URL=app_settings.database_url,
            SYNDICATOR_TOKEN_KEYS=" ".join(app_settings.token_keys),
            SYNDICATOR_BASE_URL="https://press.example.kr",
            SYNDICATOR_SMTP_URL=inbox.url,
        )
        assert result.returncode == 0, result.stderr
        mails = _mails(inbox, 2)
    assert sorted(m.recipients[0] for m in mails) == ["a@example.org", "b@example.org"]
    assert all(any("/confirm/" in link for link in _links(m.parsed())) for m in mails)
    assert "sent 2 confirmation mails, 0 failed" in result.stdout


def test_without_a_token_key_the_api_says_what_to_set(app_settings: Settings) -> None:
    keyless = app_settings.with_(token_keys=())
    with serve(create_app(keyless)) as url, httpx.Client(base_url=url, timeout=30) as http:
        answer = http.post("/subscriptions", json={"email": ADDRESS})
        assert answer.status_code == 503
        assert "SYNDICATOR_TOKEN_KEYS" in answer.json()["detail"]
        assert http.post("/unsubscribe/anything").status_code == 503
