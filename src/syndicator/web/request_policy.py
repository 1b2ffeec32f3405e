"""What every route may be sent: how big a body, of which media type, and from which site.

One declarative table for the whole app, enforced by :mod:`syndicator.web.request_guard`
before routing, authentication or parsing. A rule covers a path and everything below it,
for the state-changing methods. GET, HEAD and OPTIONS read no body anywhere (a small one
is let through and ignored). A state-changing request that no rule names may have no body
at all: a new route accepts nothing until it is given a rule
(``tests/unit/web/test_request_policy.py`` walks every route).

- **Forms** (the residents' site, the console, the partners' portal) are refused when
  the browser says another site sent them (``Sec-Fetch-Site``, else ``Origin``): a
  third-party page can post a form anywhere, with the visitor's cookies.
- **JSON-only** routes refuse every other media type. A browser cannot send JSON to another
  site without a CORS preflight, which this app never grants, so the media type is what
  keeps other sites out of the admin API and the CMS hook.
- **Mail providers' bounce hooks** take JSON from anywhere, and the SES one plain text as
  well, since SNS posts its JSON as ``text/plain``: each provider's signature is their
  authority, checked before the body is believed (web/bounce_hooks.py).
- **One-click unsubscribe** (RFC 8058) takes any body from anywhere: mail providers post it
  from their servers, and the signed URL is its whole authority.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from syndicator.config import Settings

__all__ = [
    "ADMIN_JSON_BYTES",
    "FORM_BYTES",
    "NO_BODY",
    "SAFE",
    "SAFE_METHODS",
    "Policy",
    "PolicyTable",
    "Rule",
    "media_type",
    "policy_table",
]

FORM_BYTES = 64 * 1024
ADMIN_JSON_BYTES = 256 * 1024
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

_JSON = ("application/json", "application/*+json")
_URLENCODED = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"
_TEXT = "text/plain"


def media_type(content_type: str) -> str:
    """``Application/JSON; charset=utf-8`` -> ``application/json``."""
    return content_type.split(";", 1)[0].strip().lower()


@dataclass(frozen=True)
class Policy:
    """``media_types`` accepted (``*`` wildcards a subtype; None: any, even none), the
    largest body in bytes, and whether a request another site sent is refused."""

    name: str
    max_bytes: int
    media_types: tuple[str, ...] | None
    same_site_only: bool

    def accepts(self, media: str | None) -> bool:
        if self.media_types is None:
            return True
        if media is None:
            return False
        kind, _, subtype = media.partition("/")
        for accepted in self.media_types:
            want_kind, _, want_subtype = accepted.partition("/")
            if want_kind != kind:
                continue
            if want_subtype == subtype or (
                want_subtype.startswith("*") and subtype.endswith(want_subtype[1:])
            ):
                return True
        return False

    def described_types(self) -> str:
        return " or ".join(self.media_types or ("anything",))


# A state-changing request no rule names: a new route takes nothing until it has a rule.
NO_BODY = Policy("no body", 0, (), same_site_only=False)
# GET and the like read no body; a small one is tolerated (and ignored), a big one refused.
SAFE = Policy("safe method", 64 * 1024, None, same_site_only=False)


@dataclass(frozen=True)
class Rule:
    """``path`` and every path below it (``/api`` covers ``/api/partners/7``)."""

    path: str
    policy: Policy

    def covers(self, path: str) -> bool:
        base = self.path.rstrip("/")
        return path == base or path.startswith(base + "/")


@dataclass(frozen=True)
class PolicyTable:
    rules: tuple[Rule, ...]

    def rule_for(self, method: str, path: str) -> Rule | None:
        if method.upper() in SAFE_METHODS:
            return None
        return next((rule for rule in self.rules if rule.covers(path)), None)

    def policy_for(self, method: str, path: str) -> Policy:
        if method.upper() in SAFE_METHODS:
            return SAFE
        rule = self.rule_for(method, path)
        return NO_BODY if rule is None else rule.policy


def policy_table(settings: Settings) -> PolicyTable:
    """The app's rules, most specific first."""
    hook = Policy("CMS hook", settings.max_body_bytes, _JSON, same_site_only=False)
    admin = Policy("admin JSON", ADMIN_JSON_BYTES, _JSON, same_site_only=False)
    console = Policy("console form", FORM_BYTES, (_URLENCODED, _MULTIPART), same_site_only=True)
    site_form = Policy("site form", FORM_BYTES, (_URLENCODED,), same_site_only=True)
    # The subscription API takes JSON from scripts and forms from pages.
    public = Policy("subscription form", FORM_BYTES, (_URLENCODED, *_JSON), same_site_only=True)
    bounces = Policy("bounce hook", settings.max_body_bytes, _JSON, same_site_only=False)
    sns = Policy("SNS bounce hook", settings.max_body_bytes, (*_JSON, _TEXT), same_site_only=False)
    one_click = Policy("one-click unsubscribe", FORM_BYTES, None, same_site_only=False)
    rules: Iterable[Rule] = (
        Rule("/hooks/cms", hook),
        Rule("/hooks/bounces/ses", sns),
        Rule("/hooks/bounces", bounces),
        Rule("/api", admin),
        Rule("/ops", console),
        Rule("/portal", console),
        Rule("/subscribe", site_form),
        Rule("/subscriptions", public),
        Rule("/preferences", public),
        Rule("/unsubscribe", one_click),
    )
    return PolicyTable(tuple(rules))
