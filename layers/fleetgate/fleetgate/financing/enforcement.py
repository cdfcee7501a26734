"""Overdue enforcement, on a schedule: every customer with an unpaid instalment already due is found by a Query
on the sparse ``by_next_due`` index (never a scan) and handled once per day:

- the oldest overdue instalment is at least ``EMI_GRACE_DAYS`` late, the phone is not locked and no lock is
  pending: a lock command;
- otherwise an EMI_REMINDER push.

Either claims the customer's day first (``notified_day``, a conditional write), so a second run the same day,
or two runs at once, issue nothing new.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from fleetgate.core.observability import logger
from fleetgate.financing import commands, repository, settings


@dataclass
class Summary:
    overdue: int = 0
    locked: int = 0
    reminded: int = 0
    already_handled: int = 0
    complete: bool = True

    def as_dict(self) -> dict[str, int | bool]:
        return dict(self.__dict__)


def run(now: datetime, *, deadline: float) -> dict[str, int | bool]:
    """Handle every overdue customer as of ``now`` (the schedule's time). Stops early near ``deadline``
    (``time.monotonic()``): the next run picks up the rest."""
    today = now.date()
    day = today.isoformat()
    grace = settings.grace_days()
    summary = Summary()
    ids = repository.overdue_ids(today)
    for start in range(0, len(ids), 100):
        if time.monotonic() > deadline:
            summary.complete = False
            break
        for customer in repository.get_many(ids[start : start + 100]):
            overdue = customer.overdue(today)
            if not overdue:
                continue  # paid since the index was read
            summary.overdue += 1
            if customer.notified_day == day or not repository.mark_notified(customer.id, day):
                summary.already_handled += 1
                continue
            pending = customer.pending_command(now)
            late = (today - overdue[0].due_date).days
            if late >= grace and not customer.is_locked and not (pending and pending.action == "LOCK_DEVICE"):
                commands.issue(customer, "LOCK_DEVICE", source="enforcement", now=now)
                summary.locked += 1
            else:
                commands.remind(customer.id, today)
                summary.reminded += 1
    logger.info("emi enforcement", extra=summary.as_dict())
    return summary.as_dict()
