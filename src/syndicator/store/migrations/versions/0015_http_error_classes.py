"""http error classes: WebSub attempts logged in the vocabulary partner webhooks use

Both HTTP channels now classify through channels/http_outcomes.py. WebSub attempts logged
before then say ``E_HTTP_503`` (the status inside the class, none in ``status_code``),
``E_TIMEOUT``, ``E_TRANSPORT``, ...; they are renamed so the console shows one vocabulary.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RENAMED = {
    "E_TIMEOUT": "timeout",
    "E_TRANSPORT": "connect",
    "E_PROTOCOL": "http",
    "E_INVALID_URL": "invalid-url",
    "E_HUB_URL": "invalid-url",
    "E_NO_HUB": "no-hub",
}
_STATUS_PREFIX = "E_HTTP_"

attempts = sa.table(
    "delivery_attempts",
    sa.column("delivery_id", sa.Integer),
    sa.column("error_class", sa.String),
    sa.column("status_code", sa.Integer),
)
deliveries = sa.table("deliveries", sa.column("id", sa.Integer), sa.column("channel", sa.String))
_WEBSUB = attempts.c.delivery_id.in_(
    sa.select(deliveries.c.id).where(deliveries.c.channel == "websub")
)


def upgrade() -> None:
    bind = op.get_bind()
    found = bind.execute(
        sa.select(attempts.c.error_class)
        .where(_WEBSUB, attempts.c.error_class.like("E\\_%", escape="\\"))
        .distinct()
    ).scalars()
    for old in list(found):
        suffix = old.removeprefix(_STATUS_PREFIX)
        if old.startswith(_STATUS_PREFIX) and suffix.isascii() and suffix.isdigit():
            status = int(suffix)
            values = {
                "error_class": "redirect" if 300 <= status < 400 else "http",
                "status_code": sa.func.coalesce(attempts.c.status_code, status),
            }
        elif old in _RENAMED:
            values = {"error_class": _RENAMED[old]}
        else:
            continue
        op.execute(attempts.update().where(_WEBSUB, attempts.c.error_class == old).values(values))


def downgrade() -> None:
    for new, old in {
        "timeout": "E_TIMEOUT",
        "connect": "E_TRANSPORT",
        "invalid-url": "E_INVALID_URL",
        "no-hub": "E_NO_HUB",
    }.items():
        op.execute(
            attempts.update().where(_WEBSUB, attempts.c.error_class == new).values(error_class=old)
        )
    bind = op.get_bind()
    found = bind.execute(
        sa.select(attempts.c.status_code)
        .where(_WEBSUB, attempts.c.error_class.in_(("http", "redirect")))
        .distinct()
    ).scalars()
    for status in list(found):
        op.execute(
            attempts.update()
            .where(
                _WEBSUB,
                attempts.c.error_class.in_(("http", "redirect")),
                attempts.c.status_code == status,
            )
            .values(error_class=f"{_STATUS_PREFIX}{status or 0}")
        )
