#!/bin/sh
# Run one role of the MCP Gateway image: web, worker, billing or migrate.
# Extra arguments after the role are passed on to the command.
set -eu

role="${1:-web}"
[ "$#" -gt 0 ] && shift

case "$role" in
  web)
    # The application's own logs replace uvicorn's access log; it trusts forwarded headers itself
    # (TRUSTED_PROXIES) and names no server. After SIGTERM, requests and streams in flight get 50 s
    # to finish (the pod's grace period is 60 s, 5 of them in preStop).
    # Its HTTP protocol bounds the size and arrival time of a request's head (mcp_site/http_protocol.py);
    # a WebSocket message is bounded at 64 KB (a job socket's messages are 4 KB at most).
    exec uvicorn --host 0.0.0.0 --port 8000 --workers "${WEB_WORKERS:-1}" --loop uvloop \
      --http mcp_site.http_protocol:GatewayHttpProtocol --ws websockets-sansio --ws-max-size 65536 \
      --no-access-log --no-proxy-headers --no-server-header --timeout-graceful-shutdown 50 "$@" \
      mcp_site.asgi:application
    ;;
  worker)
    # The periodic purge of expired files is queued by the first job too; this covers gateways
    # that only generate images by URL.
    python manage.py purge_expired_files --schedule
    # A short poll interval keeps a queued job's wait well under 50 ms (one indexed query per tick).
    exec python manage.py db_worker --interval "${WORKER_POLL_SECONDS:-0.1}" --no-reload "$@"
    ;;
  billing)
    # Usage ledger writer (Redis outbox -> PostgreSQL) and billing's periodic jobs; /healthz and
    # /readyz (503 when no pass has completed for 30 s) on BILLING_HEALTH_PORT for the probes.
    exec python manage.py billing_flush_ledger --periodic-every "${BILLING_PERIODIC_SECONDS:-60}" \
      --health-port "${BILLING_HEALTH_PORT:-8002}" --health-host 0.0.0.0 "$@"
    ;;
  migrate)
    exec python manage.py migrate --noinput "$@"
    ;;
  *)
    echo "entrypoint: unknown role '$role'; expected one of: web, worker, billing, migrate" >&2
    exit 64
    ;;
esac
