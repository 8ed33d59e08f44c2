"""Liveness and readiness endpoints.

``/healthz`` answers as long as the process can serve a request and touches nothing else.
``/readyz`` runs every check of :mod:`core.readiness` concurrently, each under a timeout, and answers
503 with a JSON body naming what failed. The site registers the checks of the shared services here
(database, cache, channel layer, ledger writer); apps register their own (plugins, circuit breakers).
"""

from __future__ import annotations

import uuid

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse

from billing import ledger
from core.errors import READ_METHODS, require_method
from core.readiness import register_readiness_check, run_readiness_checks


def _database_ping() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        # This runs on an executor thread that no request cycle cleans up: hand the connection back.
        connection.close()


async def check_database() -> None:
    # thread_sensitive=False: the check must not queue behind other sync work of the process.
    await sync_to_async(_database_ping, thread_sensitive=False)()


async def check_cache() -> None:
    key = f"readyz:{uuid.uuid4().hex}"
    await cache.aset(key, "1", timeout=5)
    if await cache.aget(key) != "1":
        raise RuntimeError("cache did not return the value just written")
    await cache.adelete(key)


async def check_channel_layer() -> None:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "readyz.ping"})
    message = await layer.receive(channel)
    if message.get("type") != "readyz.ping":
        raise RuntimeError("channel layer returned an unexpected message")


async def check_ledger_writer() -> dict:
    """This process's ledger writer: when it last completed a pass and what waits (detail only).

    It does not fail readiness: a gateway keeps serving through an outage of Redis or PostgreSQL
    (those have their own checks), its events waiting in the outbox or its buffer. The dedicated
    writer (``billing_flush_ledger --health-port``) fails its own ``/readyz`` instead.
    """
    if settings.BILLING_LEDGER_FLUSHER != "web":
        return {"writer": "billing_flush_ledger", "buffered": ledger.health()["buffered"]}
    return ledger.health()


register_readiness_check("database", check_database)
register_readiness_check("cache", check_cache)
register_readiness_check("channel_layer", check_channel_layer)
register_readiness_check("ledger_writer", check_ledger_writer)


async def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process is up and its event loop answers."""
    require_method(request.method, *READ_METHODS)
    return JsonResponse({"status": "ok"})


async def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: every dependency answers; 503 naming each failed one otherwise."""
    require_method(request.method, *READ_METHODS)
    results = await run_readiness_checks()
    ready = all(result["ok"] for result in results.values())
    failed = sorted(name for name, result in results.items() if not result["ok"])
    degraded = sorted(name for name, result in results.items() if result["ok"] and result.get("degraded"))
    # Degraded keeps the pod in the load balancer: the operator is told, callers still get answers.
    status = "unavailable" if not ready else "degraded" if degraded else "ok"
    body = {"status": status, "checks": results}
    if failed:
        body["failed"] = failed
    if degraded:
        body["degraded"] = degraded
    return JsonResponse(body, status=200 if ready else 503)
