"""Persistence: SQLAlchemy models, migrations, the outbox and the delivery ledger."""
