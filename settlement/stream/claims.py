"""Caught-up claims, checked against the broker before an event is applied on their strength.

A partition is *caught up* when its reader has read everything the broker held at its last
fetch: its owner then publishes IDLE frontiers (progress.py), and its own worker lets events of
its other partitions pass its last key (buffer.choose). Both are claims about the broker, made
at some earlier instant: a message published since (the next orders of a live mall) is already
in the partition while the claim still stands. Trusting it, a worker would apply its own new
events ahead of earlier ones sitting unread in another partition: under plans v2 a payment would
be priced before an earlier payment of another customer was counted in the accumulators, and
under any book a touch could pass its promoter's suspension.

So a claim decides nothing unchecked: when the events a worker may apply trusting every claim
are more than it may apply trusting none, it asks the broker for the end offsets of the claimed
partitions (one ListOffsets request, after the frontiers were read from the database) and keeps
only the claims with nothing beyond their position. A message that reaches the broker after
that request is *late* (settlement/STREAMING.md, Honest limits), as it would be for `fenrun
settle` run before it was written. Claims that are not needed are never checked, so a backlog
(where nobody is caught up) costs nothing more. The release instant of holds rests on the same
claims and is checked the same way: a refund already in the broker finds its hold unreleased.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from settlement.stream.buffer import Item, PartitionState, choose
from settlement.stream.keys import LOWEST, key_offset
from settlement.stream.progress import claims_idle, least_frontiers, release_instant

# partition -> offset the broker will give its next message; None: the broker did not answer
EndOffsets = Callable[[Collection[int]], Mapping[int, int] | None]


@dataclass(frozen=True, slots=True)
class View:
    """What a worker reads before choosing: the progress rows of the other workers' partitions."""

    rows: Mapping[int, Any]
    others: Collection[int]
    now: datetime
    idle_ttl_s: float


def claimed_positions(parts: Mapping[int, PartitionState], view: View) -> dict[int, int]:
    """Every caught-up claim the choice could rest on: partition -> position claimed read to.

    Own partitions claim their read position; another worker's row claims the offset after its
    last key read (its `next_offset` when it has read nothing since it resumed).
    """
    claims = {pid: part.position for pid, part in parts.items() if part.caught_up}
    for pid in view.others:
        row = view.rows.get(pid)
        if row is not None and claims_idle(row, view.now, view.idle_ttl_s):
            claims[pid] = (key_offset(row.last_key) + 1 if row.last_key != LOWEST
                           else row.next_offset)
    return claims


def _choose(parts: Mapping[int, PartitionState], view: View, limit: int, tallies: bool,
            unproven: Collection[int]) -> dict[int, list[Item]]:
    frontiers = least_frontiers(view.rows, view.others, view.now, view.idle_ttl_s,
                                distrust=unproven)
    return choose(parts, frontiers, limit, tallies, unread=unproven)


def choose_checked(parts: Mapping[int, PartitionState], view: View, limit: int, tallies: bool,
                   end_offsets: EndOffsets) -> dict[int, list[Item]]:
    """`buffer.choose`, resting on no caught-up claim the broker contradicts.

    Trusting fewer claims only lowers frontiers, and `choose` stops at the first event that must
    wait, so the choice trusting none is a prefix of the choice trusting all: when both have the
    same length, no claim matters and the broker is not asked.
    """
    trusting = _choose(parts, view, limit, tallies, ())
    claims = claimed_positions(parts, view)
    if not trusting or not claims:
        return trusting
    count = sum(map(len, trusting.values()))
    if sum(map(len, _choose(parts, view, limit, tallies, claims).values())) == count:
        return trusting
    ends = end_offsets(claims)
    if ends is None:
        stale: Collection[int] = claims  # no answer: trust nothing this step
    else:
        stale = {pid for pid, position in claims.items() if ends.get(pid, position + 1) > position}
    return _choose(parts, view, limit, tallies, stale) if stale else trusting


def release_instant_checked(view: View, end_offsets: EndOffsets) -> datetime | None:
    """`progress.release_instant` over `view.others` (here: every partition, the releasing
    worker's own rows included), resting on no IDLE claim the broker contradicts: a refund
    already in the broker must not find its hold released."""
    def instant(distrust: Collection[int]) -> datetime | None:
        return release_instant(least_frontiers(view.rows, view.others, view.now,
                                               view.idle_ttl_s, distrust=distrust))

    trusting = instant(())
    claims = claimed_positions({}, view)
    if trusting is None or not claims or instant(claims) == trusting:
        return trusting
    ends = end_offsets(claims)
    if ends is None:
        return instant(claims)
    return instant({pid for pid, position in claims.items()
                    if ends.get(pid, position + 1) > position})
