"""What the welcome mail says: what the subscriber will receive, and how often.

Plain data for ``templates/email/welcome``; the sentences live in the templates (where
the translations find them). The subscriber's topics are read by the caller when the
mail is written, so the welcome says what is true when it is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from syndicator.config import Settings
from syndicator.mail.compose import LIST_SLOTS, MessageTemplate, compile_message, render_email

__all__ = ["welcome_message", "welcome_view"]


def welcome_view(
    mode: str, departments: Sequence[str], categories: Sequence[str], digest_hour: int
) -> dict[str, Any]:
    """No topics means every release, as the subscription form and the channel read it."""
    return {
        "mode": mode if mode in ("immediate", "daily", "weekly") else "immediate",
        "digest_hour": digest_hour,
        "every_release": not (departments or categories),
        "departments": list(departments),
        "categories": list(categories),
    }


def welcome_message(settings: Settings, view: dict[str, Any], language: str) -> MessageTemplate:
    """In the subscriber's language, compiled with the list slots: it carries the
    preferences and unsubscribe links (and the List-Unsubscribe headers) every newsletter
    carries."""
    rendered = render_email(settings, "welcome", {"welcome": view}, LIST_SLOTS, language=language)
    return compile_message(settings, rendered, list_headers=True)
