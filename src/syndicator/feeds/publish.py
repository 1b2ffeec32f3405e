"""Publish feeds: read what changed, render it, write only the documents whose bytes differ.

Documents are stored in the database (every web node serves them from there) and, when
configured, exported as files. Layout (paths under /feeds/): site, department and category live
feeds in RSS, Atom and JSON Feed, each with monthly Atom archives (RFC 5005) under its own
``archive/``. A release not in a scope's live feed is in exactly one of that scope's
archives: the KST month it was published in.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from sqlalchemy.orm import Session

from syndicator.config import Settings
from syndicator.feeds import queries as q
from syndicator.feeds.documents import (
    EntryCache,
    Output,
    archive_document,
    live_document,
    render_archive,
    render_live,
)
from syndicator.feeds.index import render_index
from syndicator.feeds.render.model import EMPTY_FEED_UPDATED
from syndicator.feeds.retractions import notice_cutoff
from syndicator.feeds.scopes import SITE, Month, Scope
from syndicator.feeds.storage import (
    export_documents,
    is_archive_path,
    remove_export,
    sweep_exports,
)
from syndicator.feeds.urls import INDEX_PATH, archive_path
from syndicator.ledger.quarantine import quarantine
from syndicator.logs import kv
from syndicator.store import documents
from syndicator.store.db import Database
from syndicator.store.locks import exclusive
from syndicator.store.models import Release, utcnow

__all__ = ["TOMBSTONE_LIMIT", "Culprits", "publish_changes", "rebuild_all"]

log = logging.getLogger(__name__)

# Atom feeds carry the newest retractions as tombstones; a bounded query, not a time window,
# so a re-render with no database change gives the same bytes whenever it runs.
TOMBSTONE_LIMIT = 20
# Publishers on every host take turns: a slower render of an older snapshot must never
# overwrite a newer one.
PUBLISH_LOCK = "feeds-publish"
# Archives a rebuild stores per transaction: bounded memory, whatever the history.
ARCHIVE_BATCH = 100
# Each round quarantines at least one release; a bound keeps a bug from looping forever.
MAX_QUARANTINE_ROUNDS = 20
CHANNEL = q.CHANNEL

T = TypeVar("T")


class Culprits(Exception):
    """Releases that fail to render on their own, by id, with their errors."""

    def __init__(self, errors: dict[int, Exception]) -> None:
        super().__init__(", ".join(f"{i}: {type(e).__name__}" for i, e in errors.items()))
        self.errors = errors


@dataclass
class _LivePlan:
    scope: Scope
    rows: list[Release]
    retracted: list[Release]
    prev_archive: Month | None
    # Retractions since then still show as notices in RSS and JSON Feed (decided here, at
    # planning time, so rendering stays a pure function of its input).
    notices_since: datetime


def _showing_notices(retracted: Sequence[Release], since: datetime) -> list[Release]:
    return [r for r in retracted if r.retracted_at is not None and r.retracted_at >= since]


@dataclass
class _ArchivePlan:
    scope: Scope
    month: Month
    rows: list[Release]
    older: Month | None
    newer: Month | None
    # Releases of the month retracted since: an archive keeps the notice, never the text.
    retracted: list[Release] = field(default_factory=list)


@dataclass
class _Plan:
    live: list[_LivePlan] = field(default_factory=list)
    archives: list[_ArchivePlan] = field(default_factory=list)
    removals: list[tuple[Scope, Month]] = field(default_factory=list)
    index: bytes | None = None


@dataclass
class _ScopeState:
    """A scope's live feed, where its archives start, and the months at that boundary."""

    live: _LivePlan
    cutoff: q.Cutoff | None
    near_boundary: set[Month]


def _scope_state(session: Session, settings: Settings, scope: Scope, spread: int) -> _ScopeState:
    """``spread`` releases changed can push as many across the live/archive boundary, so
    the months of the releases within ``spread`` of it may change. One query reads the
    live feed and those releases; the first one past the live feed is the newest archived.
    """
    size = settings.feed_size
    rows = q.live_releases(session, scope, size + spread)
    live = rows[:size]
    cutoff = q.cutoff_of(live, size)
    newest = Month.of(rows[size].published_at) if len(rows) > size else None
    near = {Month.of(r.published_at) for r in rows[max(0, size - spread) :]}
    retracted = q.recent_retractions(session, scope, TOMBSTONE_LIMIT)
    since = notice_cutoff(utcnow(), settings.retraction_notice_days)
    return _ScopeState(_LivePlan(scope, live, retracted, newest, since), cutoff, near)


def _touched_scopes(session: Session, ids: Sequence[int]) -> tuple[set[Scope], set[Month]]:
    """Every scope and month these releases are in now or were in before an update."""
    rows = q.releases_by_id(session, ids)
    history = q.history_of(session, ids)
    scopes = {SITE} | {Scope("department", r.department_slug, r.department) for r in rows}
    scopes |= q.scopes_named(session, "department", history.departments)
    categories = set(history.categories).union(*(r.categories for r in rows))
    scopes |= q.scopes_named(session, "category", categories)
    months = {Month.of(r.published_at) for r in rows} | {Month.of(p) for p in history.published}
    return scopes, months


def _archive_plans(
    session: Session, settings: Settings, state: _ScopeState, months: set[Month]
) -> tuple[list[_ArchivePlan], list[tuple[Scope, Month]]]:
    scope, cutoff, newest = state.live.scope, state.cutoff, state.live.prev_archive

    def archived(month: Month) -> list[Release]:
        # Nothing is archived after the newest archived month: no query needed.
        if newest is None or month > newest:
            return []
        return q.archived_in_month(session, scope, month, cutoff)

    def newer_than(month: Month) -> Month | None:
        return None if month == newest else q.newer_archived_month(session, scope, month, cutoff)

    contents = {m: archived(m) for m in months}
    # A month that gains its first or loses its last archived release changes its
    # neighbours' prev-archive/next-archive links, so they are rendered again too.
    to_render = {m for m, rows in contents.items() if rows}
    for month, rows in contents.items():
        existed = documents.exists(session, archive_path(scope, month))
        if bool(rows) != existed:
            for neighbour in (
                q.older_archived_month(session, scope, month, cutoff),
                newer_than(month),
            ):
                if neighbour is not None:
                    to_render.add(neighbour)
    plans = []
    for month in sorted(to_render, reverse=True):
        rows = contents.get(month) or archived(month)
        older = q.older_archived_month(session, scope, month, cutoff)
        gone = q.retracted_in_month(session, scope, month, cutoff)
        plans.append(_ArchivePlan(scope, month, rows, older, newer_than(month), gone))
    removals = sorted((scope, m) for m, rows in contents.items() if not rows)
    return plans, removals


def _plan_changes(
    session: Session, settings: Settings, ids: Sequence[int], skip: Scope | None = None
) -> _Plan:
    """What these releases change; ``skip``'s live feeds are left out (already stored),
    not its archives."""
    scopes, months = _touched_scopes(session, ids)
    plan = _Plan()
    site_newest: Month | None = None
    for scope in sorted(scopes):
        state = _scope_state(session, settings, scope, spread=len(ids) + 1)
        if scope != skip:
            plan.live.append(state.live)
        if scope == SITE:
            site_newest = state.live.prev_archive
        archives, removals = _archive_plans(session, settings, state, months | state.near_boundary)
        plan.archives += archives
        plan.removals += removals
    plan.index = render_index(settings, q.all_scopes(session), site_newest)
    return plan


RenderRows = Callable[[Sequence[Release], Sequence[Release]], list[Output]]


def _guarded(
    render: RenderRows, rows: Sequence[Release], retracted: Sequence[Release]
) -> list[Output]:
    """Render one document; if it fails, find the releases that fail on their own.

    Each entry and tombstone is probed alone in the same kind of document. Those that
    fail are the culprits (:class:`Culprits`); if none fails alone, the fault is the
    document's own, and the original error stands.
    """
    try:
        return render(rows, retracted)
    except Exception as exc:
        culprits: dict[int, Exception] = {}
        for row in rows:
            _probe(render, [row], [], row.id, culprits)
        for row in retracted:
            _probe(render, [], [row], row.id, culprits)
        if not culprits:
            raise
        raise Culprits(culprits) from exc


def _probe(
    render: RenderRows,
    rows: Sequence[Release],
    retracted: Sequence[Release],
    release_id: int,
    culprits: dict[int, Exception],
) -> None:
    try:
        render(rows, retracted)
    except Exception as exc:
        # Only a release that fails again, the same way, is at fault: a one-off (a
        # time limit firing mid-probe) must not quarantine an innocent one.
        try:
            render(rows, retracted)
        except type(exc):
            culprits.setdefault(release_id, exc)
        except Exception:
            pass


def _render_live(settings: Settings, cache: EntryCache, plan: _LivePlan) -> list[Output]:
    def render(rows: Sequence[Release], retracted: Sequence[Release]) -> list[Output]:
        doc = live_document(
            settings,
            plan.scope,
            cache.entries(rows),
            cache.tombstones(retracted),
            plan.prev_archive,
            notices=cache.notices(_showing_notices(retracted, plan.notices_since)),
        )
        return render_live(plan.scope, doc)

    return _guarded(render, plan.rows, plan.retracted)


def _render_archive(settings: Settings, cache: EntryCache, plan: _ArchivePlan) -> Output:
    def render(rows: Sequence[Release], retracted: Sequence[Release]) -> list[Output]:
        doc = archive_document(
            settings,
            plan.scope,
            plan.month,
            cache.entries(rows),
            plan.older,
            plan.newer,
            notices=cache.notices(retracted),
        )
        return [render_archive(plan.scope, plan.month, doc)]

    return _guarded(render, plan.rows, plan.retracted)[0]


@dataclass
class _Rendered:
    """Everything one publish writes, rendered before anything is written."""

    outputs: list[Output] = field(default_factory=list)
    index: Output | None = None
    removals: list[str] = field(default_factory=list)


def _render_plan(
    settings: Settings, plan: _Plan, index_time: datetime = EMPTY_FEED_UPDATED
) -> _Rendered:
    """``index_time``: the site feed's time, when the site's live feeds are not in ``plan``."""
    cache = EntryCache(settings.site_domain, settings.org_name)
    rendered = _Rendered()
    for live in plan.live:
        outputs = _render_live(settings, cache, live)
        if live.scope == SITE:
            index_time = outputs[0].content_time
        rendered.outputs += outputs
    rendered.outputs += [_render_archive(settings, cache, a) for a in plan.archives]
    rendered.removals = [archive_path(s, m) for s, m in plan.removals]
    if plan.index is not None:
        rendered.index = Output(INDEX_PATH, INDEX_PATH, plan.index, index_time)
    return rendered


def _save(
    db: Database,
    settings: Settings,
    outputs: Sequence[Output],
    removals: Sequence[str] = (),
    announce: Callable[[], object] | None = None,
) -> list[str]:
    """Store the documents whose bytes changed, and the removals, as one version (and export
    them); return the URLs of the feeds that changed. ``announce`` runs once that version
    is committed and changed anything: it tells the web nodes."""
    with db.session() as session:
        changed = documents.save(session, outputs, removals)
    if announce is not None and (changed or removals):
        announce()
    root = settings.feeds_export_dir
    if root is not None:
        export_documents(
            [
                (root / out.path, out.data, changed[out.path])
                for out in outputs
                if out.path in changed
            ]
        )
        for path in removals:
            remove_export(root / path)
    # The index is not a feed, so not a WebSub topic: stored, never reported.
    return [out.url for out in outputs if out.path in changed and out.path != INDEX_PATH]


def _save_rendered(
    db: Database,
    settings: Settings,
    rendered: _Rendered,
    announce: Callable[[], object] | None = None,
) -> list[str]:
    outputs = [*rendered.outputs, *([rendered.index] if rendered.index else [])]
    return _save(db, settings, outputs, rendered.removals, announce)


def _quarantine(db: Database, culprits: Culprits) -> None:
    with db.session() as session:
        for release_id, error in culprits.errors.items():
            if quarantine(session, release_id, CHANNEL, error) is not None:
                log.warning(
                    kv(
                        msg="release quarantined: it fails to render, so feeds leave it out",
                        release_id=release_id,
                        error=type(error).__name__,
                        detail=str(error)[:300],
                    )
                )


def _with_quarantine(db: Database, attempt: Callable[[], T]) -> T:
    """Run ``attempt``; while it names culprits, quarantine them and run it again."""
    for _ in range(MAX_QUARANTINE_ROUNDS):
        try:
            return attempt()
        except Culprits as found:
            _quarantine(db, found)
    raise RuntimeError(
        f"feeds still fail after quarantining releases {MAX_QUARANTINE_ROUNDS} times"
    )


def publish_changes(
    db: Database,
    settings: Settings,
    release_ids: Iterable[int],
    announce: Callable[[], object] | None = None,
) -> list[str]:
    """Re-render the documents these releases touch; return the absolute URLs that changed.
    ``announce`` runs after each stored version (the live feeds, then the archives)."""
    ids = sorted({int(i) for i in release_ids})
    if not ids:
        return []
    started = time.perf_counter()

    def attempt() -> tuple[_Plan, list[str]]:
        # Each step reads in one snapshot that takes no write lock, then renders, then
        # writes: intake and fan-out never wait for the plan's queries or for lxml.
        # Readers mostly poll the site's live feeds, so those are stored (and announced)
        # first, on their own few queries; then the other scopes' live feeds and the
        # index; then the archives. Each step is a version, as in a rebuild.
        with db.read_session() as session:
            site = _scope_state(session, settings, SITE, spread=len(ids) + 1).live
        first = _render_plan(settings, _Plan(live=[site]))
        changed = _save_rendered(db, settings, first, announce)
        with db.read_session() as session:
            plan = _plan_changes(session, settings, ids, skip=SITE)
        live = _Plan(live=plan.live, index=plan.index)
        archives = _Plan(archives=plan.archives, removals=plan.removals)
        site_time = first.outputs[0].content_time
        changed += _save_rendered(db, settings, _render_plan(settings, live, site_time), announce)
        if archives.archives or archives.removals:
            changed += _save_rendered(db, settings, _render_plan(settings, archives), announce)
        plan.live.append(site)
        return plan, changed

    with exclusive(db, PUBLISH_LOCK):
        plan, changed = _with_quarantine(db, attempt)
    log.info(
        kv(
            msg="feeds published",
            release_ids=",".join(map(str, ids)),
            documents=len(plan.live) * 3,
            archives=len(plan.archives),
            changed=len(changed),
            duration_ms=f"{(time.perf_counter() - started) * 1000:.1f}",
        )
    )
    return changed


class _ArchiveWalk:
    """Renders every scope's archives in one walk down the site's months.

    Whatever a scope archives the site archives too, in the same month (see Cutoff), so
    each site month's rows hold every scope's rows for that month. A scope's month is
    written once its next older month is known (its prev-archive link), or at the end.
    """

    def __init__(
        self, db: Database, settings: Settings, cutoffs: dict[Scope, q.Cutoff | None]
    ) -> None:
        self.db = db
        self.settings = settings
        self.cutoffs = cutoffs
        self.cache = EntryCache(settings.site_domain, settings.org_name, shared=False)
        self.waiting: dict[Scope, _ArchivePlan] = {}
        self.pending: list[Output] = []
        self.changed: list[str] = []
        self.kept: set[str] = set()

    def add_month(self, month: Month, rows: list[Release], slugs: dict[int, set[str]]) -> None:
        for scope, cutoff in self.cutoffs.items():
            if cutoff is None:
                continue
            scoped = [r for r in rows if _in_scope(scope, r, slugs) and cutoff.archives(r)]
            if not scoped:
                continue
            newer = self.waiting.get(scope)
            if newer is not None:
                newer.older = month
                self._write(newer)
            self.waiting[scope] = _ArchivePlan(
                scope, month, scoped, None, newer.month if newer else None
            )

    def finish(self) -> None:
        for plan in self.waiting.values():
            self._write(plan)
        self.waiting.clear()
        self._flush()

    def _write(self, plan: _ArchivePlan) -> None:
        out = _render_archive(self.settings, self.cache, plan)  # may raise Culprits
        self.kept.add(out.path)
        self.pending.append(out)
        if len(self.pending) >= ARCHIVE_BATCH:
            self._flush()

    def _flush(self) -> None:
        if self.pending:
            self.changed += _save(self.db, self.settings, self.pending)
            self.pending.clear()


def _in_scope(scope: Scope, row: Release, slugs: dict[int, set[str]]) -> bool:
    if scope.kind == "department":
        return row.department_slug == scope.slug
    if scope.kind == "category":
        return scope.slug in slugs.get(row.id, ())
    return True


def _rebuild_archives(
    db: Database, settings: Settings, cutoffs: dict[Scope, q.Cutoff | None], newest: Month | None
) -> tuple[list[str], set[str]]:
    """Walk prev-archive from the site's newest month, one short transaction per month."""
    walk = _ArchiveWalk(db, settings, cutoffs)
    month = newest
    while month is not None:
        with db.session() as session:
            rows = q.archived_in_month(session, SITE, month, cutoffs[SITE])
            slugs = q.category_slugs(session, [r.id for r in rows])
            older = q.older_archived_month(session, SITE, month, cutoffs[SITE])
        walk.add_month(month, rows, slugs)
        month = older
    walk.finish()
    return walk.changed, walk.kept


def _remove_strays(db: Database, settings: Settings, kept: set[str]) -> None:
    """Archives no longer rendered (a release moved or was retracted) are removed."""
    with db.session() as session:
        stale = [p for p in documents.paths(session) if is_archive_path(p) and p not in kept]
    _save(db, settings, [], stale)
    if settings.feeds_export_dir is not None:
        sweep_exports(settings.feeds_export_dir, kept)


def rebuild_all(db: Database, settings: Settings) -> list[str]:
    """Render every document from the database (backfill, repair)."""
    started = time.perf_counter()

    def attempt() -> tuple[list[Scope], list[str]]:
        with db.session() as session:
            scopes = [SITE, *q.all_scopes(session)]
            states = {s: _scope_state(session, settings, s, spread=1) for s in scopes}
            newest = states[SITE].live.prev_archive
            plan = _Plan(live=[state.live for state in states.values()])
            plan.index = render_index(settings, scopes, newest)
        changed = _save_rendered(db, settings, _render_plan(settings, plan))
        cutoffs = {scope: state.cutoff for scope, state in states.items()}
        archived, kept = _rebuild_archives(db, settings, cutoffs, newest)
        _remove_strays(db, settings, kept)
        return scopes, changed + archived

    with exclusive(db, PUBLISH_LOCK):
        scopes, changed = _with_quarantine(db, attempt)
    log.info(
        kv(
            msg="feeds rebuilt",
            scopes=len(scopes),
            changed=len(changed),
            duration_ms=f"{(time.perf_counter() - started) * 1000:.1f}",
        )
    )
    return changed
