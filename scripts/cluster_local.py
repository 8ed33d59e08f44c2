"""A stateless cluster on one machine: three gateway replicas and two job workers behind nginx.

``python -m scripts.cluster_local`` (``make cluster-local``) needs ``DATABASE_URL`` (PostgreSQL)
and ``REDIS_URL``: every replica shares them and nothing else, exactly as pods do in Kubernetes.
It migrates the database, starts the bundled simulator as the upstream, the replicas (uvicorn,
one worker each) and the workers, waits until each replica is ready, then starts nginx on
127.0.0.1:8080 and prints the URLs. Ctrl-C stops everything; so does any process exiting.
``--check`` starts it, runs the smoke test through nginx and stops it again.

Tests use :func:`run_cluster`, which yields a :class:`Cluster` (URLs, kill/restart a replica,
run ``manage.py`` against the shared database).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import psycopg
import redis
from psycopg import sql

from scripts import cluster_nginx, smoke
from scripts.local_processes import (
    PYTHON,
    ROOT,
    ProcessGroup,
    gateway_command,
    manage,
    simulator_command,
)

REQUIRED = ("DATABASE_URL", "REDIS_URL")
STATE_DIR = ROOT / "var" / "cluster"
#: Headers the replicas pass on to the upstream: the simulator's fault knobs, for the tests.
FORWARD_HEADERS = "traceparent,tracestate,x-sim-fault"


class ClusterError(RuntimeError):
    """The cluster cannot start; the message says what to fix."""


@dataclass(frozen=True)
class ClusterPorts:
    """Loopback ports: nginx, the simulator and one per replica."""

    balancer: int = 8080
    simulator: int = 8089
    replicas: tuple[int, ...] = (8081, 8082, 8083)


@dataclass
class Cluster:
    """A running cluster: its URLs and the handles tests need."""

    url: str
    replica_urls: tuple[str, ...]
    simulator_url: str
    env: dict[str, str]
    group: ProcessGroup
    ports: ClusterPorts
    workers: int = 2
    fail_timeout: int = cluster_nginx.FAIL_TIMEOUT_SECONDS
    replica_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.replica_names = tuple(f"gateway-{i + 1}" for i in range(len(self.ports.replicas)))

    def manage(self, *args: str) -> str:
        """Run ``manage.py`` against the cluster's database and Redis; return its output."""
        return manage(args, self.env).stdout

    def kill_replica(self, index: int) -> None:
        """SIGKILL one replica's process group: no graceful shutdown, like a crashed pod."""
        self.group.kill(self.replica_names[index], signal.SIGKILL)

    def start_replica(self, index: int) -> None:
        """(Re)start one replica and wait until it is ready."""
        _start_replica(self.group, self.replica_names[index], self.ports.replicas[index], self.env)


def required_urls(environ: Mapping[str, str] = os.environ) -> tuple[str, str]:
    """``DATABASE_URL`` (PostgreSQL) and ``REDIS_URL``, or :class:`ClusterError` saying what is missing."""
    missing = [name for name in REQUIRED if not environ.get(name)]
    if missing:
        raise ClusterError(
            f"{' and '.join(missing)} must be set: the replicas share PostgreSQL and Redis and nothing else, e.g. "
            "DATABASE_URL=postgres://postgres@127.0.0.1:5432/cluster REDIS_URL=redis://127.0.0.1:6379/8"
        )
    database_url, redis_url = environ["DATABASE_URL"], environ["REDIS_URL"]
    if urlsplit(database_url).scheme not in ("postgres", "postgresql"):
        raise ClusterError("DATABASE_URL must point at PostgreSQL: SQLite is one file on one machine, not shared.")
    return database_url, redis_url


def cluster_env(
    *, database_url: str, redis_url: str, simulator_url: str, environ: Mapping[str, str] = os.environ
) -> dict[str, str]:
    """The environment every process of the cluster shares.

    One ``SECRET_KEY`` and one ``FIELD_ENCRYPTION_KEY`` for all, each its own random key: in
    development each process would otherwise invent its own, and sessions, signed tokens and
    encrypted credentials would only work on the replica that made them.
    """
    secret_key = environ.get("SECRET_KEY") or secrets.token_urlsafe(50)
    return {
        **environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_ENV": environ.get("DJANGO_ENV", "development"),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": secret_key,
        "FIELD_ENCRYPTION_KEY": environ.get("FIELD_ENCRYPTION_KEY") or secrets.token_urlsafe(32),
        "MCP_UPSTREAM": "simulator",
        "POLLINATIONS_GEN_URL": simulator_url,
        "POLLINATIONS_IMAGE_URL": f"{simulator_url}/legacy/image",
        "POLLINATIONS_TEXT_URL": f"{simulator_url}/legacy/text",
        "MCP_FORWARD_HEADERS": FORWARD_HEADERS,
    }


def ensure_database(database_url: str) -> None:
    """Create the PostgreSQL database ``DATABASE_URL`` names if it does not exist yet."""
    name = unquote(urlsplit(database_url).path.lstrip("/"))
    if not name:
        raise ClusterError("DATABASE_URL names no database: add one, e.g. …:5432/cluster")
    try:
        with psycopg.connect(database_url, dbname="postgres", autocommit=True, connect_timeout=5) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                print(f"[cluster] created database {name}", flush=True)
    except psycopg.OperationalError as exc:
        raise ClusterError(f"PostgreSQL at DATABASE_URL is unreachable: {exc}".strip()) from None


def ensure_redis(redis_url: str) -> None:
    """Fail early, and say so, when Redis does not answer (the replicas would never become ready)."""
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3, socket_timeout=3).ping()
    except redis.RedisError as exc:
        raise ClusterError(f"Redis at REDIS_URL does not answer: {exc}") from None


def _check_ports_free(ports: ClusterPorts) -> None:
    for port in (ports.balancer, ports.simulator, *ports.replicas):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                raise ClusterError(f"127.0.0.1:{port} is already in use: stop what listens there first.")


def _start_replica(group: ProcessGroup, name: str, port: int, env: Mapping[str, str]) -> None:
    group.start(name, gateway_command(port), env)
    group.wait_http(name, f"http://127.0.0.1:{port}/readyz")


@contextlib.contextmanager
def run_cluster(
    *,
    ports: ClusterPorts | None = None,
    workers: int = 2,
    state_dir: Path = STATE_DIR,
    environ: Mapping[str, str] = os.environ,
    install_nginx: bool = True,
    fail_timeout: int = cluster_nginx.FAIL_TIMEOUT_SECONDS,
) -> Iterator[Cluster]:
    """Start the whole cluster, yield it once every part is ready, and stop all of it on exit.

    :param install_nginx: install Debian's nginx when missing; when ``False`` a missing nginx raises
        :class:`scripts.cluster_nginx.NginxMissing`.
    :param fail_timeout: seconds nginx skips a replica that failed before trying it again.
    """
    database_url, redis_url = required_urls(environ)
    ports = ports or ClusterPorts()
    nginx = cluster_nginx.ensure_nginx() if install_nginx else cluster_nginx.find_nginx()
    if nginx is None:
        raise cluster_nginx.NginxMissing("nginx is not installed: `make cluster-local` installs it once.")
    _check_ports_free(ports)
    state_dir.mkdir(parents=True, exist_ok=True)
    simulator_url = f"http://127.0.0.1:{ports.simulator}"
    env = cluster_env(database_url=database_url, redis_url=redis_url, simulator_url=simulator_url, environ=environ)
    ensure_redis(redis_url)
    ensure_database(database_url)
    manage(["migrate", "--noinput"], env)
    config = cluster_nginx.write_config(
        state_dir=state_dir, port=ports.balancer, upstream_ports=ports.replicas, fail_timeout=fail_timeout
    )
    cluster_nginx.check_config(nginx, config)
    with ProcessGroup(state_dir / "logs") as group:
        group.start("simulator", simulator_command(ports.simulator), env)
        group.wait_http("simulator", f"{simulator_url}/_sim/health")
        cluster = Cluster(
            url=f"http://127.0.0.1:{ports.balancer}",
            replica_urls=tuple(f"http://127.0.0.1:{port}" for port in ports.replicas),
            simulator_url=simulator_url,
            env=env,
            group=group,
            ports=ports,
            workers=workers,
            fail_timeout=fail_timeout,
        )
        # One at a time: starting three Django processes at once on a small machine only slows each down.
        for index in range(len(ports.replicas)):
            cluster.start_replica(index)
        for number in range(1, workers + 1):
            group.start(f"worker-{number}", [PYTHON, "manage.py", "db_worker"], env)
        group.start("nginx", cluster_nginx.nginx_command(nginx, config), env)
        group.wait_http("nginx", f"{cluster.url}/readyz")
        if exited := group.exited():
            raise ClusterError(f"stopped during start-up: {exited}; logs in {group.log_dir}")
        yield cluster


def create_demo_key(cluster: Cluster, state_dir: Path = STATE_DIR) -> Path:
    """An organisation ``cluster-local`` and a fresh key in it, written to ``state_dir/api-key.txt``."""
    cluster.manage("create_organization", "--slug", "cluster-local", "--if-missing")
    created = json.loads(
        cluster.manage(
            "create_api_key", "--org", "cluster-local", "--name", f"cluster-local-{int(time.time())}", "--json"
        )
    )
    path = state_dir / "api-key.txt"
    path.write_text(created["key"] + "\n")
    path.chmod(0o600)
    return path


def _serve(cluster: Cluster, key_file: Path) -> int:
    lines = [f"load balancer (nginx)  {cluster.url}/"]
    lines += [f"{name:<22} {url}/" for name, url in zip(cluster.replica_names, cluster.replica_urls, strict=True)]
    lines += [
        f"job workers            {cluster.workers} × manage.py db_worker",
        f"simulator (upstream)   {cluster.simulator_url}/",
        f"API key                {key_file}",
        f"smoke test             make smoke URL={cluster.url} API_KEY=$(cat {key_file.relative_to(ROOT)})",
        f"logs                   {cluster.group.log_dir}/",
        "Ctrl-C stops everything.",
    ]
    print("\n".join(f"[cluster] {line}" for line in lines), flush=True)
    while not (exited := cluster.group.exited()):
        time.sleep(0.5)
    print(f"[cluster] {exited} exited; stopping the rest (see {cluster.group.log_dir}/)", flush=True)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="start, run the smoke test through nginx, stop")
    args = parser.parse_args(argv)
    # Ctrl-C and SIGTERM both stop everything, even when started with SIGINT ignored (in the background).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    try:
        with run_cluster() as cluster:
            key_file = create_demo_key(cluster)
            if args.check:
                return 0 if smoke.run(cluster.url, key_file.read_text().strip()) else 1
            return _serve(cluster, key_file)
    except RuntimeError as exc:  # ClusterError, NginxMissing, a failed migration, a replica that never got ready
        print(f"[cluster] {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\n[cluster] stopped", flush=True)
        return 0


if __name__ == "__main__":
    sys.exit(main())
