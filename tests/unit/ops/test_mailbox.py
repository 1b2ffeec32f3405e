"""The console's reading of the embedded .eml outbox, checked against the email package."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from syndicator.ops.mailbox import MailNotFound, list_mail, read_mail

NAME = "20261128T120000-0123456789ab.eml"


def _write(directory: Path, name: str = NAME) -> None:
    message = EmailMessage()
    message["From"] = "대구광역시 <press@example.kr>"
    message["To"] = "resident@example.com"
    message["Subject"] = "새 보도자료 <b>"
    message.set_content("안녕하세요.\n본문입니다.")
    message.add_alternative("<p>안녕하세요.</p>", subtype="html")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(message.as_bytes())


def test_reads_headers_and_the_text_part(tmp_path: Path) -> None:
    _write(tmp_path)
    mail = read_mail(tmp_path, NAME)
    headers = dict(mail.headers)
    assert headers["Subject"] == "새 보도자료 <b>"
    assert headers["From"] == "대구광역시 <press@example.kr>"
    assert mail.text == "안녕하세요.\n본문입니다.\n"
    assert mail.has_html


def test_lists_newest_first_and_ignores_other_files(tmp_path: Path) -> None:
    _write(tmp_path, "20261128T120000-aaaaaaaaaaaa.eml")
    _write(tmp_path, "20261128T130000-bbbbbbbbbbbb.eml")
    (tmp_path / ".20261128T140000-cccccccccccc.eml.part").write_text("partial")
    names, total = list_mail(tmp_path, limit=1)
    assert names == ["20261128T130000-bbbbbbbbbbbb.eml"] and total == 2
    assert list_mail(tmp_path / "missing") == ([], 0)


@pytest.mark.parametrize("name", ["../secret.eml", "x.eml", NAME + "/..", "/etc/passwd"])
def test_only_names_the_outbox_writes_are_read(tmp_path: Path, name: str) -> None:
    _write(tmp_path)
    with pytest.raises(MailNotFound):
        read_mail(tmp_path, name)
