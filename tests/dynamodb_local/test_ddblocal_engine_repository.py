"""The engine's and ingest's DynamoDB expressions on the real engine (moto is lenient): step claims with leases,
counting a step once (NOT contains on a string set, ADD), dead letters on their sparse index, deduplication
claims, and the sparse offline_due index of devices."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from fleetgate.core.ids import iso, now_iso
from fleetgate.engine import repository as engine
from fleetgate.engine.schemas import DeadLetter
from fleetgate.ingest import repository as ingest

pytestmark = pytest.mark.dynamodb_local

CLAIM = {"node_id": "out", "node_type": "integration", "attempt": 1}


def _run(run_id: str) -> None:
    assert engine.create_run(
        {
            "run_id": run_id,
            "flow_id": "f",
            "owner_id": "o",
            "graph": {"nodes": [], "edges": []},
            "trigger": {},
            "started_at": now_iso(),
        }
    )


def test_given_a_run_when_steps_complete_then_each_is_counted_once_and_the_last_brings_it_to_zero():
    run_id = str(uuid.uuid4())
    _run(run_id)
    assert engine.create_run({"run_id": run_id, "started_at": now_iso()}) is False

    start = engine.count_step(run_id, "step#$start#001#0", 2 - 1, ok=0, failed=0)
    again = engine.count_step(run_id, "step#$start#001#0", 2 - 1, ok=0, failed=0)
    one = engine.count_step(run_id, "step#a#001#x", -1, ok=1, failed=0)
    two = engine.count_step(run_id, "step#b#001#x", -1, ok=0, failed=1)

    assert int(start.outstanding) == 2 and again is None
    assert int(one.outstanding) == 1
    assert (int(two.outstanding), int(two.paths_ok), int(two.paths_failed)) == (0, 1, 1)
    assert two.counted == {"step#$start#001#0", "step#a#001#x", "step#b#001#x"}


def test_given_a_claimed_step_then_a_second_claim_sees_it_until_its_lease_runs_out_or_it_is_finished():
    run_id = str(uuid.uuid4())
    key = "step#out#001#0"

    assert engine.claim_step(run_id, key, token="a", lease_seconds=60, started_at=now_iso(), **CLAIM) is None
    held = engine.claim_step(run_id, key, token="b", lease_seconds=60, started_at=now_iso(), **CLAIM)
    assert held is not None and held.status == "running" and held.lease_token == "a"
    assert engine.finish_step(run_id, key, token="b", fields={"ok": True}) is False  # not b's claim

    engine.release_step(run_id, key, "a")
    assert engine.claim_step(run_id, key, token="b", lease_seconds=60, started_at=now_iso(), **CLAIM) is None
    assert (
        engine.finish_step(
            run_id,
            key,
            token="b",
            fields={"ok": True, "next": [{"node_id": "x"}], "next_message": {"t": 1}, "error": None},
        )
        is True
    )
    done = engine.claim_step(run_id, key, token="c", lease_seconds=60, started_at=now_iso(), **CLAIM)
    assert done.status == "done" and done.next_message == {"t": 1} and done.lease_until is None
    assert [t.sk for t in engine.traces(run_id)] == [key]


def test_given_an_expired_lease_then_the_step_can_be_claimed_again():
    run_id = str(uuid.uuid4())
    key = "step#out#001#0"
    engine.claim_step(run_id, key, token="dead", lease_seconds=0.2, started_at=now_iso(), **CLAIM)
    time.sleep(0.4)

    assert engine.claim_step(run_id, key, token="b", lease_seconds=60, started_at=now_iso(), **CLAIM) is None


def test_given_dead_letters_then_only_pending_ones_are_on_the_pending_index_and_a_replay_marks_each_once():
    flow_id = str(uuid.uuid4())
    letters = [
        DeadLetter(
            id=f"20261122T00000{i}000Z-{uuid.uuid4().hex[:12]}",
            flow_id=flow_id,
            run_id="r",
            node_id="out",
            node_type="integration",
            attempts=3,
            last_error="HTTP 500",
            failed_at=now_iso(),
            status="pending",
            message={"i": i},
        )
        for i in range(3)
    ]
    for letter in letters:
        engine.put_dead_letter(letter, "owner")

    assert engine.mark_replayed(flow_id, letters[0].id, "run-1", now_iso()) is True
    assert engine.mark_replayed(flow_id, letters[0].id, "run-1", now_iso()) is False
    pending, more = engine.pending_dead_letters(flow_id, 1)

    assert [p.id for p in pending] == [letters[1].id] and more is True
    listed = engine.list_dead_letters(flow_id, "pending", limit=10, cursor=None)
    assert sorted(d.id for d in listed.items) == sorted(d.id for d in letters[1:])
    assert [d.status for d in engine.get_dead_letters(flow_id, [letters[0].id])] == ["replayed"]


def test_given_an_event_key_then_it_is_claimed_once():
    key = f"device|up|{uuid.uuid4()}"
    now = datetime.now(UTC)

    assert ingest.claim_event(key, now, 24) is True
    assert ingest.claim_event(key, now, 24) is False


def test_given_devices_seen_then_the_offline_index_holds_only_the_due_ones_and_marking_them_is_conditional(owner):
    from fleetgate.devices import repository as devices
    from fleetgate.devices.schemas import Device

    now = datetime.now(UTC)
    made = []
    for ett in (60, 3600):
        stamp = now_iso()
        device = Device(
            id=str(uuid.uuid4()),
            owner_id=owner,
            dev_eui=uuid.uuid4().hex[:16],
            name="d",
            expected_transmit_time=ett,
            created_at=stamp,
            updated_at=stamp,
        )
        devices.create_device(device)
        made.append(device)
    shard = f"s-{uuid.uuid4().hex[:8]}"  # a shard of this test's own: the in-memory tables are shared
    soon, later = iso(now + timedelta(seconds=60)), iso(now + timedelta(seconds=3600))
    assert devices.mark_seen(made[0].id, iso(now), online=True, offline_due=soon, shard=shard)
    assert devices.mark_seen(made[1].id, iso(now), online=True, offline_due=later, shard=shard)

    due = list(devices.due_devices(shard, iso(now + timedelta(minutes=5)), 10))

    assert [(d.id, d.owner_id, int(d.expected_transmit_time)) for d in due] == [(made[0].id, owner, 60)]
    assert devices.mark_offline(made[0].id, later) is False  # not its due time: an uplink moved it
    assert devices.mark_offline(made[0].id, soon) is True
    assert list(devices.due_devices(shard, iso(now + timedelta(days=1)), 10))[0].id == made[1].id
    assert devices.get_device(made[0].id).status == "offline"
    assert made[0].id not in [d.id for d in devices.due_devices(shard, iso(now + timedelta(days=1)), 10)]
