"""Several SMTP connections per worker process, each used by one thread at a time.

Python spends most of a send waiting for the server's reply, with the GIL released; a few
connections in flight let one process compose the next message meanwhile. The blocking
transport runs in threads, and a connection goes back to the pool only when its thread
is done with it, even if the coroutine awaiting it was cancelled.
"""

from __future__ import annotations

import asyncio
import queue
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from syndicator.mail.transport import MailTransport, SmtpReply

__all__ = ["TransportPool"]


class TransportPool:
    def __init__(self, size: int, open_one: Callable[[], MailTransport]) -> None:
        self.size = size
        self._idle: queue.SimpleQueue[MailTransport] = queue.SimpleQueue()
        self._all = [open_one() for _ in range(size)]  # nothing connects before a send
        for transport in self._all:
            self._idle.put(transport)
        self._threads = ThreadPoolExecutor(size, thread_name_prefix="smtp")
        self.endpoint = self._all[0].endpoint

    async def send(self, sender: str, recipient: str, message: bytes) -> SmtpReply:
        """Raises the transport's SendError."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, self._send, sender, recipient, message)

    def _send(self, sender: str, recipient: str, message: bytes) -> SmtpReply:
        transport = self._idle.get()
        try:
            return transport.send(sender, recipient, message)
        finally:
            self._idle.put(transport)

    def close(self) -> None:
        self._threads.shutdown(wait=True)
        for transport in self._all:
            transport.close()
