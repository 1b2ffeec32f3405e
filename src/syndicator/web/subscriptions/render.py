"""The subscription pages, pure renders: the form, "check your mail", the pages a mailed
link opens (a message, maybe with a button) and the preferences form."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from syndicator.config import Settings
from syndicator.subscriptions.preferences import Preferences
from syndicator.web.csrf import FIELD_NAME
from syndicator.web.html.templates import render

__all__ = [
    "FIELD_MESSAGES",
    "MODE_CHOICES",
    "MODE_LABELS",
    "Button",
    "Link",
    "SubscribeForm",
    "render_message",
    "render_preferences",
    "render_sent",
    "render_subscribe",
]

# What a resident reads next to a field that is not right (the preferences page too).
FIELD_MESSAGES = {
    "email_missing": "이메일 주소를 입력해 주세요.",
    "email_invalid": "이메일 주소 형식이 올바르지 않습니다. 예: hong@example.com",
    "mode": "받는 방식을 즉시, 매일, 매주 가운데 하나로 골라 주세요.",
    "departments": "목록에 있는 부서만 고를 수 있습니다.",
    "categories": "목록에 있는 분야만 고를 수 있습니다.",
}

# The form: short labels, as the issue names them, with what each means.
MODE_CHOICES = (
    ("immediate", "즉시", "보도자료가 나올 때마다 한 통씩"),
    ("daily", "매일", "하루에 한 번 모아서"),
    ("weekly", "매주", "일주일에 한 번(월요일) 모아서"),
)
# The preferences page: one phrase each, the subscriber knows the choices already.
MODE_LABELS = (
    ("immediate", "보도자료가 나올 때마다"),
    ("daily", "하루에 한 번 모아서"),
    ("weekly", "일주일에 한 번(월요일) 모아서"),
)
_STATUS_TEXT = {
    "active": "지금 뉴스레터를 받고 있습니다.",
    "pending": "아직 구독이 확인되지 않았습니다. 설정을 저장하면 확인 메일을 보냅니다.",
    "unsubscribed": "구독을 해지한 상태입니다. 설정을 저장하면 확인 메일을 보냅니다.",
    "suppressed": "이 주소로 보낸 메일이 반송되어 발송을 멈추었습니다.",
}
_ERROR_ORDER = ("email", "mode", "departments", "categories")


# --- The form -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SubscribeForm:
    """What the resident sent (or the defaults), and what is wrong with it."""

    email: str = ""
    mode: str = "immediate"
    departments: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    errors: Mapping[str, str] = field(default_factory=dict)

    def with_errors(self, errors: Mapping[str, str]) -> SubscribeForm:
        return replace(self, errors=dict(errors))

    def without_errors(self) -> SubscribeForm:
        return replace(self, errors={}, mode=self.mode or "immediate")

    def with_email(self, email: str) -> SubscribeForm:
        return replace(self, email=email)


def render_subscribe(
    settings: Settings,
    form: SubscribeForm,
    departments: Sequence[str],
    categories: Sequence[str],
    csrf_token: str,
    notice: str | None = None,
) -> str:
    return render(
        settings,
        "site/subscribe.html",
        form=form,
        errors=[(name, form.errors[name]) for name in _ERROR_ORDER if name in form.errors],
        departments=departments,
        categories=categories,
        modes=MODE_CHOICES,
        csrf_field=FIELD_NAME,
        csrf_token=csrf_token,
        notice=notice,
    )


def render_sent(settings: Settings) -> str:
    return render(settings, "site/subscribe_sent.html")


# --- Pages a mailed link opens ------------------------------------------------------------


@dataclass(frozen=True)
class Button:
    action: str
    label: str
    fields: Sequence[tuple[str, str]] = field(default_factory=tuple)
    email_field: bool = False  # an address to type in ("send me a new link")


@dataclass(frozen=True)
class Link:
    url: str
    label: str


def render_message(
    settings: Settings,
    heading: str,
    paragraphs: Sequence[str],
    button: Button | None = None,
    links: Sequence[Link] = (),
) -> str:
    return render(
        settings,
        "subscriptions/message.html",
        heading=heading,
        paragraphs=paragraphs,
        button=button,
        links=links,
    )


def render_preferences(
    settings: Settings,
    action: str,
    prefs: Preferences,
    status: str,
    known_categories: Sequence[str],
    known_departments: Sequence[str],
    notice: str | None = None,
) -> str:
    """The form lists every known topic plus any the subscriber follows that is not
    (yet) known, so saving never drops a choice silently."""
    return render(
        settings,
        "subscriptions/preferences.html",
        action=action,
        prefs=prefs,
        modes=MODE_LABELS,
        categories=sorted(set(known_categories) | set(prefs.categories)),
        departments=sorted(set(known_departments) | set(prefs.departments)),
        status_text=_STATUS_TEXT.get(status, ""),
        save_label="저장하고 받기" if status in ("pending", "unsubscribed") else "저장",
        can_leave=status != "unsubscribed",
        notice=notice,
    )
