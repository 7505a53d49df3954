"""The ordering rule of the live path: an event waits exactly while an earlier conflicting one may.

Pure tests of `buffer.choose`, `claims` and `progress` (no broker, no database): readers wait for
other partitions' writers, writers for other partitions' readers, everything for a worker's own
partitions that may still hold an earlier unread message, and a caught-up claim counts only if
the broker holds nothing beyond it; keys sort like the batch order.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from settlement.events import parse_event
from settlement.stream.buffer import Item, PartitionState, choose
from settlement.stream.claims import View, choose_checked, release_instant_checked
from settlement.stream.keys import IDLE, LOWEST, key_instant, message_key, ordering_key, roles
from settlement.stream.progress import Frontiers, least_frontiers, release_instant

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _item(partition: int, offset: int, minutes: int, type_: str, **fields: object) -> Item:
    event = parse_event({"event_id": f"e{partition}-{offset}", "type": type_,
                         "ts": (T0 + timedelta(minutes=minutes)).isoformat(), **fields})
    reads, writes = roles(event)
    return Item(ordering_key(event.ts, 0, partition, offset), partition, offset, event, None,
                reads, writes, 0, b"", None)


def _touch(partition: int, offset: int, minutes: int) -> Item:
    return _item(partition, offset, minutes, "touch", customer_id="c", promoter_id="p")


def _suspend(partition: int, offset: int, minutes: int) -> Item:
    return _item(partition, offset, minutes, "promoter_suspended", promoter_id="p")


def _part(partition: int, *items: Item, caught_up: bool = True) -> PartitionState:
    state = PartitionState(partition, 0, None)
    for item in items:
        state.add(item)
    state.caught_up = caught_up
    return state


def _others(reader: str = IDLE, writer: str = IDLE) -> Frontiers:
    return Frontiers(reader, writer, IDLE, None)


def test_keys_sort_by_instant_then_sequence_and_decode_back():
    early, late = ordering_key(T0, 5, 3, 9), ordering_key(T0 + timedelta(microseconds=1), 0, 0, 0)
    assert early < late and ordering_key(T0, 4, 9, 9) < early
    assert LOWEST < early < IDLE and key_instant(early) == T0


def test_a_reader_waits_for_an_earlier_writer_of_another_worker():
    touch = _touch(0, 0, minutes=10)
    parts = {0: _part(0, touch)}
    suspension_elsewhere = ordering_key(T0 + timedelta(minutes=5), 0, 1, 0)
    assert choose(parts, _others(writer=suspension_elsewhere), 100) == {}
    later = ordering_key(T0 + timedelta(minutes=11), 0, 1, 0)
    assert choose(parts, _others(writer=later), 100) == {0: [touch]}


def test_a_writer_waits_for_an_earlier_reader_of_another_worker():
    suspension = _suspend(0, 0, minutes=10)
    parts = {0: _part(0, suspension)}
    order_elsewhere = ordering_key(T0 + timedelta(minutes=5), 0, 1, 0)
    assert choose(parts, _others(reader=order_elsewhere), 100) == {}
    assert choose(parts, _others(writer=order_elsewhere), 100) == {0: [suspension]}


def test_own_partitions_merge_in_key_order_and_wait_for_unread_messages():
    a1, a2 = _touch(0, 0, minutes=1), _touch(0, 1, minutes=20)
    b1 = _suspend(1, 0, minutes=10)
    parts = {0: _part(0, a1, a2), 1: _part(1, b1)}
    chosen = choose(parts, _others(), 100)
    assert [i.key for p in sorted(chosen) for i in chosen[p]] == [a1.key, a2.key, b1.key]
    parts[1].caught_up = False  # partition 1 may hold more after minute 10
    assert choose(parts, _others(), 100) == {0: [a1], 1: [b1]}


def test_frontiers_after_applying_a_prefix():
    a1, a2 = _touch(0, 0, minutes=1), _suspend(0, 1, minutes=2)
    state = _part(0, a1, a2, caught_up=False)
    row = state.progress_after([a1])
    assert row is not None
    assert (row.next_offset, row.reader_frontier, row.writer_frontier, row.low_frontier) == (
        1, a2.key, a2.key, a2.key)
    assert _part(0, a1, caught_up=True).progress_after([a1]).reader_frontier == IDLE


def test_stale_idle_claims_fall_back_and_missing_rows_block():
    now = T0 + timedelta(days=1)
    key = ordering_key(T0, 0, 1, 7)
    fresh = SimpleNamespace(reader_frontier=IDLE, writer_frontier=IDLE, low_frontier=IDLE,
                            last_key=key, high_ts=T0, updated_at=now)
    stale = SimpleNamespace(**{**vars(fresh), "updated_at": now - timedelta(minutes=5)})
    assert least_frontiers({1: fresh}, [1], now, 10).reader == IDLE
    assert least_frontiers({1: stale}, [1], now, 10).reader == key
    assert least_frontiers({1: fresh}, [1, 2], now, 10).writer == LOWEST
    assert release_instant(least_frontiers({1: fresh}, [1], now, 10)) == T0


def test_confirmations_and_refunds_follow_their_payment_to_its_customer():
    customers: dict[str, str] = {}
    paid = {"type": "order_paid", "order_id": "o1", "customer_id": "c1"}
    assert message_key(paid, customers) == "c1"
    assert message_key({"type": "order_refunded", "order_id": "o1"}, customers) == "c1"
    assert message_key({"type": "order_confirmed", "order_id": "o2"}, customers) == "o2"
    assert message_key({"type": "promoter_joined", "promoter_id": "p1"}, customers) == "p1"


def test_a_grade_set_is_a_writer_like_every_promoter_event() -> None:
    item = _item(0, 0, 0, "promoter_grade_set", promoter_id="p", grade="gold")
    assert (item.reads, item.writes) == (False, True)



def _paid(partition: int, offset: int, minutes: int) -> Item:
    event = parse_event({"event_id": f"p{partition}-{offset}", "type": "order_paid",
                         "ts": (T0 + timedelta(minutes=minutes)).isoformat(), "order_id":
                         f"o{partition}-{offset}", "customer_id": f"c{partition}",
                         "merchant_id": "m", "currency": "CNY",
                         "lines": [{"sku": "s", "category": "food", "amount": "10.00"}]})
    reads, writes = roles(event)
    return Item(ordering_key(event.ts, 0, partition, offset), partition, offset, event, None,
                reads, writes, 0, b"", None, pays=True)


def test_a_payment_is_published_as_a_reader_whatever_the_plan_book():
    paid = _paid(0, 0, 1)
    assert (paid.reads, paid.writes) == (True, False)
    part = _part(0, paid, _touch(0, 1, minutes=2), caught_up=False)
    progress = part.progress_after([])
    assert progress.reader_frontier == paid.key and progress.writer_frontier == part.last_key
    refund = parse_event({"event_id": "r", "type": "order_refunded", "ts": T0.isoformat(),
                          "order_id": "o", "lines": [{"sku": "s", "amount": "1.00"}]})
    assert roles(refund) == (False, False)  # reprices with the terms fixed at payment


def test_under_accumulators_a_payment_waits_for_earlier_payments_of_another_worker():
    mine = _paid(0, 0, minutes=10)
    parts = {0: _part(0, mine)}
    elsewhere = ordering_key(T0 + timedelta(minutes=5), 0, 1, 0)  # another customer's payment
    others = _others(reader=elsewhere)  # published as a reader, not as a writer
    assert choose(parts, others, 100, tallies=True) == {}
    assert choose(parts, others, 100) == {0: [mine]}  # v1: payments pass each other freely
    later = ordering_key(T0 + timedelta(minutes=11), 0, 1, 0)
    assert choose(parts, _others(reader=later), 100, tallies=True) == {0: [mine]}


def test_under_accumulators_a_touch_still_passes_payments_of_another_worker():
    touch = _touch(0, 0, minutes=10)
    elsewhere = ordering_key(T0 + timedelta(minutes=5), 0, 1, 0)
    assert choose({0: _part(0, touch)}, _others(reader=elsewhere), 100,
                  tallies=True) == {0: [touch]}


def _claims_view(row: SimpleNamespace, now: datetime) -> View:
    return View({1: row}, {1}, now, idle_ttl_s=10)


def _idle_row(last_key: str, next_offset: int, now: datetime) -> SimpleNamespace:
    return SimpleNamespace(reader_frontier=IDLE, writer_frontier=IDLE, low_frontier=IDLE,
                           last_key=last_key, next_offset=next_offset, high_ts=T0,
                           updated_at=now)


def _never_asked(partitions: object) -> dict[int, int]:
    raise AssertionError(f"the broker was asked about {partitions} for a claim that is not needed")


def test_an_idle_claim_the_broker_contradicts_does_not_let_a_later_payment_pass():
    now = T0 + timedelta(days=1)
    mine = _paid(0, 0, minutes=10)
    parts = {0: _part(0, mine)}
    row = _idle_row(ordering_key(T0 + timedelta(minutes=5), 0, 1, 3), next_offset=4, now=now)
    view = _claims_view(row, now)
    # partition 1 was read to offset 4 when its owner claimed IDLE; a new message (a payment
    # published since, maybe earlier than mine) sits at offset 4
    assert choose_checked(parts, view, 100, True, lambda _: {1: 5}) == {}
    assert choose_checked(parts, view, 100, True, lambda _: {1: 4}) == {0: [mine]}
    assert choose_checked(parts, view, 100, True, lambda _: None) == {}  # no answer: no trust


def test_a_claim_is_checked_only_when_the_choice_rests_on_it():
    now = T0 + timedelta(days=1)
    mine = _paid(0, 0, minutes=10)
    row = _idle_row(ordering_key(T0 + timedelta(minutes=20), 0, 1, 3), next_offset=4, now=now)
    chosen = choose_checked({0: _part(0, mine)}, _claims_view(row, now), 100, True, _never_asked)
    assert chosen == {0: [mine]}  # partition 1 has applied past minute 10 whatever follows


def test_an_own_partition_read_to_its_highwater_is_checked_like_another_workers():
    now = T0 + timedelta(days=1)
    early, late = _paid(1, 0, minutes=5), _paid(0, 0, minutes=10)
    parts = {0: _part(0, late), 1: _part(1, early)}
    parts[1].pop_applied(1)  # partition 1 applied up to minute 5, caught up (as it believes)
    view = View({}, set(), now, idle_ttl_s=10)
    assert choose_checked(parts, view, 100, True, lambda _: {0: 1, 1: 2}) == {}
    assert choose_checked(parts, view, 100, True, lambda _: {0: 1, 1: 1}) == {0: [late]}


def test_holds_are_released_only_up_to_a_partition_the_broker_shows_unread():
    now = T0 + timedelta(days=1)
    behind = _idle_row(ordering_key(T0 + timedelta(minutes=5), 0, 1, 3), next_offset=4, now=now)
    ahead = _idle_row(ordering_key(T0 + timedelta(minutes=20), 0, 2, 8), next_offset=9, now=now)
    behind.high_ts, ahead.high_ts = T0 + timedelta(minutes=5), T0 + timedelta(minutes=20)
    view = View({1: behind, 2: ahead}, {1, 2}, now, idle_ttl_s=10)
    # partition 1 has a message (a refund, maybe) past what its owner read: release up to it only
    assert release_instant_checked(view, lambda _: {1: 5, 2: 9}) == T0 + timedelta(minutes=5)
    assert release_instant_checked(view, lambda _: {1: 4, 2: 9}) == T0 + timedelta(minutes=20)
    lone = View({2: ahead}, {2}, now, idle_ttl_s=10)  # its own last key bounds it anyway
    assert release_instant_checked(lone, _never_asked) == T0 + timedelta(minutes=20)
