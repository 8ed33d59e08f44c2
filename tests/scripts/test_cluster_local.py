"""``scripts/cluster_local.py`` and its nginx configuration, without starting a cluster (that is tests/cluster)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import cluster_nginx
from scripts.cluster_local import ROOT, ClusterError, cluster_env, ensure_database, ensure_redis, required_urls
from scripts.local_processes import free_port

DATABASE_URL = "postgres://postgres@127.0.0.1:5432/cluster"
REDIS_URL = "redis://127.0.0.1:6379/8"


@pytest.mark.parametrize(
    ("environ", "missing"),
    [
        ({}, "DATABASE_URL and REDIS_URL must be set"),
        ({"DATABASE_URL": DATABASE_URL}, "REDIS_URL must be set"),
        ({"REDIS_URL": REDIS_URL}, "DATABASE_URL must be set"),
    ],
)
def test_the_cluster_refuses_to_start_without_shared_postgres_and_redis(environ: dict, missing: str) -> None:
    with pytest.raises(ClusterError, match=missing):
        required_urls(environ)


def test_the_cluster_refuses_sqlite_because_a_file_is_not_shared() -> None:
    with pytest.raises(ClusterError, match="must point at PostgreSQL"):
        required_urls({"DATABASE_URL": "sqlite:///var/db.sqlite3", "REDIS_URL": REDIS_URL})


def test_the_command_says_what_is_missing_and_exits_2() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    result = subprocess.run(
        [sys.executable, "-m", "scripts.cluster_local"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert "DATABASE_URL and REDIS_URL must be set" in result.stderr


def test_every_process_shares_one_secret_key_the_database_redis_and_the_simulator() -> None:
    env = cluster_env(
        database_url=DATABASE_URL, redis_url=REDIS_URL, simulator_url="http://127.0.0.1:9", environ={"PATH": "/bin"}
    )
    assert len(env["SECRET_KEY"]) >= 50
    # The credentials' encryption key is a key of its own, as production requires.
    assert len(env["FIELD_ENCRYPTION_KEY"]) >= 32 and env["FIELD_ENCRYPTION_KEY"] != env["SECRET_KEY"]
    assert (env["DATABASE_URL"], env["REDIS_URL"]) == (DATABASE_URL, REDIS_URL)
    assert env["POLLINATIONS_GEN_URL"] == "http://127.0.0.1:9"
    assert "x-sim-fault" in env["MCP_FORWARD_HEADERS"].split(",")


def test_a_secret_key_from_the_environment_is_kept() -> None:
    environ = {"SECRET_KEY": "k" * 60}
    env = cluster_env(database_url=DATABASE_URL, redis_url=REDIS_URL, simulator_url="http://x", environ=environ)
    assert env["SECRET_KEY"] == "k" * 60


def render() -> str:
    return cluster_nginx.render_config(state_dir=Path("/state"), port=8080, upstream_ports=(8081, 8082, 8083))


def test_nginx_listens_on_loopback_and_balances_over_loopback_replicas() -> None:
    config = render()
    assert "listen 127.0.0.1:8080;" in config
    for port in (8081, 8082, 8083):
        assert f"server 127.0.0.1:{port} max_fails=1 fail_timeout=10s;" in config
    assert "0.0.0.0" not in config  # noqa: S104 - the point is that it does not bind all interfaces


def test_nginx_relays_sse_unbuffered_and_retries_a_failed_replica() -> None:
    config = render()
    assert "proxy_buffering off;" in config
    assert "proxy_next_upstream error timeout http_502 non_idempotent;" in config
    assert "proxy_set_header X-Request-ID $mcp_request_id;" in config


def test_nginx_upgrades_websockets_under_ws() -> None:
    websocket = render().split("location /ws/ {")[1].split("}")[0]
    assert "proxy_set_header Upgrade $http_upgrade;" in websocket
    assert "proxy_set_header Connection $connection_upgrade;" in websocket
    assert "proxy_set_header Host $http_host;" in websocket


def test_nginx_accepts_the_generated_configuration(tmp_path: Path) -> None:
    binary = cluster_nginx.find_nginx()
    if binary is None:
        pytest.skip("nginx is not installed (make cluster-local installs it)")
    config = cluster_nginx.write_config(state_dir=tmp_path, port=8080, upstream_ports=(8081, 8082))
    cluster_nginx.check_config(binary, config)


def test_an_unreachable_redis_is_reported_before_anything_starts() -> None:
    with pytest.raises(ClusterError, match="Redis at REDIS_URL does not answer"):
        ensure_redis(f"redis://127.0.0.1:{free_port()}/0")


def test_an_unreachable_postgres_is_reported_before_anything_starts() -> None:
    with pytest.raises(ClusterError, match="PostgreSQL at DATABASE_URL is unreachable"):
        ensure_database(f"postgres://postgres@127.0.0.1:{free_port()}/cluster")
