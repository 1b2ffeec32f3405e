"""The Celery layer: the only code that knows Celery exists."""
