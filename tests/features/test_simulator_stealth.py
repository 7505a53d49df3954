"""Proves the simulator's fraud stealth: at 0 (the default) the files of a seed are the bytes
they were before stealth existed (a pinned digest), and above 0 the same fraudsters are drawn
while the rules see less of them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from features.simulator import SimulationConfig, simulate

# events.jsonl + labels.csv of 400 promoters, 60 days, seed 7, computed before stealth existed.
PINNED = "df7a35f1d2f544ffff9fa1c97f6a7562ae6f945df6e36766c1f74940a93fde3c"


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for name in ("events.jsonl", "labels.csv"):
        h.update((folder / name).read_bytes())
    return h.hexdigest()


def test_no_stealth_keeps_existing_seeds_byte_identical(tmp_path: Path) -> None:
    simulate(tmp_path, SimulationConfig(promoters=400, days=60, seed=7))
    assert digest(tmp_path) == PINNED


def test_stealth_hides_fraud_but_draws_the_same_fraudsters(tmp_path: Path) -> None:
    plain = simulate(tmp_path / "plain", SimulationConfig(promoters=400, days=60, seed=7))
    hidden = simulate(tmp_path / "hidden", SimulationConfig(promoters=400, days=60, seed=7,
                                                            fraud_stealth=1.0))
    assert hidden.fraud_promoters == plain.fraud_promoters
    assert digest(tmp_path / "hidden") != PINNED
    # Fully stealthy bursts trickle: fewer fraud orders than the plain floods.
    assert hidden.orders < plain.orders


def test_stealth_outside_zero_to_one_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="fraud_stealth: 1.5"):
        SimulationConfig(fraud_stealth=1.5)
