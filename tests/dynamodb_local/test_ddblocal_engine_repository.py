"""The engine's and ingest's DynamoDB expressions on the real engine (moto is lenient): parked runs, dead letters
on their sparse index, deduplication claims (with their flow starts), and the sparse offline_due index of
devices."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from fleetgate.core.ids import iso, now_iso
from fleetgate.engine import repository as engine
from fleetgate.engine.schemas import DeadLetter
from fleetgate.ingest import repository as ingest

pytestmark = pytest.mark.dynamodb_local


def test_given_a_parked_run_then_its_state_comes_back_whole():
    run_id = str(uuid.uuid4())
    state = {"trace": [{"node_id": "wait", "output": {"delay_seconds": 3600}}], "work": [{"node_id": "out"}]}
    engine.park(run_id, "wait#0002#out", state)

    assert engine.unpark(run_id, "wait#0002#out") == state
    assert engine.unpark(run_id, "wait#0003#out") is None


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
