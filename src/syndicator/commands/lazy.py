"""Command groups imported when a command of theirs runs (or help lists them), not every
time `syndicator` starts: they import the database layer, the partner registry and more,
which `syndicator run`, `web` and `migrate` (and each of their children) would otherwise
load for nothing."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

import typer
import typer.main
from typer.core import TyperGroup

__all__ = ["LazyCommands", "lazy_group"]

Command = Any  # typer's (vendored click) Command; its types are not exported


class LazyCommands(MutableMapping[str, Command]):
    """A group's commands: the ones built already, then ``lazy`` (name -> the module whose
    ``app`` is the group), built on first access in the order given."""

    def __init__(self, built: Mapping[str, Command], lazy: Mapping[str, str]) -> None:
        self._built = dict(built)
        self._lazy = {name: module for name, module in lazy.items() if name not in built}
        self._order = [*self._built, *self._lazy]

    def __getitem__(self, name: str) -> Command:
        if name not in self._built:
            module = self._lazy.get(name)
            if module is None:
                raise KeyError(name)
            group = typer.main.get_group(importlib.import_module(module).app)
            group.name = name
            self._built[name] = group
        return self._built[name]

    def __setitem__(self, name: str, command: Command) -> None:
        if name not in self._order:
            self._order.append(name)
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        self._order.remove(name)
        self._built.pop(name, None)
        self._lazy.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._order))

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, name: object) -> bool:
        return name in self._order


def lazy_group(groups: Mapping[str, str]) -> type[TyperGroup]:
    """A root group class for ``typer.Typer(cls=...)`` that adds ``groups`` (command name ->
    module with a Typer ``app``) after its own commands, loading each when first used."""

    class LazyTyperGroup(TyperGroup):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.commands = LazyCommands(self.commands, groups)

    return LazyTyperGroup
