"""A newsletter is compiled once per release (or digest content) and language, and filled
per recipient."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from syndicator.config import Settings
from syndicator.i18n import DEFAULT_LANGUAGE
from syndicator.mail.compose import (
    LIST_SLOTS,
    MessageTemplate,
    compile_message,
    message_id,
    now_header,
    render_email,
)
from syndicator.mail.dkim import sign_message
from syndicator.mail.views import release_view

__all__ = ["CompiledCache", "compile_newsletter", "personalise", "release_newsletter"]


def compile_newsletter(
    settings: Settings,
    template: str,
    context: Mapping[str, Any],
    language: str = DEFAULT_LANGUAGE,
) -> MessageTemplate:
    rendered = render_email(settings, template, context, LIST_SLOTS, language=language)
    return compile_message(settings, rendered, list_headers=True)


def release_newsletter(
    settings: Settings,
    event_type: str,
    payload: Mapping[str, Any],
    language: str = DEFAULT_LANGUAGE,
    *,
    web_url: str | None = None,
) -> MessageTemplate:
    """``web_url``: the release's web copy (:mod:`syndicator.mail.web_copies`), linked as
    "웹에서 보기"; None for a message without one (a benchmark's)."""
    context = {
        "release": release_view(payload["release"], language),
        "correction": event_type == "release.updated",
        "web_url": web_url,
    }
    return compile_newsletter(settings, "release", context, language)


def personalise(
    settings: Settings,
    template: MessageTemplate,
    to: str,
    links: Mapping[str, str],
    local_id: str,
) -> tuple[bytes, str]:
    """The message for one subscriber, and its Message-ID. ``links`` holds their
    ``unsubscribe_url`` and ``preferences_url``; ``local_id`` makes the Message-ID stable
    per delivery, so a resend can be recognised as the same message."""
    mid = message_id(settings, local_id)
    values = {"to": to, "message_id": mid, "date": now_header(), **links}
    return sign_message(settings, template.fill(values)), mid


class CompiledCache:
    """The few newsletters a worker is sending now, compiled once each."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, MessageTemplate] = OrderedDict()

    def get(self, key: Hashable, build: Callable[[], MessageTemplate]) -> MessageTemplate:
        found = self._items.get(key)
        if found is None:
            found = self._items[key] = build()
            if len(self._items) > self.size:
                self._items.popitem(last=False)
        else:
            self._items.move_to_end(key)
        return found
