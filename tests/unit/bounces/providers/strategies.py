"""Payload mutations: a documented sample with one value replaced, removed or retyped."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _paths(inner, (*prefix, index))
    return found


def _apply(sample: Any, path: tuple[Any, ...], action: str, replacement: Any) -> Any:
    document = copy.deepcopy(sample)
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    if action == "remove":
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    return document


def mutations(sample: Any) -> st.SearchStrategy[Any]:
    """``sample`` with one value somewhere in it removed or replaced by any JSON value."""
    return st.builds(
        _apply,
        st.just(sample),
        st.sampled_from(_paths(sample)),
        st.sampled_from(["remove", "replace"]),
        json_values,
    )
