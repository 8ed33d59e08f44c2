"""Every metric the dashboard or an alert names is one the gateway really exports.

The names come from the PromQL of the PrometheusRule and the Grafana dashboard; the exported ones
from a ``/metrics`` scrape of a real gateway process. Metrics of other exporters are listed with
where they come from.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
import yaml

from tests.fixtures.gateway_server import gateway_env, run_gateway

MONITORING = Path(__file__).resolve().parents[2] / "k8s" / "components" / "monitoring"
RULES = MONITORING / "prometheusrule.yaml"
DASHBOARD = MONITORING / "dashboards" / "mcp-gateway.json"
#: Metrics the rules use that other exporters provide, and which.
EXTERNAL = {
    "kube_pod_status_ready": "kube-state-metrics",
    "certmanager_certificate_expiration_timestamp_seconds": "cert-manager",
}
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset"}
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gauge": ("",),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression (or a Grafana ``label_values(metric, label)``) selects."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"label_values\(\s*([a-zA-Z_:][\w:]*)\s*,[^)]*\)", r"\1", expr)
    names = set()
    for match in re.finditer(r"(?<![\w:.])[a-zA-Z_:][\w:]*", expr):
        following = expr[match.end() :].lstrip()[:1]
        if following != "(" and match.group() not in _KEYWORDS and not match.group().startswith("__"):
            names.add(match.group())
    return names


def rules() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["spec"]["groups"] for rule in group["rules"]]


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def dashboard_expressions(board: dict) -> list[str]:
    queries = [t["expr"] for panel in board["panels"] for t in panel.get("targets", [])]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            queries.append(variable["query"]["query"])
    return queries


def exported_names(exposition: str) -> set[str]:
    names = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            if kind == "counter":  # declared with or without its _total, depending on the client version
                name = name.removesuffix("_total")
            names.update(name + suffix for suffix in _SUFFIXES.get(kind, ("",)))
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def test_the_name_extraction_finds_metrics_and_nothing_else() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (provider, le) (rate(mcp_a_bucket{namespace="$namespace", x=~"y"}'
        "[$__rate_interval]))) / on (ns) group_left max(mcp:b:rate1h) > 2 and mcp_c offset 5m"
    )
    assert metric_names(expr) == {"mcp_a_bucket", "mcp:b:rate1h", "mcp_c"}
    assert metric_names("label_values(mcp_http_requests_total, namespace)") == {"mcp_http_requests_total"}


def test_the_dashboard_is_well_formed_for_the_grafana_sidecar() -> None:
    board = dashboard()
    assert board["uid"] and board["title"]
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        if panel["type"] != "row":
            assert panel["targets"] and all(t["expr"] for t in panel["targets"]), panel["title"]
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
    kustomization = yaml.safe_load((MONITORING / "kustomization.yaml").read_text())
    (generated,) = kustomization["configMapGenerator"]
    assert generated["options"]["labels"]["grafana_dashboard"] == "1"
    assert f"dashboards/{DASHBOARD.name}" in generated["files"]


@pytest.mark.slow
def test_every_metric_a_panel_or_rule_names_is_exported_by_a_real_gateway_process() -> None:
    with run_gateway(gateway_env(database_name=None, upstream_url="http://127.0.0.1:9")) as base_url:
        exported = exported_names(httpx.get(f"{base_url}/metrics", timeout=10).text)
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    used: dict[str, str] = {}
    for rule in rules():
        for name in metric_names(rule["expr"]):
            used.setdefault(name, rule.get("alert") or rule["record"])
    for expr in dashboard_expressions(dashboard()):
        for name in metric_names(expr):
            used.setdefault(name, "dashboard")
    assert len(used) > 20
    unknown = {name: where for name, where in used.items() if name not in exported | recorded | EXTERNAL.keys()}
    assert unknown == {}
