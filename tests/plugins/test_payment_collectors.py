"""The ``mcp_payment_collectors`` hook, implemented by a plugin installed through its entry point."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from billing.models import Plan
from billing.payments import invoice_collect, payment_collectors
from billing.services import invoice_issue, subscription_create
from plugins import manager
from plugins.registry import install_plugin_manager
from tests.plugins.distributions import install_distribution

pytestmark = pytest.mark.django_db(transaction=True)

START = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)

CARD_PLUGIN = """
from plugins.hookspecs import hookimpl
from plugins.types import Collected


class CardCollector:
    name = "card"

    def collect(self, invoice):
        return Collected(amount=invoice.total, reference="ch_123")


@hookimpl
def mcp_payment_collectors():
    return [CardCollector()]
"""


@pytest.fixture
def card_installed(monkeypatch, tmp_path: Path, restore_plugins):
    """A one-module payment plugin installed the way ``pip install`` would, and the manager rebuilt."""
    source = tmp_path / "src"
    source.mkdir()
    (source / "mcp_card_collector.py").write_text(textwrap.dedent(CARD_PLUGIN))
    install_distribution(
        monkeypatch,
        tmp_path / "site",
        name="mcp-card-collector",
        version="0.1.0",
        entry_points={"card": "mcp_card_collector"},
        source_dirs=(source,),
    )
    return install_plugin_manager(manager.build_plugin_manager())


@pytest.fixture
def invoice(organization):
    plan = Plan.objects.create(slug="p", name="P", monthly_price=9_000_000)
    subscription_create(organization=organization, now=START, plan=plan)
    return invoice_issue(organization=organization, period_start=START, period_end=START + dt.timedelta(days=31))


def test_hook_mcp_payment_collectors_of_an_installed_plugin_is_accepted_at_start_up(card_installed):
    assert [b for b in manager.BROKEN if b.name == "card"] == []
    [info] = [i for i in manager.plugin_infos(card_installed) if i.name == "card"]
    assert (info.package, info.hooks) == ("mcp-card-collector", ("mcp_payment_collectors",))
    assert set(payment_collectors()) == {"manual", "card"}


def test_hook_mcp_payment_collectors_collector_pays_the_invoice(card_installed, invoice):
    payment = invoice_collect(invoice=invoice, collector="card")
    invoice.refresh_from_db()
    assert (payment.method, payment.reference, payment.amount) == ("card", "ch_123", invoice.total)
    assert invoice.status == "paid"


def test_a_plugin_misspelling_the_payment_hook_is_reported_broken(monkeypatch, tmp_path: Path, restore_plugins):
    source = tmp_path / "src"
    source.mkdir()
    (source / "mcp_typo_collector.py").write_text(
        CARD_PLUGIN.replace("def mcp_payment_collectors", "def mcp_payment_collector")
    )
    install_distribution(
        monkeypatch,
        tmp_path / "site",
        name="mcp-typo-collector",
        version="0.1.0",
        entry_points={"typo": "mcp_typo_collector"},
        source_dirs=(source,),
    )
    install_plugin_manager(manager.build_plugin_manager())
    assert [b.error_type for b in manager.BROKEN if b.name == "typo"] == ["PluginValidationError"]
    assert set(payment_collectors()) == {"manual"}
