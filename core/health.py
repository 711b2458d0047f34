"""Liveness and readiness probes, public and never throttled.

`/healthz` says the process serves requests and touches nothing else, so a database outage
never gets healthy workers restarted. `/readyz` says whether this instance can do real work:
the database and the cache answer, each within a short timeout. Token verification keys
(JWKS) are deliberately not checked: a slow identity provider must not take every instance
out of the load balancer.
"""

import logging
import uuid

from django.core.cache import cache
from django.db import connection
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.postgresql.base import deadline_override

logger = logging.getLogger(__name__)

CHECK_NAMES = ("database", "cache")
CHECK_RESULTS = ["ok", "failed"]

HealthSerializer = inline_serializer("Health", {"status": serializers.CharField()})
ReadinessSerializer = inline_serializer(
    "Readiness",
    {
        "status": serializers.ChoiceField(choices=["ok", "unavailable"]),
        "checks": inline_serializer(
            "ReadinessChecks",
            {name: serializers.ChoiceField(choices=CHECK_RESULTS) for name in CHECK_NAMES},
        ),
        "detail": serializers.CharField(required=False, help_text="What failed, when not ready."),
    },
)


# A server that accepted the query but does not answer it within this is not ready.
DATABASE_ANSWER_SECONDS = 2


def database_answers() -> bool:
    """`SELECT 1` on the request's connection: its connect timeout bounds an unreachable
    server, and `DATABASE_ANSWER_SECONDS` (core.postgresql's watchdog) one that hangs."""
    token = deadline_override.set(DATABASE_ANSWER_SECONDS)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    finally:
        deadline_override.reset(token)


def cache_answers() -> bool:
    """A value written to the cache reads back (Redis errors are swallowed as misses)."""
    key = f"readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=5)
    answered = cache.get(key) == "1"
    cache.delete(key)
    return answered


CHECKS = {"database": database_answers, "cache": cache_answers}


def run_check(name: str) -> str:
    try:
        passed = CHECKS[name]()
    except Exception:
        logger.exception("Readiness check %s failed", name)
        passed = False
    return "ok" if passed else "failed"


class ProbeView(APIView):
    """A probe: no authentication, no throttling, JSON out."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []


class HealthView(ProbeView):
    """Liveness: 200 whenever the process can answer; touches no database or cache."""

    @extend_schema(
        operation_id="getHealth",
        summary="Liveness probe",
        tags=["health"],
        responses={200: OpenApiResponse(HealthSerializer, description="The process is alive.")},
    )
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


class ReadinessView(ProbeView):
    """Readiness: 200 when the database and the cache answer, else 503 naming what failed."""

    @extend_schema(
        operation_id="getReadiness",
        summary="Readiness probe",
        tags=["health"],
        responses={
            200: OpenApiResponse(ReadinessSerializer, description="Ready to serve."),
            503: OpenApiResponse(
                ReadinessSerializer,
                description="A dependency did not answer; `checks` says which.",
                examples=[
                    OpenApiExample(
                        "cache down",
                        value={
                            "status": "unavailable",
                            "checks": {"database": "ok", "cache": "failed"},
                            "detail": "Not ready: cache failed.",
                        },
                        status_codes=["503"],
                    )
                ],
            ),
        },
    )
    def get(self, request: Request) -> Response:
        checks = {name: run_check(name) for name in CHECK_NAMES}
        failed = [name for name, result in checks.items() if result != "ok"]
        if not failed:
            return Response({"status": "ok", "checks": checks})
        body = {
            "status": "unavailable",
            "checks": checks,
            "detail": f"Not ready: {', '.join(failed)} failed.",
        }
        return Response(body, status=503)
