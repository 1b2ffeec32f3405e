"""What the newsletter templates see of a release: plain data, labels in the mail's
language (the release's own text stays as the CMS wrote it)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from syndicator.i18n import DEFAULT_LANGUAGE, N_, translate

__all__ = ["EN_MONTHS", "KST", "attachment_label", "date_label", "release_view", "size_label"]

KST = timezone(timedelta(hours=9), "KST")
_KINDS = {
    "application/pdf": "PDF",
    "application/x-hwp": "HWP",
    "application/haansofthwp": "HWP",
    "application/vnd.hancom.hwp": "HWP",
    "application/vnd.hancom.hwpx": "HWPX",
}
_WEEKDAYS = "월화수목금토일"
_EN_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
EN_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def size_label(size: int | None) -> str | None:
    if size is None:
        return None
    if size < 1024:
        return f"{size}B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f}KB"
    return f"{size / (1024 * 1024):.1f}MB"


def attachment_label(
    filename: str, media_type: str | None, size: int | None, language: str = DEFAULT_LANGUAGE
) -> str:
    """``PDF, 1.2MB``: the kind (from the media type, else the extension) and the size."""
    kind = _KINDS.get((media_type or "").lower())
    if kind is None and "." in filename:
        kind = filename.rsplit(".", 1)[1].upper()[:8]
    found = ", ".join(part for part in (kind, size_label(size)) if part)
    return found or translate(language, N_("파일"))


def _parse(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def date_label(when: datetime, language: str = DEFAULT_LANGUAGE) -> str:
    """``2026.12.07(월) 09:00`` as the city writes it; ``Mon 7 Dec 2026, 09:00 KST`` in
    English (spelled out here, not by the process's locale)."""
    local = when.astimezone(KST)
    if language == "en":
        month = EN_MONTHS[local.month - 1][:3]
        weekday = _EN_WEEKDAYS[local.weekday()]
        return f"{weekday} {local.day} {month} {local.year}, {local:%H:%M} KST"
    return f"{local:%Y.%m.%d}({_WEEKDAYS[local.weekday()]}) {local:%H:%M}"


def release_view(release: Mapping[str, Any], language: str = DEFAULT_LANGUAGE) -> dict[str, Any]:
    """From an event's ``release`` object (or the same keys from the releases table),
    with its labels in ``language``."""
    attachments = [
        {
            "filename": item["filename"],
            "url": str(item["url"]),
            "label": attachment_label(
                item["filename"], item.get("media_type"), item.get("size"), language
            ),
        }
        for item in release.get("attachments") or []
    ]
    summary = release.get("summary") or None
    return {
        "id": release["id"],
        "title": release["title"],
        "subtitle": release.get("subtitle") or None,
        "summary": summary,
        "department": release["department"],
        "categories": list(release.get("categories") or []),
        "url": str(release["url"]),
        "published_label": date_label(_parse(release["published_at"]), language),
        "attachments": attachments,
        "preheader": (summary or release.get("subtitle") or release["title"])[:140],
    }
