"""Reading events from files: one JSON object, a JSON array, or JSON Lines; folders recurse."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from syndicator.events import CmsEvent

__all__ = ["EventFileError", "expand_paths", "read_events"]


@dataclass(frozen=True)
class EventFileError(Exception):
    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.suffix in {".json", ".jsonl"}))
        else:
            out.append(path)
    return out


def _documents(path: Path) -> Iterator[tuple[str, object]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EventFileError(str(path), str(exc)) from exc
    try:
        if path.suffix == ".jsonl":
            for number, line in enumerate(text.splitlines(), 1):
                if line.strip():
                    yield f"{path}:{number}", json.loads(line)
            return
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EventFileError(str(path), f"malformed JSON: {exc.msg} at line {exc.lineno}") from exc
    if isinstance(document, list):
        for index, item in enumerate(document):
            yield f"{path}[{index}]", item
    else:
        yield str(path), document


def read_events(paths: Iterable[Path]) -> list[CmsEvent]:
    """Validate everything before anything is stored: a bad file imports nothing."""
    events = []
    for path in expand_paths(paths):
        for where, document in _documents(path):
            try:
                events.append(CmsEvent.model_validate(document))
            except ValidationError as exc:
                first = exc.errors(include_url=False)[0]
                field = ".".join(str(p) for p in first["loc"])
                raise EventFileError(where, f"{field}: {first['msg']}") from exc
    return events
