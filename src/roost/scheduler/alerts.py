"""Telling the owner when a job keeps failing: once, until it succeeds again."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from roost.bus.envelope import Delivery
from roost.config.settings import Settings
from roost.scheduler.runs import AlertBuilder

log = logging.getLogger(__name__)

ALERT_KIND = "job_alert"


def alert_targets(settings: Settings) -> list[str]:
    """``scheduler.alert_to``, else the first numeric id in ``telegram.allowed_users``."""
    if settings.scheduler.alert_to:
        return list(settings.scheduler.alert_to)
    telegram = settings.telegram
    for user in telegram.allowed_users if telegram else []:
        text = str(user).strip()
        if text.lstrip("-").isdigit():
            return [f"telegram:{text}"]
    return []


def alert_builder(targets: Sequence[str]) -> AlertBuilder:
    """The deliveries for one alert: one per target, or none (with a warning in the log)."""
    addresses = list(targets)

    def build(job: str, run_id: int, failures: int, error: str | None) -> list[Delivery]:
        if not addresses:
            log.warning(
                "job %s failed %d times in a row (%s); nobody to alert: set scheduler.alert_to "
                "or telegram.allowed_users",
                job,
                failures,
                error,
            )
            return []
        body = (
            f"Roost: job '{job}' has failed {failures} times in a row.\n"
            f"Last error: {error or 'unknown'}\n"
            f"History: roost jobs runs {job}. No more alerts until it succeeds again."
        )
        return [
            Delivery(
                target=address,
                sender=f"job:{job}",
                body=body,
                job_run_id=run_id,
                meta={"kind": ALERT_KIND, "job": job, "failures": failures},
            )
            for address in addresses
        ]

    return build
