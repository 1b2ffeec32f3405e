"""The worker's consumer: Celery's own, kept alive through a broker restart.

When Redis goes away while tasks are running, Celery (5.7, kombu 5.7) first collects the
broken connection, which closes its transport, then closes the connection again. The
second close tries to hand the unacknowledged messages back through the transport that is
gone and raises ``AttributeError``, which Celery treats as unrecoverable: the worker
exits, and `syndicator run` stops everything with it. Nothing is lost by skipping that
hand-back (Redis was away; the messages stay in its unacked set, and the restore scan
returns them after the visibility timeout), so the consumer carries on as Celery does
after a clean close: it cancels the tasks that connection held and reconnects.
"""

from __future__ import annotations

import logging

from celery.worker.consumer import Consumer as CeleryConsumer
from celery.worker.state import active_requests

from syndicator.logs import kv

__all__ = ["Consumer"]

log = logging.getLogger("syndicator.workers")


class Consumer(CeleryConsumer):
    def on_connection_error_after_connected(self, exc: Exception) -> None:
        try:
            super().on_connection_error_after_connected(exc)
        except AttributeError as error:
            self.connection = None
            log.warning(
                kv(
                    msg="broker connection closed uncleanly; reconnecting",
                    error=f"{type(error).__name__}: {error}",
                )
            )
            self._cancel_unacknowledged()

    def _cancel_unacknowledged(self) -> None:
        """What Celery does after closing the connection: the acks-late tasks it held are
        ended, and Redis hands their messages out again."""
        if not self.app.conf.worker_cancel_long_running_tasks_on_connection_loss:
            return
        for request in tuple(active_requests):
            if request.task.acks_late and not request.acknowledged:
                request.cancel(self.pool)
