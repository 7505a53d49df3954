"""The trainers `fenrun train NAME` can run, and the outcome every one of them returns.

To add a model, write `training/<name>.py` with `train(settings: TrainingSettings) -> TrainOutcome`
and add one line to `TRAINERS` below. A trainer reads its own data from the settings (database,
feature store, `train_as_of`), logs one MLflow run and goes through `registry.register_and_gate`.
`fenrun train all` runs every entry in this order.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from training.config import TrainingSettings

if TYPE_CHECKING:  # the registry imports MLflow; the CLI lists trainers without it
    from training.registry import GateDecision


@dataclass(frozen=True)
class TrainOutcome:
    """What a training run produced: the run, the gate's decision and the headline metrics."""

    name: str
    run_id: str
    decision: GateDecision
    metrics: dict[str, float] = field(default_factory=dict)


Trainer = Callable[[TrainingSettings], TrainOutcome]


class CannotTrain(ValueError):
    """The data cannot support this model (too little history, no labels...): say why, move on."""

# name -> "module:function"; imported lazily so one model's dependencies never slow another's.
TRAINERS: dict[str, str] = {
    "segments": "training.segments:train",
    "anomaly": "training.anomaly:train",
    "ltv": "training.ltv.train:train",
}


def get_trainer(name: str) -> Trainer:
    """The trainer registered under `name`; KeyError names the known ones."""
    if name not in TRAINERS:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(TRAINERS)}")
    module, function = TRAINERS[name].split(":")
    trainer: Trainer = getattr(importlib.import_module(module), function)
    return trainer
