"""The soak's far ends: an SMTP server (aiosmtpd) and the partners (aiohttp), each in a
process of its own, so neither competes for the soak driver's interpreter lock.

They count what arrives and keep nothing else: at 20,000 messages a minute for ten
minutes, keeping every message (as the tests' servers do) would be the leak. The SMTP
server parses every 100th message with the ``email`` package and checks its recipient;
the partners verify every request's Standard Webhooks signature with the reference
library, answer 401 to a bad one, and count each ``webhook-id`` once, as a partner that
deduplicates would.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.utils import getaddresses
from multiprocessing.sharedctypes import SynchronizedArray
from typing import Any

__all__ = ["Counts", "Receivers", "running_receivers"]

# Slots of the shared counters.
MAIL, MAIL_CHECKED, MAIL_BAD, HOOKS, HOOKS_UNIQUE, HOOKS_BAD = range(6)
MAIL_CHECK_EVERY = 100


@dataclass(frozen=True)
class Counts:
    mail: int  # messages accepted
    mail_checked: int  # parsed with the email package
    mail_bad: int  # of those, unparseable or sent to someone else
    hooks: int  # requests with a valid signature
    hooks_unique: int  # distinct webhook-ids among them
    hooks_bad: int  # requests refused: unknown partner or bad signature


def _bump(counters: SynchronizedArray[int], slot: int, by: int = 1) -> None:
    with counters.get_lock():
        counters[slot] += by


class _MailHandler:
    def __init__(self, counters: SynchronizedArray[int]) -> None:
        self.counters = counters
        self.seen = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.seen += 1
        if self.seen % MAIL_CHECK_EVERY == 0:
            message = message_from_bytes(bytes(envelope.original_content), policy=policy.default)
            to = [address.lower() for _, address in getaddresses([str(message.get("To", ""))])]
            good = envelope.rcpt_tos[0].lower() in to
            _bump(self.counters, MAIL_CHECKED)
            if not good:
                _bump(self.counters, MAIL_BAD)
        _bump(self.counters, MAIL)
        return "250 2.0.0 Ok: queued"


def _serve_mail(port: int, counters: SynchronizedArray[int]) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(_MailHandler(counters), hostname="127.0.0.1", port=port)
    controller.start()
    threading.Event().wait()  # serves on the controller's thread until terminated


def _serve_partners(port: int, secrets: dict[str, str], counters: SynchronizedArray[int]) -> None:
    from aiohttp import web
    from standardwebhooks import Webhook, WebhookVerificationError

    verifiers = {partner: Webhook(secret) for partner, secret in secrets.items()}
    seen: set[str] = set()

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        verifier = verifiers.get(request.match_info["partner"])
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            if verifier is None:
                raise WebhookVerificationError("unknown partner")
            verifier.verify(body, headers)
        except WebhookVerificationError:
            _bump(counters, HOOKS_BAD)
            return web.Response(status=401, text="bad signature")
        _bump(counters, HOOKS)
        if headers["webhook-id"] not in seen:
            seen.add(headers["webhook-id"])
            _bump(counters, HOOKS_UNIQUE)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("POST", "/p/{partner}", handle)
    web.run_app(app, host="127.0.0.1", port=port, print=None, backlog=4096)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Receivers:
    """The SMTP server now; the partners once their secrets are known (they are shown once,
    when each partner is registered, so the system must be up first)."""

    def __init__(self) -> None:
        self._context = multiprocessing.get_context("spawn")
        self.counters: SynchronizedArray[int] = self._context.Array("q", 6)
        self.smtp_port, self.http_port = free_port(), free_port()
        self._processes: list[multiprocessing.process.BaseProcess] = []

    @property
    def smtp_url(self) -> str:
        return f"smtp://127.0.0.1:{self.smtp_port}"

    def partner_url(self, partner: str) -> str:
        return f"http://127.0.0.1:{self.http_port}/p/{partner}"

    def start_mail(self) -> None:
        self._start(_serve_mail, self.smtp_port, self.counters)

    def start_partners(self, secrets: dict[str, str]) -> None:
        self._start(_serve_partners, self.http_port, secrets, self.counters)

    def _start(self, target: Any, port: int, *args: Any) -> None:
        process = self._context.Process(target=target, args=(port, *args), daemon=True)
        process.start()
        self._processes.append(process)
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                if not process.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError(f"no soak receiver on port {port}") from None
                time.sleep(0.1)

    def counts(self) -> Counts:
        with self.counters.get_lock():
            return Counts(*self.counters[:])

    def stop(self) -> None:
        for process in self._processes:
            process.terminate()
        for process in self._processes:
            process.join(timeout=10)


@contextlib.contextmanager
def running_receivers() -> Iterator[Receivers]:
    receivers = Receivers()
    try:
        receivers.start_mail()
        yield receivers
    finally:
        receivers.stop()
