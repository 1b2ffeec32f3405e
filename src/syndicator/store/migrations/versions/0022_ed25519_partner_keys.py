"""partners sign with Ed25519 too: partners.signature_scheme, partner_secrets.public_key

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every partner so far signs with shared secrets (v1); the default says so.
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("signature_scheme", sa.String(20), nullable=False, server_default="v1")
        )
    with op.batch_alter_table("partner_secrets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_key", sa.Text(), nullable=True))


def downgrade() -> None:
    # Ed25519 keys mean nothing to a v1-only schema: their partners keep no key.
    op.execute("DELETE FROM partner_secrets WHERE public_key IS NOT NULL")
    with op.batch_alter_table("partner_secrets", schema=None) as batch_op:
        batch_op.drop_column("public_key")
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.drop_column("signature_scheme")
