"""The real feed clients residents use, each in a directory of its own, refreshed on demand:
newsboat (read back from its own cache database), rss2email (mail into a Maildir), reader."""

from __future__ import annotations

import mailbox
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from reader import Reader, make_reader

__all__ = ["NEWSBOAT", "Newsboat", "Rss2Email", "make_reader_client"]

NEWSBOAT = shutil.which("newsboat")
# rss2email has no __main__; this is its console script.
_R2E = "import rss2email.main; rss2email.main.run()"


@dataclass(frozen=True)
class NewsboatItem:
    feed: str
    guid: str
    title: str
    content: str
    enclosure: str
    deleted: bool


class Newsboat:
    """newsboat with its own config, url list and cache; ``refresh`` is ``-x reload``."""

    def __init__(self, directory: Path, urls: list[str]) -> None:
        assert NEWSBOAT is not None
        directory.mkdir(parents=True, exist_ok=True)
        self.config = directory / "config"
        self.config.write_text("")
        self.urls = directory / "urls"
        self.urls.write_text("".join(f"{u}\n" for u in urls))
        self.cache = directory / "cache.db"

    def refresh(self) -> None:
        command = [NEWSBOAT, "-C", self.config, "-u", self.urls, "-c", self.cache, "-x", "reload"]
        done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr[-3000:]

    def items(self) -> list[NewsboatItem]:
        """What newsboat shows: the items of its cache that it has not deleted."""
        with sqlite3.connect(self.cache) as db:
            rows = db.execute(
                "SELECT feedurl, guid, title, content, enclosure_url, deleted FROM rss_item"
            ).fetchall()
        return [NewsboatItem(f, g, t, c, e or "", bool(d)) for f, g, t, c, e, d in rows]


class Rss2Email:
    """rss2email subscribed to one feed, delivering into a Maildir."""

    def __init__(self, directory: Path, url: str, *, reply_changes: bool) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.maildir = directory / "Maildir"
        self.maildir.mkdir()
        self.config = directory / "rss2email.cfg"
        self.data = directory / "rss2email.json"
        self.config.write_text(
            "[DEFAULT]\n"
            "to = resident@example.kr\n"
            "email-protocol = maildir\n"
            f"maildir-path = {self.maildir}\n"
            "maildir-mailbox = INBOX\n"
            f"reply-changes = {reply_changes}\n"
        )
        self._r2e("add", "press", url)
        self.seen: set[str] = set()

    def _r2e(self, *args: str) -> None:
        command = [sys.executable, "-c", _R2E, "-c", self.config, "-d", self.data, *args]
        done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr[-3000:]

    def refresh(self) -> list[EmailMessage]:
        """One ``r2e run``; the mails it delivered, oldest first."""
        self._r2e("run")
        box = mailbox.Maildir(self.maildir / "INBOX", create=False)
        new = []
        for key in sorted(box.keys()):
            if key not in self.seen:
                self.seen.add(key)
                message = message_from_bytes(box.get_bytes(key), policy=policy.default)
                assert isinstance(message, EmailMessage)
                new.append(message)
        return sorted(new, key=lambda m: str(m["Date"]))


def make_reader_client(directory: Path, urls: list[str]) -> Reader:
    directory.mkdir(parents=True, exist_ok=True)
    client = make_reader(str(directory / "reader.sqlite"))
    for url in urls:
        client.add_feed(url)
    return client
