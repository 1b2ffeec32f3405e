"""The resident's subscription pages (confirm, preferences, unsubscribe), pure renders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from syndicator.config import Settings
from syndicator.subscriptions.preferences import Preferences
from syndicator.web.html.templates import environment

__all__ = ["MODE_LABELS", "Button", "Link", "render_message", "render_preferences"]

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
    template = environment(settings.templates_dir).get_template("subscriptions/message.html")
    return template.render(
        settings=settings, heading=heading, paragraphs=paragraphs, button=button, links=links
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
    categories = sorted(set(known_categories) | set(prefs.categories))
    departments = sorted(set(known_departments) | set(prefs.departments))
    template = environment(settings.templates_dir).get_template("subscriptions/preferences.html")
    return template.render(
        settings=settings,
        action=action,
        prefs=prefs,
        modes=MODE_LABELS,
        categories=categories,
        departments=departments,
        status_text=_STATUS_TEXT.get(status, ""),
        save_label="저장하고 받기" if status in ("pending", "unsubscribed") else "저장",
        can_leave=status != "unsubscribed",
        notice=notice,
    )
