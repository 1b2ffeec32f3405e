"""The subscribe form and the "check your mail" page, pure renders."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from syndicator.config import Settings
from syndicator.web.csrf import FIELD_NAME
from syndicator.web.html.templates import environment

__all__ = ["FIELD_MESSAGES", "MODE_CHOICES", "SubscribeForm", "render_sent", "render_subscribe"]

# What a resident reads next to a field that is not right (the preferences page too).
FIELD_MESSAGES = {
    "email_missing": "이메일 주소를 입력해 주세요.",
    "email_invalid": "이메일 주소 형식이 올바르지 않습니다. 예: hong@example.com",
    "mode": "받는 방식을 즉시, 매일, 매주 가운데 하나로 골라 주세요.",
    "departments": "목록에 있는 부서만 고를 수 있습니다.",
    "categories": "목록에 있는 분야만 고를 수 있습니다.",
}

# Short labels, as the issue names them, with what each means.
MODE_CHOICES = (
    ("immediate", "즉시", "보도자료가 나올 때마다 한 통씩"),
    ("daily", "매일", "하루에 한 번 모아서"),
    ("weekly", "매주", "일주일에 한 번(월요일) 모아서"),
)


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


_ERROR_ORDER = ("email", "mode", "departments", "categories")


def render_subscribe(
    settings: Settings,
    form: SubscribeForm,
    departments: Sequence[str],
    categories: Sequence[str],
    csrf_token: str,
    notice: str | None = None,
) -> str:
    template = environment(settings.templates_dir).get_template("site/subscribe.html")
    return template.render(
        settings=settings,
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
    template = environment(settings.templates_dir).get_template("site/subscribe_sent.html")
    return template.render(settings=settings)
