"""Each task name is where the task is defined, so a name sent by the relay (which never
imports the tasks) always finds the task it means."""

from __future__ import annotations

import importlib

import pytest

import workers.task_names as task_names
from workers.app import app


@pytest.mark.parametrize("constant", task_names.__all__)
def test_a_task_name_is_its_module_and_function(constant: str) -> None:
    name = getattr(task_names, constant)
    module, _, function = name.rpartition(".")
    task = getattr(importlib.import_module(module), function)
    assert task.name == name == app.tasks[name].name


def test_no_two_tasks_share_a_name() -> None:
    values = [getattr(task_names, constant) for constant in task_names.__all__]
    assert len(set(values)) == len(values)
