"""Which spans start a trace, and how the outbox carries one across processes."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from syndicator.tracing import current_traceparent, resumed, sampler


@pytest.fixture
def tracer() -> tuple[trace.Tracer, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=sampler())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test"), exporter


@pytest.mark.parametrize(
    ("name", "traced"),
    [
        ("POST /hooks/cms", True),
        ("run/workers.tasks.fanout", True),
        ("apply_async/workers.tasks.deliver", True),
        ("run/workers.tasks.heartbeat", False),
        ("apply_async/workers.tasks.sweep", False),
        ("SELECT syndicator.db", False),  # the relay's poll, every second
        ("connect", False),
    ],
)
def test_only_requests_and_tasks_people_care_about_start_a_trace(tracer, name, traced) -> None:
    tracer_, exporter = tracer
    with tracer_.start_as_current_span(name):
        pass
    assert bool(exporter.get_finished_spans()) is traced


def test_statements_inside_a_trace_are_kept(tracer) -> None:
    tracer_, exporter = tracer
    with (
        tracer_.start_as_current_span("POST /hooks/cms"),
        tracer_.start_as_current_span("INSERT syndicator.db"),
    ):
        pass
    assert [s.name for s in exporter.get_finished_spans()] == [
        "INSERT syndicator.db",
        "POST /hooks/cms",
    ]


def test_the_outbox_carries_the_trace_to_another_process(tracer) -> None:
    tracer_, exporter = tracer
    assert current_traceparent() is None  # no trace, nothing stored
    with tracer_.start_as_current_span("POST /hooks/cms") as hook:
        stored = current_traceparent()
    assert stored is not None and f"{hook.get_span_context().trace_id:032x}" in stored
    # Later, in the relay: the send runs in the hook's trace, as the hook's child.
    with resumed(stored), tracer_.start_as_current_span("apply_async/workers.tasks.fanout"):
        pass
    send = exporter.get_finished_spans()[-1]
    assert send.context.trace_id == hook.get_span_context().trace_id
    assert send.parent is not None and send.parent.span_id == hook.get_span_context().span_id
