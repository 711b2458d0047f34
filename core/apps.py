from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The layer every app stands on: JSON errors, request id and access log, body limit,
    JSON parsing and rendering, health probes, the cache's circuit breaker, the PostgreSQL
    backend, OpenAPI hooks, and small admin and command-line helpers. It imports no app."""

    name = "core"
