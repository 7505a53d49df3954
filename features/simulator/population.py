"""The promoters: a referral forest grown over the period, with grades, talent, churn and devices.

Promoters are numbered in join order, so a parent always has a smaller number and an earlier
join instant than its child (join instants are strictly increasing). Fan-out is heavy-tailed
because inviters are drawn in proportion to a Pareto "pull"; selling talent is lognormal and many
promoters never sell at all. Referral rings are carved out of the join sequence here, because
their members must invite each other in a chain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.simulator.catalog import CATEGORY_WEIGHTS, CHANNEL_SHARES, GRADE_SHARES
from features.simulator.timeline import DAY_S

SEED_COHORT_SHARE = 0.2  # promoters migrated from an older system, all joining on day one
ACTIVE_SHARE = 0.6  # promoters who ever sell through their link
CHURN_SHARE = 0.5  # promoters who go quiet at some point
MEAN_TENURE_DAYS = 150
RING_SIZES = (3, 8)
MAX_PULL = 150.0  # caps one inviter's draw so no single promoter recruits a third of the mall


class IdSpace:
    """Hands out consecutive integer ids (customers, devices, IPs) so none is used twice."""

    def __init__(self, first: int = 0) -> None:
        self.next = first

    def take(self, count: int) -> np.ndarray:
        ids = np.arange(self.next, self.next + count, dtype=np.int64)
        self.next += count
        return ids

    def one(self) -> int:
        self.next += 1
        return self.next - 1


@dataclass(slots=True)
class Population:
    join_s: np.ndarray  # strictly increasing
    parent: np.ndarray  # -1 for a root
    grade: np.ndarray
    talent: np.ndarray  # relative selling intensity, 0 = never sells
    quiet_s: np.ndarray  # from this instant on the promoter no longer sells
    channel: np.ndarray  # main channel index
    favourite: np.ndarray  # favourite category index
    device: np.ndarray
    ip: np.ndarray
    fraud: np.ndarray  # fraud type code, filled in by the fraud injectors
    rings: list[np.ndarray]  # member numbers of each referral ring, in chain order

    def __len__(self) -> int:
        return len(self.join_s)


def _join_instants(rng: np.random.Generator, n: int, horizon_s: int) -> np.ndarray:
    """Day-one cohort, then joins that grow over the period; strictly increasing seconds."""
    seed_end = min(DAY_S, horizon_s // 4)
    n_seed = int(n * SEED_COHORT_SHARE)
    seeded = rng.integers(60, max(seed_end, 61), n_seed)
    late_lo, late_hi = seed_end, int(horizon_s * 0.97)
    later = late_lo + (late_hi - late_lo) * rng.random(n - n_seed) ** 0.8
    raw = np.sort(np.concatenate([seeded, later.astype(np.int64)]))
    steps = np.arange(n, dtype=np.int64)
    return np.maximum.accumulate(raw - steps) + steps  # strictly increasing, order kept


def _ring_blocks(rng: np.random.Generator, n: int, members: int) -> list[np.ndarray]:
    """Disjoint runs of consecutive join numbers, one per ring, outside the day-one cohort."""
    if members <= 0:
        return []
    members = max(members, 2)  # a ring needs someone to buy through
    sizes: list[int] = []
    while sum(sizes) < members:
        sizes.append(int(rng.integers(RING_SIZES[0], RING_SIZES[1] + 1)))
    sizes[-1] -= sum(sizes) - members
    if len(sizes) > 1 and sizes[-1] < RING_SIZES[0]:
        last = sizes.pop()
        sizes[-1] += last
    lo = int(n * SEED_COHORT_SHARE) + 1
    free = int(n * 0.95) - lo - members
    if free < 0:
        return []
    gaps = np.sort(rng.integers(0, free + 1, len(sizes)))
    blocks, used = [], 0
    for gap, size in zip(gaps.tolist(), sizes, strict=True):
        start = lo + gap + used
        blocks.append(np.arange(start, start + size, dtype=np.int64))
        used += size
    return blocks


def _parents(rng: np.random.Generator, pull: np.ndarray, seed_n: int) -> np.ndarray:
    """Each promoter's inviter, drawn among earlier promoters in proportion to their pull."""
    n = len(pull)
    cum = np.cumsum(pull)
    idx = np.arange(n)
    target = rng.random(n) * np.concatenate([[0.0], cum[:-1]])
    parent = np.searchsorted(cum, target, side="right").astype(np.int64)
    root_p = np.where(idx < seed_n, 0.5, 0.08)
    parent[(rng.random(n) < root_p) | (idx == 0)] = -1
    return np.minimum(parent, np.maximum(idx - 1, -1))


def _grades(rng: np.random.Generator, talent: np.ndarray) -> np.ndarray:
    score = np.log(talent + 0.05) + rng.normal(0.0, 1.0, len(talent))
    cuts = np.quantile(score, np.cumsum(GRADE_SHARES)[:-1])
    return np.searchsorted(cuts, score, side="right").astype(np.int8)


def grow_population(
    rng: np.random.Generator, n: int, horizon_s: int, ring_members: int,
    devices: IdSpace, ips: IdSpace,
) -> Population:
    """Grow `n` promoters over the period, `ring_members` of them arranged in referral rings."""
    join_s = _join_instants(rng, n, horizon_s)
    latent = rng.normal(0.0, 1.0, n)
    talent = np.exp(1.15 * latent + rng.normal(0.0, 0.5, n)) * (rng.random(n) < ACTIVE_SHARE)
    pull = np.minimum((rng.pareto(1.3, n) + 0.05) * np.exp(0.5 * latent), MAX_PULL)
    rings = _ring_blocks(rng, n, ring_members)
    ring_ids = np.concatenate(rings) if rings else np.zeros(0, dtype=np.int64)
    pull[ring_ids] = 0.0  # outsiders are never recruited into a ring
    talent[ring_ids] = 0.0
    parent = _parents(rng, pull, int(n * SEED_COHORT_SHARE))
    device, ip = devices.take(n), ips.take(n)
    for block in rings:
        parent[block[1:]] = block[:-1]  # each member invited by the previous one
        shared = devices.take(2)
        device[block] = shared[rng.integers(0, 2, len(block))]
        ip[block] = ips.one()
    tenure = rng.exponential(MEAN_TENURE_DAYS * DAY_S, n).astype(np.int64) + 3 * DAY_S
    quiet_s = np.where(rng.random(n) < CHURN_SHARE, join_s + tenure, np.iinfo(np.int64).max // 4)
    return Population(
        join_s=join_s, parent=parent, grade=_grades(rng, talent), talent=talent,
        quiet_s=quiet_s,
        channel=rng.choice(len(CHANNEL_SHARES), n, p=CHANNEL_SHARES).astype(np.int8),
        favourite=rng.choice(len(CATEGORY_WEIGHTS), n, p=CATEGORY_WEIGHTS).astype(np.int8),
        device=device, ip=ip, fraud=np.zeros(n, dtype=np.int8), rings=rings,
    )


def children_index(parent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSR of the forest: children of p are `kids[offsets[p]:offsets[p + 1]]`."""
    has_parent = np.flatnonzero(parent >= 0)
    order = has_parent[np.argsort(parent[has_parent], kind="stable")]
    counts = np.bincount(parent[has_parent], minlength=len(parent))
    offsets = np.concatenate([[0], np.cumsum(counts)])
    return order, offsets
