"""The operators' command groups load when used: `syndicator run`, `web` and `migrate`
(and every child `syndicator run` starts) no longer import them, and help still lists
every command in its place."""

from __future__ import annotations

import subprocess
import sys

import typer.main
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from syndicator.cli import COMMAND_GROUPS, app
from syndicator.commands.lazy import LazyCommands

_NAMES = st.lists(st.from_regex(r"[a-z]{1,8}", fullmatch=True), unique=True, max_size=8)


@given(built=_NAMES, lazy=_NAMES)
def test_the_commands_keep_their_order_and_none_is_built_before_it_is_asked_for(
    built: list[str], lazy: list[str]
) -> None:
    commands = LazyCommands({n: f"built {n}" for n in built}, {n: "no.such.module" for n in lazy})
    assert list(commands) == [*built, *(n for n in lazy if n not in built)]
    assert len(commands) == len(set(built) | set(lazy))
    assert all(commands[n] == f"built {n}" for n in built)  # nothing lazy was imported
    assert all(n in commands for n in lazy) and "-" not in commands


def test_a_group_is_built_from_its_module_when_asked_for() -> None:
    commands = LazyCommands({}, {"queues": COMMAND_GROUPS["queues"]})
    group = commands["queues"]
    assert group.name == "queues" and "purge" in group.commands
    assert commands["queues"] is group  # built once


def _loaded_after(code: str) -> set[str]:
    probe = f"{code}; import sys; print(' '.join(sys.modules))"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(run.stdout.split())


def test_starting_the_cli_imports_no_command_group() -> None:
    loaded = _loaded_after("import syndicator.cli")
    assert not loaded & set(COMMAND_GROUPS.values())
    assert "syndicator.channels.registry" not in loaded  # nor the channels, for --help


def test_help_lists_every_group_and_a_group_runs_its_commands() -> None:
    root = typer.main.get_command(app)
    names = list(root.commands)  # type: ignore[attr-defined]  # a group
    assert names[-len(COMMAND_GROUPS) :] == list(COMMAND_GROUPS)
    shown = CliRunner().invoke(app, ["--help"], terminal_width=200)
    assert all(name in shown.output for name in COMMAND_GROUPS)
    purge = CliRunner().invoke(app, ["queues", "purge", "--help"], terminal_width=200)
    assert purge.exit_code == 0 and "QUEUE" in purge.output
