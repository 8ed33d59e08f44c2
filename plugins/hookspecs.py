"""Hook specifications: everything a gateway plugin may implement.

A plugin is a module or object with functions named like these and decorated with
``@plugins.hookimpl``. Hooks are synchronous and cheap; providers they return carry the async
work. Built-in plugins are registered exactly like installed ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from plugins.types import Caller, JobCallback, Outcome, PaymentCollector, Provider, ProviderCall

PROJECT = "mcp_gateway"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- Registration (called once at start-up) -------------------------------------------------


@hookspec(historic=True)
def mcp_provider_classes() -> list[type[Provider]]:
    """Declare the provider classes this plugin brings.

    Each class names its ``kind``; operators create instances of it in the admin, and the class
    may declare instances that exist by default (:meth:`Provider.default_instances`).

    :returns: a list of :class:`plugins.types.Provider` subclasses.
    """


# --- Per request (called on the hot path: keep them fast and non-blocking) -----------------


@hookspec(firstresult=True)
def mcp_request(call: ProviderCall, caller: Caller) -> str | None:
    """Inspect, amend or refuse a request before it is sent upstream.

    Amend by mutating ``call.payload`` in place (for example to add a system prompt). The first
    non-``None`` answer wins and refuses the request.

    :param call: the validated request about to be sent.
    :param caller: the organisation, API key and user the request is made for.
    :returns: ``None`` to let the request through, or a message for the caller to refuse it
        (the gateway answers 400 with code ``request_refused``).
    """


@hookspec
def mcp_response(call: ProviderCall, caller: Caller, outcome: Outcome) -> None:
    """Observe the outcome of a request once its answer has ended (completed, failed or abandoned).

    Called exactly once per request that reached routing. Keep it fast and non-blocking: it runs
    on the event loop, after the last byte was sent.

    :param call: the request as it was sent.
    :param caller: the organisation, API key and user the request was made for.
    :param outcome: provider, final status, usage, whether the cache answered, and latency.
    """


# --- Async jobs (called when a provider reports a finished job) -----------------------------


@hookspec(firstresult=True)
def mcp_job_callback(provider: str, payload: dict) -> JobCallback | None:
    """Translate a provider's job-finished callback into the gateway's terms.

    Called for ``POST /v1/jobs/callbacks/<provider>`` after its Standard Webhooks signature and
    freshness were verified and replays were refused. The first non-``None`` answer wins; when no
    plugin answers, the payload is read in the gateway's own shape (see ``docs/jobs.md``).

    :param provider: the ``<provider>`` path segment.
    :param payload: the callback's JSON body.
    :returns: a :class:`plugins.types.JobCallback`, or ``None`` to leave it to other plugins.
    """


# --- Billing (called when an operator collects an invoice) ----------------------------------


@hookspec
def mcp_payment_collectors() -> list[PaymentCollector]:
    """Declare payment collectors: objects with a ``name`` and ``collect(invoice)``.

    Called each time collectors are listed (``billing.payments.payment_collectors``); the operator
    picks one by name per invoice. A collector named like the built-in ``manual`` one replaces it.

    :returns: a list of :class:`plugins.types.PaymentCollector` objects.
    """
