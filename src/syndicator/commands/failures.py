"""What a command prints when it fails: one line an operator can act on."""

from __future__ import annotations

from syndicator.config import SettingError, Settings, redact_url

__all__ = ["describe_error"]


def describe_error(exc: BaseException, settings: Settings | None = None) -> str:
    """One line an operator can act on, naming the fix where there is one. ``settings``:
    the ones the command read, if it got that far."""
    import redis
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    from syndicator.runtime.preflight import first_line

    if isinstance(exc, SettingError):  # names the variable and the form already
        return str(exc)
    text = first_line(exc)
    if isinstance(exc, DBAPIError) and any(
        marker in text for marker in ("no such table", "does not exist", "UndefinedTable")
    ):
        return f"the database schema is missing or old ({text}); run: syndicator migrate"
    if isinstance(exc, SQLAlchemyError):
        where = f" at {redact_url(settings.database_url)}" if settings else ""
        return f"database error{where}: {text} (check SYNDICATOR_DATABASE_URL)"
    if isinstance(exc, redis.RedisError):
        variable = (
            "SYNDICATOR_REDIS_SENTINELS"
            if settings and settings.redis_sentinels
            else "SYNDICATOR_REDIS_URL"
        )
        return f"cannot reach Redis: {text} (check {variable})"
    return f"{type(exc).__name__}: {text}"
