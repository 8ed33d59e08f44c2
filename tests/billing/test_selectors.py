"""Reads of billing state: the current period's usage, as the dashboard's home and /v1/key/info show it."""

from __future__ import annotations

import datetime as dt

from billing.selectors import usage_overview
from billing.services import usage_events_insert
from tests.billing.factories import usage_event_for_tests


def _record(organization, at: dt.datetime, **fields) -> None:
    usage_events_insert(
        events=[usage_event_for_tests(organization_id=organization.pk, created_at=at.timestamp(), **fields)]
    )


def test_the_period_counts_only_what_came_after_a_subscription_that_began_during_a_day(
    organization, make_plan, subscribe
):
    subscription = subscribe(make_plan(image_quota=50, included_credits=2_000))
    midnight = subscription.current_period_start.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    began = subscription.current_period_start = midnight + dt.timedelta(hours=12, minutes=1)
    subscription.save()
    _record(organization, began - dt.timedelta(microseconds=1), images=1, cost=10_000, model="flux")  # before it
    _record(organization, midnight - dt.timedelta(microseconds=1), images=1, cost=10_000)  # the day before
    _record(organization, began, images=1, cost=300, status=500)  # its first instant
    _record(organization, began + dt.timedelta(seconds=1), input_tokens=4, output_tokens=6, cost=200, images=0)

    overview = usage_overview(organization_id=organization.pk, now=began + dt.timedelta(seconds=2))

    assert overview["period"] == {"requests": 2, "errors": 1, "cost": 500, "tokens": 30 + 10, "images": 1}
    assert overview["today"] == overview["period"]
    assert {quota["name"]: quota["used"] for quota in overview["quotas"]} == {"Images": 1, "Included credits": 500}


def test_a_period_that_began_at_midnight_is_read_from_the_roll_up_alone(organization, make_plan, subscribe):
    subscription = subscribe(make_plan())
    midnight = subscription.current_period_start.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    subscription.current_period_start = midnight
    subscription.save()
    _record(organization, midnight - dt.timedelta(microseconds=1), cost=7)
    _record(organization, midnight, cost=5)
    _record(organization, midnight + dt.timedelta(hours=1), cost=3)

    overview = usage_overview(organization_id=organization.pk, now=midnight + dt.timedelta(hours=2))

    assert (overview["period"]["requests"], overview["period"]["cost"]) == (2, 8)
