"""The dead-letter routes of a flow: the steps that failed for good (integrations out of attempts, steps that kept
crashing the worker), listed, and replayed as new runs from the failed node."""

from __future__ import annotations

from fleetgate.core.access import visible
from fleetgate.core.auth import Principal
from fleetgate.core.ids import now_iso
from fleetgate.core.pagination import Page
from fleetgate.engine import queues
from fleetgate.engine import repository as repo
from fleetgate.engine.schemas import (
    DeadLetter,
    DeadLetterReplay,
    DeadLetterReplayResult,
    Outgoing,
    ReplaySkipped,
    Step,
    run_id_for,
)
from fleetgate.flows import owners as flows
from fleetgate.flows.records import FlowOwner


def _flow(who: Principal, flow_id: str) -> FlowOwner:
    """The flow's id and owner, if the caller may see it (its owner, or an admin); else 404, as for a missing one."""
    return visible(who, flows.flow_owner(flow_id), "Flow")


def list_dead_letters(
    who: Principal, flow_id: str, *, status: str | None, limit: int, cursor: str | None
) -> Page[DeadLetter]:
    flow = _flow(who, flow_id)
    return repo.list_dead_letters(flow.id, status, limit=limit, cursor=cursor)


def replay_dead_letters(who: Principal, flow_id: str, data: DeadLetterReplay | None) -> DeadLetterReplayResult:
    """Send each pending dead letter (the given ones, or up to 100) again as the first step of a new run that
    starts at the failed node. The run id is derived from the dead letter: replaying twice (concurrently, or
    after a failure half-way) starts one run."""
    flow = _flow(who, flow_id)
    skipped: list[ReplaySkipped] = []
    more = False
    if data is not None and data.ids:
        letters = repo.get_dead_letters(flow.id, data.ids)
        found = {dl.id for dl in letters}
        skipped += [ReplaySkipped(id=i, reason="not found") for i in dict.fromkeys(data.ids) if i not in found]
    else:
        letters, more = repo.pending_dead_letters(flow.id, 100)
    pending = []
    for letter in letters:
        if letter.status != "pending":
            skipped.append(ReplaySkipped(id=letter.id, reason=f"already replayed (run {letter.replay_run_id})"))
        else:
            pending.append(letter)
    runs = {letter.id: run_id_for(f"replay|{letter.id}", flow.id) for letter in pending}
    at = now_iso()
    queues.send_steps(
        Outgoing(
            Step(
                flow_id=flow.id,
                run_id=runs[letter.id],
                node_id=letter.node_id,
                message=letter.message,
                start={
                    "event": "replay",
                    "owner_id": flow.owner_id,
                    "device_id": letter.device_id,
                    "replay_of": letter.id,
                    "origin": f"replay|{letter.id}",
                    "received_at": at,
                },
            )
        )
        for letter in pending
    )
    replayed = []
    for letter in pending:  # after sending: a crash in between leaves them pending, and a new replay is the same run
        if repo.mark_replayed(flow.id, letter.id, runs[letter.id], at):
            replayed.append(letter.id)
        else:
            skipped.append(ReplaySkipped(id=letter.id, reason="replayed concurrently"))
    return DeadLetterReplayResult(replayed=replayed, run_ids=[runs[i] for i in replayed], skipped=skipped, more=more)
