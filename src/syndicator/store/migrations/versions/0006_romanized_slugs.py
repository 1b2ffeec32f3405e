"""slugs in the Revised Romanization; the old ones stay as aliases that redirect

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28

Every department and category slug is made again with store.taxonomy.proposed_slug (the
Revised Romanization), and its old slug is kept in taxon_aliases, so its URLs answer 301
for good. The stored feed documents move to the new paths in the same transaction, so no
feed is missing in between; their self links still name the old URLs (which redirect)
until the next publish or `syndicator rebuild-feeds` renders them again.
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DIRS = {"department": "departments", "category": "categories"}

taxa = sa.table(
    "taxa", sa.column("id", sa.Integer), sa.column("kind"), sa.column("name"), sa.column("slug")
)
aliases = sa.table(
    "taxon_aliases", sa.column("kind"), sa.column("slug"), sa.column("taxon_id", sa.Integer)
)
releases = sa.table("releases", sa.column("department_slug"))
release_categories = sa.table("release_categories", sa.column("slug"))
documents = sa.table("published_documents", sa.column("path"), sa.column("version", sa.BigInteger))


def _new_slugs(rows: Sequence[sa.Row]) -> dict[int, tuple[str, str, str]]:
    """taxon id -> (kind, old slug, new slug), for the taxa whose slug changes."""
    from syndicator.store.taxonomy import proposed_slug

    taken = {(row.kind, row.slug) for row in rows}
    changes: dict[int, tuple[str, str, str]] = {}
    for row in sorted(rows, key=lambda r: r.id):
        slug = proposed_slug(row.name)
        if slug == row.slug:
            continue
        if (row.kind, slug) in taken:
            slug = f"{slug}-{hashlib.sha256(row.name.encode()).hexdigest()[:6]}"
        if (row.kind, slug) in taken:
            continue  # nothing better is free: keep the slug it has
        taken.add((row.kind, slug))
        changes[row.id] = (row.kind, row.slug, slug)
    return changes


def _move(bind: sa.Connection, kind: str, old: str, new: str) -> None:
    if kind == "department":
        bind.execute(
            releases.update().where(releases.c.department_slug == old).values(department_slug=new)
        )
    else:
        bind.execute(
            release_categories.update().where(release_categories.c.slug == old).values(slug=new)
        )


def upgrade() -> None:
    op.create_table(
        "taxon_aliases",
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("slug", sa.String(length=200), nullable=False),
        sa.Column("taxon_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["taxon_id"],
            ["taxa.id"],
            name=op.f("fk_taxon_aliases_taxon_id_taxa"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("kind", "slug", name=op.f("pk_taxon_aliases")),
    )
    bind = op.get_bind()
    changes = _new_slugs(bind.execute(sa.select(taxa)).all())
    if not changes:
        return
    # Two steps through a placeholder, so two taxa may trade slugs without a clash.
    for taxon_id, (kind, old, _) in changes.items():
        placeholder = f"~{taxon_id}"
        bind.execute(taxa.update().where(taxa.c.id == taxon_id).values(slug=placeholder))
        _move(bind, kind, old, placeholder)
    for taxon_id, (kind, old, new) in changes.items():
        bind.execute(taxa.update().where(taxa.c.id == taxon_id).values(slug=new))
        _move(bind, kind, f"~{taxon_id}", new)
        bind.execute(aliases.insert().values(kind=kind, slug=old, taxon_id=taxon_id))
    version = (bind.execute(sa.select(sa.func.max(documents.c.version))).scalar() or 0) + 1
    for kind, old, new in changes.values():
        prefix, target = f"{_DIRS[kind]}/{old}/", f"{_DIRS[kind]}/{new}/"
        rows = bind.execute(
            sa.select(documents.c.path).where(documents.c.path.startswith(prefix))
        ).scalars()
        for path in list(rows):
            moved = target + path.removeprefix(prefix)
            bind.execute(documents.delete().where(documents.c.path == moved))
            bind.execute(
                documents.update()
                .where(documents.c.path == path)
                .values(path=moved, version=version)
            )


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(
            aliases.c.kind, aliases.c.slug, aliases.c.taxon_id, taxa.c.slug.label("new")
        ).join(taxa, taxa.c.id == aliases.c.taxon_id)
    ).all()
    for row in rows:
        bind.execute(taxa.update().where(taxa.c.id == row.taxon_id).values(slug=row.slug))
        _move(bind, row.kind, row.new, row.slug)
    op.drop_table("taxon_aliases")
