"""partners: signing secrets and credential headers sealed at rest (Fernet)

Seals what was stored in plain text, here and once, in the transaction that changes the
schema: afterwards no row is plain text and no code has to guess whether one is. The
keys come from the caller (`syndicator run`, `syndicator migrate`) or, when it gives
none, from SYNDICATOR_ENCRYPTION_KEYS. A database with nothing to seal needs no key.

Which headers hold credentials is frozen here as it was decided for this revision:
Authorization, Proxy-Authorization, Cookie and names that look like a credential.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

import json
import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from syndicator.store.sealed import Keyring, Sealed, keyring

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Authorization, Proxy-Authorization and Cookie match too.
_CREDENTIAL = re.compile(
    r"key|token|secret|auth|passw|session|cookie|signature|credential", re.IGNORECASE
)

_secrets = sa.table("partner_secrets", sa.column("id", sa.Integer), sa.column("secret", sa.Text))
_partners = sa.table(
    "partners",
    sa.column("id", sa.Integer),
    sa.column("headers", sa.JSON),
    sa.column("secret_headers", sa.Text),
)


def _keyring() -> Keyring:
    config = op.get_context().config
    keys = config.attributes.get("encryption_keys") if config is not None else None
    if keys is None:
        from syndicator.config import load_settings

        keys = load_settings().encryption_keys
    # Without a key: InvalidEncryptionKey names SYNDICATOR_ENCRYPTION_KEYS, and the
    # transaction leaves the database as it was.
    return keyring(tuple(keys))


def _credentials(headers: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (headers or {}).items() if _CREDENTIAL.search(k) and v is not None}


def upgrade() -> None:
    bind = op.get_bind()
    secrets = bind.execute(sa.select(_secrets.c.id, _secrets.c.secret)).all()
    headers = [
        (row.id, row.headers, hidden)
        for row in bind.execute(sa.select(_partners.c.id, _partners.c.headers)).all()
        if (hidden := _credentials(row.headers))
    ]
    # The keys before any change: a database with secrets and no key is refused whole.
    ring = _keyring() if secrets or headers else None
    with op.batch_alter_table("partner_secrets", schema=None) as batch_op:
        batch_op.alter_column(
            "secret", existing_type=sa.String(length=200), type_=sa.Text(), nullable=False
        )
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.add_column(sa.Column("secret_headers", sa.Text(), nullable=True))
    if ring is None:
        return
    for key_id, secret in secrets:
        sealed = ring.seal(secret).token
        bind.execute(_secrets.update().where(_secrets.c.id == key_id).values(secret=sealed))
    for partner_id, shown, hidden in headers:
        # A secret header stays listed, its value null: the value lives sealed.
        listed = {k: (None if k in hidden else v) for k, v in shown.items()}
        bind.execute(
            _partners.update()
            .where(_partners.c.id == partner_id)
            .values(headers=listed, secret_headers=ring.seal(json.dumps(hidden)).token)
        )


def downgrade() -> None:
    bind = op.get_bind()
    query = sa.select(_partners.c.id, _partners.c.headers, _partners.c.secret_headers)
    sealed_headers = bind.execute(query.where(_partners.c.secret_headers.is_not(None))).all()
    has_secrets = bind.execute(sa.select(_secrets.c.id).limit(1)).first() is not None
    ring = _keyring() if has_secrets or sealed_headers else None
    if ring is not None:
        for key_id, secret in bind.execute(sa.select(_secrets.c.id, _secrets.c.secret)).all():
            plain = ring.open(Sealed(secret))
            bind.execute(_secrets.update().where(_secrets.c.id == key_id).values(secret=plain))
        for partner_id, listed, sealed in sealed_headers:
            headers = {**(listed or {}), **json.loads(ring.open(Sealed(sealed)))}
            where = _partners.c.id == partner_id
            bind.execute(_partners.update().where(where).values(headers=headers))
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.drop_column("secret_headers")
    with op.batch_alter_table("partner_secrets", schema=None) as batch_op:
        batch_op.alter_column(
            "secret", existing_type=sa.Text(), type_=sa.String(length=200), nullable=False
        )
