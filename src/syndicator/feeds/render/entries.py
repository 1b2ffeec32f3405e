"""A stored release -> a FeedEntry (or a Tombstone): ids, URLs, KST times and entry HTML."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any, Protocol
from urllib.parse import urljoin

import lxml.html
from lxml import etree

from syndicator.events.uris import iri_to_uri, xml_safe
from syndicator.feeds.render.model import KST, Enclosure, FeedEntry, Tombstone

__all__ = [
    "ReleaseLike",
    "absolute_body",
    "entry_from_release",
    "entry_id",
    "license_url",
    "notice_from_release",
    "rights_text",
    "tombstone_from_release",
]

# 공공누리 (KOGL) types as publicised by the Korea Copyright Commission.
_KOGL = {
    "KOGL-1": "공공누리 제1유형: 출처표시",
    "KOGL-2": "공공누리 제2유형: 출처표시, 상업적 이용금지",
    "KOGL-3": "공공누리 제3유형: 출처표시, 변경금지",
    "KOGL-4": "공공누리 제4유형: 출처표시, 상업적 이용금지, 변경금지",
}
_SUMMARY_CHARS = 200


class ReleaseLike(Protocol):
    """What the renderer reads from a release; the ORM row satisfies it."""

    @property
    def id(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def subtitle(self) -> str | None: ...
    @property
    def summary(self) -> str | None: ...
    @property
    def body_html(self) -> str: ...
    @property
    def department(self) -> str: ...
    @property
    def contact(self) -> Mapping[str, Any] | None: ...
    @property
    def categories(self) -> Sequence[Any]: ...
    @property
    def url(self) -> str: ...
    @property
    def published_at(self) -> datetime: ...
    @property
    def first_published_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def attachments(self) -> Sequence[Any]: ...
    @property
    def license(self) -> str: ...
    @property
    def retracted_at(self) -> datetime | None: ...
    @property
    def retraction_reason(self) -> str | None: ...


def entry_id(site_domain: str, release_id: int, first_published_at: datetime) -> str:
    """RFC 4151 tag URI. The year (KST) is that of the release's *first stored*
    ``published_at``: an update may correct the date, never the id."""
    return f"tag:{site_domain},{first_published_at.astimezone(KST).year}:press/{release_id}"


def license_url(license_code: str) -> str | None:
    """The KOGL page that explains a type (제1유형 … 제4유형), for rel="license"."""
    if license_code in _KOGL:
        return f"https://www.kogl.or.kr/info/licenseType{license_code[-1]}.do"
    return None


def rights_text(license_code: str) -> str:
    return _KOGL.get(license_code) or xml_safe(license_code)


def absolute_body(body_html: str, base_url: str) -> str:
    """Resolve relative href/src against the release page; readers show content out of context."""
    body = xml_safe(body_html).strip()
    if not body:
        return ""
    wrapper = lxml.html.fragment_fromstring(body, create_parent="div")
    wrapper.rewrite_links(lambda link: _absolute_link(link, base_url))
    html = etree.tostring(wrapper, encoding="unicode", method="html")
    return html[len("<div>") : -len("</div>")]


def _absolute_link(link: str, base_url: str) -> str | None:
    # Intake drops links that cannot become URIs; one stored before that is dropped here
    # (None removes the attribute) rather than failing the whole feed.
    try:
        return iri_to_uri(urljoin(base_url, link.strip()))
    except ValueError:
        return None


def _size_label(size: int | None) -> str:
    if size is None:
        return ""
    if size < 1024:
        return f" ({size} B)"
    if size < 1024 * 1024:
        return f" ({size / 1024:.1f} KB)"
    return f" ({size / (1024 * 1024):.1f} MB)"


def _enclosures(attachments: Sequence[Any]) -> tuple[Enclosure, ...]:
    return tuple(
        Enclosure(
            url=iri_to_uri(str(a["url"])),
            media_type=xml_safe(a.get("media_type") or "application/octet-stream"),
            length=a.get("size"),
            title=xml_safe(str(a.get("filename") or "")),
        )
        for a in attachments
    )


def _attachment_list(enclosures: Sequence[Enclosure]) -> str:
    # RSS carries one enclosure per item, so every attachment is also a link in the text.
    if not enclosures:
        return ""
    items = "".join(
        f'<li><a href="{escape(e.url)}">{escape(e.title or e.url)}</a>{_size_label(e.length)}</li>'
        for e in enclosures
    )
    return f"<h3>첨부파일</h3><ul>{items}</ul>"


def _contact_line(release: ReleaseLike) -> str:
    parts = [f"담당부서: {escape(xml_safe(release.department))}"]
    contact = release.contact or {}
    person = " ".join(xml_safe(str(v)) for v in (contact.get("name"), contact.get("phone")) if v)
    if person:
        parts.append(f"담당자: {escape(person)}")
    return f"<p>{' · '.join(parts)}</p>"


def _content_html(release: ReleaseLike, permalink: str, enclosures: Sequence[Enclosure]) -> str:
    subtitle = ""
    if release.subtitle:
        lines = (escape(line) for line in xml_safe(release.subtitle).splitlines() if line.strip())
        subtitle = f"<p><strong>{'<br>'.join(lines)}</strong></p>"
    body = absolute_body(release.body_html, permalink)
    return subtitle + body + _attachment_list(enclosures) + _contact_line(release)


def _plain_text(html: str) -> str:
    if not html.strip():
        return ""
    text = lxml.html.fragment_fromstring(html, create_parent="div").text_content()
    return " ".join(text.split())


def _summary(release: ReleaseLike) -> str:
    for candidate in (release.summary, release.subtitle):
        if candidate and candidate.strip():
            return " ".join(xml_safe(candidate).split())
    text = _plain_text(xml_safe(release.body_html))
    if len(text) > _SUMMARY_CHARS:
        text = text[:_SUMMARY_CHARS].rstrip() + "…"
    return text or xml_safe(release.title)


def entry_from_release(release: ReleaseLike, *, site_domain: str, org_name: str = "") -> FeedEntry:
    """``org_name`` prefixes the department as the author ("대구광역시 위생정책과"): a resident
    who mixes several cities' feeds must tell their 위생정책과 apart."""
    permalink = iri_to_uri(release.url)
    enclosures = _enclosures(release.attachments)
    return FeedEntry(
        number=release.id,
        id=entry_id(site_domain, release.id, release.first_published_at),
        title=xml_safe(release.title),
        url=permalink,
        summary=_summary(release),
        content_html=_content_html(release, permalink, enclosures),
        author=" ".join(filter(None, (org_name, xml_safe(release.department)))),
        categories=tuple(xml_safe(str(c)) for c in release.categories),
        published=release.published_at.astimezone(KST),
        updated=release.updated_at.astimezone(KST),
        rights=rights_text(release.license),
        enclosures=enclosures,
    )


def _retraction_text(release: ReleaseLike) -> tuple[datetime, str, str | None]:
    when = (release.retracted_at or release.updated_at).astimezone(KST)
    said = f"「{xml_safe(release.title)}」 보도자료가 {when:%Y년 %m월 %d일} 철회되었습니다."
    reason = xml_safe(release.retraction_reason or "").strip() or None
    return when, said, reason


def tombstone_from_release(release: ReleaseLike, *, site_domain: str) -> Tombstone:
    when, said, reason = _retraction_text(release)
    return Tombstone(
        ref=entry_id(site_domain, release.id, release.first_published_at),
        when=when,
        comment=f"{said} 사유: {reason}" if reason else said,
        url=iri_to_uri(release.url),
    )


def notice_from_release(release: ReleaseLike, *, site_domain: str, org_name: str = "") -> FeedEntry:
    """A retracted release as readers that ignore tombstones must see it: the same id with
    a new ``updated``, so the entry they hold is replaced in place by a notice. Nothing of
    the original text or attachments is kept."""
    when, said, reason = _retraction_text(release)
    title = f"[철회] {xml_safe(release.title)}"
    body = f"<p>{escape(said)}</p>" + (f"<p>사유: {escape(reason)}</p>" if reason else "")
    return FeedEntry(
        number=release.id,
        id=entry_id(site_domain, release.id, release.first_published_at),
        title=title,
        url=iri_to_uri(release.url),
        summary=f"{said} 사유: {reason}" if reason else said,
        content_html=body,
        author=" ".join(filter(None, (org_name, xml_safe(release.department)))),
        categories=tuple(xml_safe(str(c)) for c in release.categories),
        published=release.published_at.astimezone(KST),
        updated=max(when, release.updated_at.astimezone(KST)),
        rights=rights_text(release.license),
    )
