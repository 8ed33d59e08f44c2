"""Each proxied request is timed phase by phase (``mcp_hot_path_phase_seconds``, core/diagnostics.py)."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from core import diagnostics

CHAT = {"model": "openai", "messages": [{"role": "user", "content": "time me"}]}


def phase_counts() -> dict[str, float]:
    return {
        phase: REGISTRY.get_sample_value("mcp_hot_path_phase_seconds_count", {"phase": phase}) or 0.0
        for phase in diagnostics.PHASES
    }


@pytest.mark.django_db(transaction=True)
async def test_a_proxied_request_is_timed_in_each_of_its_phases(client):
    before = phase_counts()
    assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 200
    streamed = await client.post("/v1/chat/completions", json={**CHAT, "stream": True})
    assert streamed.status_code == 200 and "[DONE]" in streamed.text
    added = {phase: n - before[phase] for phase, n in phase_counts().items()}
    # A buffered JSON answer has no relay of its own: the dispatcher read it whole (upstream phase).
    assert added == {"key": 2, "admission": 2, "upstream": 2, "relay": 1, "settlement": 2, "log": 2}


@pytest.mark.django_db(transaction=True)
async def test_a_refused_key_is_not_timed_as_a_resolved_one(client):
    before = phase_counts()
    refused = await client.post("/v1/chat/completions", json=CHAT, headers={"Authorization": "Bearer sk-nope"})
    assert refused.status_code == 401
    added = {phase: n - before[phase] for phase, n in phase_counts().items()}
    assert added["key"] == 0 and added["admission"] == 0 and added["log"] == 1
