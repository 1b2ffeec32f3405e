"""The migrations build exactly the schema the models describe, on both backends."""

from alembic import command

from syndicator.store.migrate import alembic_config, upgrade


def test_migrations_match_the_models_and_downgrade_cleanly(database_url: str):
    upgrade(database_url)
    config = alembic_config(database_url)
    command.check(config)  # raises if autogenerate would find a difference
    command.downgrade(config, "base")
    upgrade(database_url)
