"""OpenTelemetry: one trace follows an event from the CMS hook to every delivery attempt.

Off unless ``SYNDICATOR_OTEL_EXPORTER`` is ``otlp`` (OTLP over HTTP; the endpoint comes from
the standard ``OTEL_EXPORTER_OTLP_ENDPOINT``) or ``console`` (one JSON span per line on
stdout). Spans come from the ``opentelemetry-instrumentation-*`` packages: FastAPI for the
hook, SQLAlchemy for every statement, Celery for every task sent and run, and httpx and
aiohttp for every partner or hub request. Celery carries the trace context in task headers.

One hop has no instrumentation to carry it: the outbox. The hook commits the event and
returns; the relay, in another process and maybe seconds later, sends the fan-out task.
So intake stores the hook's W3C ``traceparent`` on the outbox row, and the relay makes it
the current context while it sends, so the fan-out task joins the hook's trace.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import context, propagate, trace

from syndicator.config import Settings
from syndicator.logs import redact_tokens

if TYPE_CHECKING:
    import httpx
    from fastapi import FastAPI
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = [
    "aiohttp_trace_configs",
    "configure_tracing",
    "current_traceparent",
    "instrument_app",
    "instrument_celery",
    "instrument_http_client",
    "resumed",
    "sampler",
]

_enabled = False
# Probes, feed polling and periodic chores would each start a trace every few seconds: a
# trace starts only at a request or a task a person cares about (children follow it).
_UNTRACED_URLS = "healthz,readyz,metrics,/feeds/,/static/"
_ROUTINE_TASKS = ("heartbeat", "sweep")


def sampler() -> Any:
    from opentelemetry.sdk.trace.sampling import (
        ALWAYS_OFF,
        ALWAYS_ON,
        ParentBased,
        Sampler,
        SamplingResult,
    )

    class WorthATrace(Sampler):
        """For spans without a parent: HTTP requests and Celery tasks, not their chores."""

        def should_sample(
            self, parent_context: Any, trace_id: int, name: str, *args: Any, **kwargs: Any
        ) -> SamplingResult:
            task = name.partition("/")[2]
            worth = name.startswith(("run/", "apply_async/")) and not task.endswith(
                tuple(f".{t}" for t in _ROUTINE_TASKS)
            )
            worth = worth or name.split(" ")[0] in {"GET", "POST", "PUT", "PATCH", "DELETE"}
            decision = ALWAYS_ON if worth else ALWAYS_OFF
            return decision.should_sample(parent_context, trace_id, name, *args, **kwargs)

        def get_description(self) -> str:
            return "WorthATrace"

    return ParentBased(root=WorthATrace())


def _exporter(kind: str) -> SpanExporter:
    if kind == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if kind == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        # One line per span, so it sits among the log lines and a reader can pick it out.
        return ConsoleSpanExporter(
            out=sys.stdout,
            formatter=lambda span: json.dumps({"otel_span": json.loads(span.to_json())}) + "\n",
        )
    raise ValueError(f"SYNDICATOR_OTEL_EXPORTER must be otlp or console, not {kind!r}")


def configure_tracing(
    settings: Settings, service: str, exporter: SpanExporter | None = None
) -> bool:
    """Install this process's tracer provider; returns whether tracing is on.
    ``exporter`` replaces the configured one (tests)."""
    global _enabled
    if exporter is None and settings.otel_exporter is None:
        return False
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = TracerProvider(
        resource=Resource.create({"service.name": service}), sampler=sampler()
    )
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        assert settings.otel_exporter is not None
        provider.add_span_processor(BatchSpanProcessor(_exporter(settings.otel_exporter)))
    trace.set_tracer_provider(provider)
    # Every statement a span, for each engine made from now on (store.db calls
    # sqlalchemy.create_engine through the module, so it gets the patched one). The
    # instrumentor declares SQLAlchemy < 2.1; the event API it hooks is unchanged in 2.1,
    # and tests/integration/test_tracing.py checks the statements are traced.
    SQLAlchemyInstrumentor().instrument(tracer_provider=provider, skip_dep_check=True)
    _enabled = True
    return True


# A request span's URL attributes hold the path: a subscriber token must not reach the
# trace backend any more than a log (syndicator.logs.redact_tokens).
_URL_ATTRIBUTES = ("http.target", "http.url", "url.path", "url.full")


def _redact_span_urls(span: Any, scope: Any) -> None:
    if span is None or not span.is_recording():
        return
    attributes = getattr(span, "attributes", None) or {}
    for key in _URL_ATTRIBUTES:
        value = attributes.get(key)
        if isinstance(value, str):
            span.set_attribute(key, redact_tokens(value))
    query = attributes.get("url.query")
    if isinstance(query, str):
        span.set_attribute("url.query", redact_tokens("?" + query)[1:])


def instrument_app(app: FastAPI) -> None:
    if _enabled:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(
            app, excluded_urls=_UNTRACED_URLS, server_request_hook=_redact_span_urls
        )


def instrument_celery() -> None:
    """In each process that sends or runs tasks (beat, every prefork child)."""
    if _enabled:
        from opentelemetry.instrumentation.celery import CeleryInstrumentor

        CeleryInstrumentor().instrument()


def instrument_http_client(client: httpx.AsyncClient | httpx.Client) -> None:
    """Our async clients use the httpx-aiohttp transport, which the global httpx
    instrumentation does not wrap: wrap each client's own transport instead."""
    if _enabled:
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        HTTPXClientInstrumentor.instrument_client(client)


def aiohttp_trace_configs() -> list[Any]:
    """For aiohttp sessions (partner webhooks post through aiohttp directly): a span per
    request, with the trace context in its headers; none while tracing is off."""
    if not _enabled:
        return []
    from opentelemetry.instrumentation.aiohttp_client import create_trace_config

    return [create_trace_config()]


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span, when one is being recorded."""
    carrier: dict[str, Any] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


@contextmanager
def resumed(traceparent: str | None) -> Iterator[None]:
    """Run the block in the trace ``traceparent`` names (what the outbox stored)."""
    if not traceparent:
        yield
        return
    token = context.attach(propagate.extract({"traceparent": traceparent}))
    try:
        yield
    finally:
        context.detach(token)
