"""The subscription pages, pure renders: the form, "check your mail", the pages a mailed
link opens (a message, maybe with a button) and the preferences form.

Every message here is Korean marked with ``N_``; the templates translate it (``_()``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from syndicator.config import Settings
from syndicator.i18n import DEFAULT_LANGUAGE, LANGUAGES, N_, translate
from syndicator.subscriptions.preferences import Preferences
from syndicator.web.csrf import FIELD_NAME
from syndicator.web.html.templates import KOREAN, PageLanguage, render

__all__ = [
    "FIELD_MESSAGES",
    "LANGUAGE_CHOICES",
    "MODE_CHOICES",
    "MODE_LABELS",
    "SUPPRESSION_TEXT",
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
    "email_missing": N_("이메일 주소를 입력해 주세요."),
    "email_invalid": N_("이메일 주소 형식이 올바르지 않습니다. 예: hong@example.com"),
    "mode": N_("받는 방식을 즉시, 매일, 매주 가운데 하나로 골라 주세요."),
    "language": N_("메일 언어를 한국어와 English 가운데 하나로 골라 주세요."),
    "departments": N_("목록에 있는 부서만 고를 수 있습니다."),
    "categories": N_("목록에 있는 분야만 고를 수 있습니다."),
}

# The form: short labels, as the issue names them, with what each means.
MODE_CHOICES = (
    ("immediate", N_("즉시"), N_("보도자료가 나올 때마다 한 통씩")),
    ("daily", N_("매일"), N_("하루에 한 번 모아서")),
    ("weekly", N_("매주"), N_("일주일에 한 번(월요일) 모아서")),
)
# Each language named in itself, so a resident finds theirs whatever the page's language.
LANGUAGE_CHOICES = (("ko", "한국어"), ("en", "English"))
# The preferences page: one phrase each, the subscriber knows the choices already.
MODE_LABELS = (
    ("immediate", N_("보도자료가 나올 때마다")),
    ("daily", N_("하루에 한 번 모아서")),
    ("weekly", N_("일주일에 한 번(월요일) 모아서")),
)
_STATUS_TEXT = {
    "active": N_("지금 뉴스레터를 받고 있습니다."),
    "pending": N_("아직 구독이 확인되지 않았습니다. 설정을 저장하면 확인 메일을 보냅니다."),
    "unsubscribed": N_("구독을 해지한 상태입니다. 설정을 저장하면 확인 메일을 보냅니다."),
    "suppressed": N_("이 주소로 보낸 메일이 반송되어 발송을 멈추었습니다."),
}
# Why a suppressed subscriber receives nothing, by what stopped it, and how to come back.
_BOUNCED = (
    N_("메일이 반송되어 발송을 멈췄습니다."),
    N_(
        "이 주소로 보낸 메일이 받는 쪽 메일 서버에서 되돌아왔습니다. 메일함이 가득 찼거나, "
        "주소가 바뀌었거나, 메일 서버에 문제가 있었을 수 있습니다. 이제 메일을 받을 수 "
        "있다면 아래 '다시 받기'를 누르세요. 이 주소로 확인 메일을 보내 드리고, 확인 링크를 "
        "누르면 다시 받습니다."
    ),
)
_COMPLAINED = (
    N_("스팸 신고가 접수되어 발송을 멈췄습니다."),
    N_(
        "이 주소에서 저희 뉴스레터를 스팸으로 신고하여 모든 구독을 해지하고 발송을 "
        "멈췄습니다. 실수로 신고하셨고 다시 받고 싶다면 아래 '다시 받기'를 누르세요. 이 "
        "주소로 확인 메일을 보내 드리고, 확인 링크를 누르면 다시 받습니다."
    ),
)
SUPPRESSION_TEXT = {
    "hard_bounce": _BOUNCED,
    "soft_bounce": _BOUNCED,
    "smtp": _BOUNCED,
    "complaint": _COMPLAINED,
}
_ERROR_ORDER = ("email", "mode", "language", "departments", "categories")


# --- The form -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SubscribeForm:
    """What the resident sent (or the defaults), and what is wrong with it."""

    email: str = ""
    mode: str = "immediate"
    language: str = DEFAULT_LANGUAGE  # the mails'
    departments: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    errors: Mapping[str, str] = field(default_factory=dict)

    def with_errors(self, errors: Mapping[str, str]) -> SubscribeForm:
        return replace(self, errors=dict(errors))

    def without_errors(self) -> SubscribeForm:
        language = self.language if self.language in LANGUAGES else DEFAULT_LANGUAGE
        return replace(self, errors={}, mode=self.mode or "immediate", language=language)

    def with_email(self, email: str) -> SubscribeForm:
        return replace(self, email=email)


def render_subscribe(
    settings: Settings,
    form: SubscribeForm,
    departments: Sequence[str],
    categories: Sequence[str],
    csrf_token: str,
    notice: str | None = None,
    page: PageLanguage = KOREAN,
) -> str:
    return render(
        settings,
        "site/subscribe.html",
        page=page,
        form=form,
        errors=[(name, form.errors[name]) for name in _ERROR_ORDER if name in form.errors],
        departments=departments,
        categories=categories,
        modes=MODE_CHOICES,
        languages=LANGUAGE_CHOICES,
        csrf_field=FIELD_NAME,
        csrf_token=csrf_token,
        notice=notice,
    )


def render_sent(settings: Settings, page: PageLanguage = KOREAN) -> str:
    return render(settings, "site/subscribe_sent.html", page=page)


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
    page: PageLanguage = KOREAN,
    details: Sequence[str] = (),
) -> str:
    """``heading``, ``paragraphs`` and the labels are ``N_`` messages, translated here
    with their ``%(site_title)s`` and ``%(base_url)s`` filled in; ``details`` (what a
    resident sent, say) are shown as they are, after the paragraphs."""
    names = {"site_title": settings.site_title, "base_url": settings.base_url}

    def text(message: str) -> str:
        return translate(page.code, message) % names

    return render(
        settings,
        "subscriptions/message.html",
        page=page,
        heading=text(heading),
        paragraphs=[*(text(p) for p in paragraphs), *details],
        button=replace(button, label=text(button.label)) if button else None,
        links=[replace(link, label=text(link.label)) for link in links],
    )


def render_preferences(
    settings: Settings,
    action: str,
    prefs: Preferences,
    status: str,
    known_categories: Sequence[str],
    known_departments: Sequence[str],
    notice: str | None = None,
    page: PageLanguage = KOREAN,
    language: str = DEFAULT_LANGUAGE,
    suppressed_kind: str | None = None,
) -> str:
    """The form lists every known topic plus any the subscriber follows that is not
    (yet) known, so saving never drops a choice silently; ``language`` is their mails'.
    A suppressed subscriber reads why, and the form asks to receive again (a
    confirmation mail first)."""
    suppressed = status == "suppressed"
    heading, explanation = SUPPRESSION_TEXT.get(suppressed_kind or "", _BOUNCED)
    if suppressed:
        save_label = N_("다시 받기")
    elif status in ("pending", "unsubscribed"):
        save_label = N_("저장하고 받기")
    else:
        save_label = N_("저장")
    return render(
        settings,
        "subscriptions/preferences.html",
        page=page,
        action=action,
        prefs=prefs,
        modes=MODE_LABELS,
        languages=LANGUAGE_CHOICES,
        mail_language=language,
        categories=sorted(set(known_categories) | set(prefs.categories)),
        departments=sorted(set(known_departments) | set(prefs.departments)),
        status_text=heading if suppressed else _STATUS_TEXT.get(status, ""),
        suppression=explanation if suppressed else None,
        form_action="resume" if suppressed else "save",
        save_label=save_label,
        can_leave=status not in ("unsubscribed", "suppressed"),
        notice=notice,
    )
