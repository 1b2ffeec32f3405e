"""Several SMTP connections per worker process to one server, each used by one thread at
a time.

Python spends most of a send waiting for the server's reply, with the GIL released, and a
relay takes many connections at once: with a few connections in flight, the server works
on several messages while this process composes the next ones. The blocking transport
runs in threads (it pipelines MAIL, RCPT and DATA in one write, which aiosmtplib cannot);
a connection goes back to the pool only when its thread is done with it, even if the
coroutine awaiting it was cancelled.

Messages reach the threads through one queue, and replies come back to the event loop in
bunches: the loop is woken once for all the replies that arrived since it last looked,
not once per message. (An executor per message cost a tenth of a newsletter's CPU.) A
message whose coroutine was cancelled before a thread took it is never sent.

A server that turns a connection away (421, or no connection at all) makes that
connection rest, longer each time it happens again, while the others go on sending for as
long as the server takes them. The message that met the refusal, and every message while
all connections rest, raises :class:`ServerBusy` with how long to wait: the caller defers
it, which is no failure.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from syndicator.mail.transport import Failure, MailTransport, SendError, SmtpReply

__all__ = ["REST_FIRST", "REST_LONGEST", "ServerBusy", "TransportPool", "server_refused"]

# At most this many queued messages go to a thread at once, their replies back together.
MESSAGES_PER_TAKE = 16
# How long a refused connection rests: doubled at each refusal in a row, up to the longest.
REST_FIRST = 5.0
REST_LONGEST = 300.0


class ServerBusy(Exception):
    """The server refused (``reply``); nothing of the message was accepted. Try again in
    ``retry_in`` seconds."""

    def __init__(self, reply: SmtpReply, retry_in: float) -> None:
        super().__init__(f"{reply} (again in {retry_in:.1f} s)")
        self.reply = reply
        self.retry_in = retry_in


def server_refused(error: SendError) -> bool:
    """A refusal of the whole server rather than of one message or mailbox: 421, or the
    connection failing before the message was handed over (a 450 or 451 is about its
    recipient; a drop after the handover is ``UNCERTAIN``)."""
    return error.failure is Failure.TEMPORARY and error.reply.code in (0, 421)


@dataclass(eq=False)
class _Connection:
    transport: MailTransport
    refusals: int = 0  # in a row
    rests_until: float = 0.0  # monotonic


@dataclass(eq=False)
class _Message:
    loop: asyncio.AbstractEventLoop
    reply: asyncio.Future[SmtpReply]
    sender: str
    recipient: str
    data: bytes


class TransportPool:
    def __init__(
        self,
        size: int,
        open_one: Callable[[], MailTransport],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if size < 1:
            raise ValueError("a transport pool needs at least one connection")
        self.size = size
        self._clock = clock
        self._all = [_Connection(open_one()) for _ in range(size)]  # none connects yet
        self._idle = list(self._all)
        self._changed = threading.Condition()
        self._last_refusal = SmtpReply(0, "the server refused")
        self.endpoint = self._all[0].transport.endpoint
        # Messages for the threads, and the threads (one per connection, started on the
        # first message).
        self._queue: deque[_Message] = deque()
        self._queued = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._closing = False
        # Replies not yet handed to their loop, per loop: a loop is woken when its list
        # goes from empty to not empty, and takes the whole list.
        self._answered: dict[asyncio.AbstractEventLoop, list[tuple[_Message, object]]] = {}
        self._answered_lock = threading.Lock()

    async def send(self, sender: str, recipient: str, message: bytes) -> SmtpReply:
        """Raises :class:`ServerBusy`, or the transport's :class:`SendError`."""
        loop = asyncio.get_running_loop()
        item = _Message(loop, loop.create_future(), sender, recipient, message)
        with self._queued:
            if self._closing:
                raise RuntimeError("the transport pool is closed")
            if not self._threads:
                self._start_threads()
            self._queue.append(item)
            self._queued.notify()
        return await item.reply

    def _start_threads(self) -> None:
        for n in range(self.size):
            thread = threading.Thread(target=self._serve, name=f"smtp-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self) -> None:
        """One thread's life: take its share of the queued messages, send them one after
        the other, then hand their replies back together."""
        while True:
            with self._queued:
                while not self._queue and not self._closing:
                    self._queued.wait()
                if not self._queue:
                    return
                # A fair share, so that the other threads' connections are not left idle.
                share = max(1, min(MESSAGES_PER_TAKE, len(self._queue) // self.size))
                items = [self._queue.popleft() for _ in range(share)]
            answers: list[tuple[_Message, object]] = []
            for item in items:
                if item.reply.cancelled():  # its row is recorded as cancelled: not sent
                    continue
                result: object
                try:
                    result = self._send(item.sender, item.recipient, item.data)
                except Exception as error:
                    result = error
                answers.append((item, result))
            self._answer(answers)

    def _answer(self, answers: list[tuple[_Message, object]]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Message, object]]] = {}
        for item, result in answers:
            by_loop.setdefault(item.loop, []).append((item, result))
        for loop, some in by_loop.items():
            with self._answered_lock:
                waiting = self._answered.setdefault(loop, [])
                told = bool(waiting)  # the loop is told already and has not looked yet
                waiting.extend(some)
            if told:
                continue
            try:
                loop.call_soon_threadsafe(self._deliver_answers, loop)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                with self._answered_lock:
                    self._answered.pop(loop, None)

    def _deliver_answers(self, loop: asyncio.AbstractEventLoop) -> None:
        """On ``loop``: every reply that arrived for it since it last looked."""
        with self._answered_lock:
            answers = self._answered.pop(loop, [])
        for item, result in answers:
            if item.reply.done():  # cancelled meanwhile
                continue
            if isinstance(result, BaseException):
                item.reply.set_exception(result)
            else:
                assert isinstance(result, SmtpReply)
                item.reply.set_result(result)

    def resting(self) -> int:
        """How many connections rest after a refusal now."""
        now = self._clock()
        return sum(1 for c in self._all if c.rests_until > now)

    def _send(self, sender: str, recipient: str, message: bytes) -> SmtpReply:
        connection = self._take()
        try:
            reply = connection.transport.send(sender, recipient, message)
        except SendError as error:
            if not server_refused(error):
                raise
            raise ServerBusy(error.reply, self._rest(connection, error.reply)) from error
        else:
            connection.refusals = 0
            return reply
        finally:
            with self._changed:
                self._idle.append(connection)
                # Every waiter looks again: one may take it, the others may now find
                # every connection resting, and defer at once rather than wait.
                self._changed.notify_all()

    def _take(self) -> _Connection:
        """An idle connection that is not resting, preferring one the server accepted;
        waits while one is busy. Raises :class:`ServerBusy` when every connection rests."""
        with self._changed:
            while True:
                now = self._clock()
                usable = [c for c in self._idle if c.rests_until <= now]
                if usable:
                    # One the server took last time first: a connection back from its
                    # rest is tried only when those are busy, so that a server taking
                    # fewer sessions than we keep turns away few messages.
                    connection = min(usable, key=lambda c: c.refusals)
                    self._idle.remove(connection)
                    return connection
                wake = min((c.rests_until for c in self._idle), default=None)
                if len(self._idle) == len(self._all):  # none busy: all of them rest
                    assert wake is not None
                    raise ServerBusy(self._last_refusal, wake - now)
                # Until a busy one comes back, or a resting one's rest is over.
                self._changed.wait(None if wake is None else wake - now)

    def _rest(self, connection: _Connection, reply: SmtpReply) -> float:
        connection.refusals += 1
        pause = min(REST_FIRST * 2 ** (connection.refusals - 1), REST_LONGEST)
        pause *= random.uniform(0.8, 1.2)  # refused connections do not all come back at once
        with self._changed:
            connection.rests_until = self._clock() + pause
            self._last_refusal = reply
        return pause

    def close(self) -> None:
        """Send what is queued, stop the threads, then close the connections."""
        with self._queued:
            self._closing = True
            self._queued.notify_all()
        for thread in self._threads:
            thread.join()
        for connection in self._all:
            connection.transport.close()
