"""Reading events from files: one JSON object, a JSON array, or JSON Lines; folders recurse."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from syndicator.events.json_input import JsonInputError, parse_json
from syndicator.events.schema import MAX_JSON_DEPTH, CmsEvent

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


def _parse(where: str, text: str, max_depth: int = MAX_JSON_DEPTH) -> object:
    try:
        return parse_json(text, max_depth)
    except JsonInputError as exc:
        raise EventFileError(where, f"malformed JSON: {exc}") from exc


def _documents(path: Path) -> Iterator[tuple[str, object]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EventFileError(str(path), str(exc)) from exc
    if path.suffix == ".jsonl":
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                yield f"{path}:{number}", _parse(f"{path}:{number}", line)
        return
    # A file holds an array of events: one level more than a single event.
    document = _parse(str(path), text, MAX_JSON_DEPTH + 1)
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
