"""MLflow tracking set-up, the champion gate, data fingerprints and model cards, for every trainer.

Why a gate: a retrain must never silently replace a better model. A new version is registered for
every training run on new data or parameters (so it can be inspected and compared), but the
`champion` alias, which serving
loads as `models:/fenrun-<name>@champion`, moves only when the candidate strictly beats the current
champion on the *same* holdout, scored by the caller. Otherwise the version gets `challenger`. The
rule and both scores are logged to the candidate's run, so every promotion can be audited.

A run whose data fingerprints and parameters equal those of the version holding `champion` or
`challenger` registers nothing: the same seeded fit would only add an identical version.

Aliases, not stages: MLflow stages are deprecated, aliases are what `models:/NAME@ALIAS` resolves.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import scipy
import sklearn
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from training.config import TrainingSettings

CHAMPION = "champion"
# Pinned, not inferred: MLflow's inference imports the model in a subprocess (seconds per log).
SKLEARN_REQUIREMENTS = [f"scikit-learn=={sklearn.__version__}", f"numpy=={np.__version__}",
                        f"pandas=={pd.__version__}", f"scipy=={scipy.__version__}"]
CHALLENGER = "challenger"
MODEL_PREFIX = "fenrun-"


@dataclass(frozen=True)
class GateDecision:
    """The outcome of `register_and_gate`: which alias the new version got, and why."""

    promoted: bool
    alias: str  # "champion" | "challenger"
    model_name: str
    version: str
    metric: str
    candidate: float
    champion: float | None
    rule: str
    registered: bool = True  # False: the run matched an existing version, nothing was added


def registered_name(name: str) -> str:
    """`segments` -> `fenrun-segments`; a name that already carries the prefix is kept."""
    return name if name.startswith(MODEL_PREFIX) else f"{MODEL_PREFIX}{name}"


def champion_uri(name: str) -> str:
    """The URI serving and tests load: `models:/fenrun-<name>@champion`."""
    return f"models:/{registered_name(name)}@{CHAMPION}"


def _local_store_path(uri: str) -> Path | None:
    """The file behind a `sqlite:///` URI or a plain path, so its directory can be created."""
    if uri.startswith("sqlite:///"):
        return Path(uri.removeprefix("sqlite:///"))
    if "://" not in uri:
        return Path(uri)
    return None


def _artifact_location(root: str, experiment: str) -> str:
    """An absolute URI: a relative artifact root would resolve against whichever cwd runs later."""
    if "://" in root and not root.startswith("file://"):
        return f"{root.rstrip('/')}/{experiment}"
    path = Path(root.removeprefix("file://")).resolve() / experiment
    path.mkdir(parents=True, exist_ok=True)
    return path.as_uri()


def configure_tracking(settings: TrainingSettings) -> None:
    """Point MLflow (tracking and registry) at the configured store and select the experiment.

    The experiment is created with an explicit artifact location on first use; an existing one is
    reused as it is (MLflow cannot move an experiment's artifacts).
    """
    store = _local_store_path(settings.mlflow_tracking_uri)
    if store is not None:
        store.parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_registry_uri(settings.mlflow_tracking_uri)
    client = MlflowClient()
    if client.get_experiment_by_name(settings.mlflow_experiment) is None:
        location = _artifact_location(settings.mlflow_artifact_root, settings.mlflow_experiment)
        client.create_experiment(settings.mlflow_experiment, artifact_location=location)
    mlflow.set_experiment(settings.mlflow_experiment)


def current_champion(model_name: str, client: MlflowClient | None = None) -> ModelVersion | None:
    """The version holding the `champion` alias, or None when the model or alias does not exist."""
    client = client or MlflowClient()
    try:
        return client.get_model_version_by_alias(registered_name(model_name), CHAMPION)
    except MlflowException:
        return None


def _is_better(candidate: float, champion: float, higher_is_better: bool) -> bool:
    return candidate > champion if higher_is_better else candidate < champion


def _decide(
    metric: str, candidate: float, champion: float | None, has_champion: bool, higher: bool,
    unscored: str | None = None,
) -> tuple[bool, str]:
    """(promote?, the rule in words) — kept apart from MLflow so it reads as the policy it is.

    `unscored` says why a NaN score is expected (an unsupervised model trained without labels):
    then the first version becomes champion unscored, and later ones stay challenger.
    """
    direction = "higher" if higher else "lower"
    if math.isnan(candidate) and unscored is not None:
        if not has_champion:
            return True, (f"no champion yet and {unscored}: first version becomes champion "
                          f"without a {metric} comparison")
        return False, f"{unscored}: no {metric} to compare with the champion, kept challenger"
    if math.isnan(candidate):
        return False, f"candidate {metric} is NaN: never promoted"
    if not has_champion:
        return True, f"no champion yet: first valid version becomes champion ({metric})"
    if champion is None:
        return False, "champion exists but no scorer for the same holdout: kept challenger"
    if math.isnan(champion) or _is_better(candidate, champion, higher):
        return True, (f"candidate {metric}={candidate:.6g} strictly {direction} than champion "
                      f"{champion:.6g} on the same holdout: promoted")
    return False, (f"candidate {metric}={candidate:.6g} not strictly {direction} than champion "
                   f"{champion:.6g} on the same holdout: kept challenger")


def register_and_gate(
    run_id: str,
    artifact_path: str,
    model_name: str,
    metric: str,
    candidate_score: float,
    score_champion: Callable[[str], float] | None,
    higher_is_better: bool = True,
    unscored: str | None = None,
) -> GateDecision:
    """Register `runs:/run_id/artifact_path` as a new version; alias it `champion` or `challenger`.

    `score_champion(model_uri)` must score the current champion on the holdout the candidate was
    scored on; it is called only when a champion exists. Ties keep the champion (strictly better).
    `unscored`: why a NaN `candidate_score` is expected (see `_decide`). A run identical to the
    champion's or the challenger's (`same_as_registered`) registers nothing.
    """
    name = registered_name(model_name)
    client = MlflowClient()
    twin = same_as_registered(client, name, run_id)
    if twin is not None:
        return unchanged_decision(client, run_id, name, metric, float(candidate_score), *twin)
    incumbent = current_champion(name, client)
    champion_score: float | None = None
    if incumbent is not None and score_champion is not None:
        champion_score = float(score_champion(f"models:/{name}/{incumbent.version}"))
    promoted, rule = _decide(metric, float(candidate_score), champion_score,
                             incumbent is not None, higher_is_better, unscored)
    version = mlflow.register_model(f"runs:/{run_id}/{artifact_path}", name)
    alias = CHAMPION if promoted else CHALLENGER
    client.set_registered_model_alias(name, alias, version.version)
    client.set_model_version_tag(name, version.version, "gate.rule", rule)
    _log_gate(client, run_id, alias, rule, metric, float(candidate_score), champion_score,
              incumbent.version if incumbent is not None else None)
    return GateDecision(promoted=promoted, alias=alias, model_name=name,
                        version=str(version.version), metric=metric,
                        candidate=float(candidate_score), champion=champion_score, rule=rule)


def _fingerprints(tags: Mapping[str, str]) -> dict[str, str]:
    """The data fingerprints a run was tagged with (`data_fingerprint`, `train_data_fingerprint`,
    ...): what the model saw."""
    return {k: v for k, v in tags.items() if k.endswith("data_fingerprint")}


def same_as_registered(client: MlflowClient, name: str, run_id: str
                       ) -> tuple[str, ModelVersion] | None:
    """(alias, version) of the champion or challenger whose run saw the same data (every
    fingerprint tag equal, at least one) with the same parameters as `run_id`; None otherwise.

    Why: a seeded fit of the same data with the same parameters is the same model; registering
    it again only buries the real changes in identical versions.
    """
    candidate = client.get_run(run_id).data
    prints = _fingerprints(candidate.tags)
    if not prints:
        return None
    for alias in (CHAMPION, CHALLENGER):
        try:
            version = client.get_model_version_by_alias(name, alias)
        except MlflowException:
            continue
        if version.run_id is None or version.run_id == run_id:
            continue
        other = client.get_run(version.run_id).data
        if _fingerprints(other.tags) == prints and other.params == candidate.params:
            return alias, version
    return None


def unchanged_decision(client: MlflowClient, run_id: str, name: str, metric: str,
                       candidate: float, alias: str, twin: ModelVersion) -> GateDecision:
    """The decision for a run identical to an existing version: nothing registered, said so."""
    rule = (f"same data fingerprint and parameters as v{twin.version} ({alias}): "
            "no new version registered")
    client.set_tag(run_id, "gate.alias", "none")
    client.set_tag(run_id, "gate.rule", rule)
    client.set_tag(run_id, "gate.same_as_version", str(twin.version))
    return GateDecision(promoted=False, alias=alias, model_name=name, version=str(twin.version),
                        metric=metric, candidate=candidate, champion=None, rule=rule,
                        registered=False)


def _log_gate(
    client: MlflowClient, run_id: str, alias: str, rule: str, metric: str,
    candidate: float, champion: float | None, champion_version: str | None,
) -> None:
    client.set_tag(run_id, "gate.alias", alias)
    client.set_tag(run_id, "gate.rule", rule)
    client.set_tag(run_id, "gate.metric", metric)
    client.set_tag(run_id, "gate.previous_champion_version", champion_version or "none")
    if not math.isnan(candidate):
        client.log_metric(run_id, f"gate_candidate_{metric}", candidate)
    if champion is not None and not math.isnan(champion):
        client.log_metric(run_id, f"gate_champion_{metric}", champion)


def data_fingerprint(frame: pd.DataFrame) -> str:
    """A SHA-256 of the columns, dtypes and values: the same data hashes the same on every run.

    Row order and column order count (they change what a seeded model sees); the index does not.
    """
    digest = hashlib.sha256()
    digest.update("\x1f".join(f"{c}:{t}" for c, t in frame.dtypes.astype(str).items()).encode())
    digest.update(str(frame.shape).encode())
    if len(frame):
        hashed = pd.util.hash_pandas_object(frame.reset_index(drop=True), index=False)
        digest.update(hashed.to_numpy().tobytes())
    return digest.hexdigest()


def _section(title: str, body: str | Sequence[str] | Mapping[str, object]) -> str:
    if isinstance(body, Mapping):
        lines = [f"| {k} | {v:.6g} |" if isinstance(v, float) else f"| {k} | {v} |"
                 for k, v in body.items()]
        text = "| name | value |\n| --- | --- |\n" + "\n".join(lines)
    elif isinstance(body, str):
        text = body
    else:
        text = "\n".join(f"- {item}" for item in body)
    return f"## {title}\n{text}\n"


def log_model_card(
    *,
    model_name: str,
    purpose: str,
    data: str | Mapping[str, object],
    features: Sequence[str],
    metrics: Mapping[str, object],
    limits: str | Sequence[str],
    params: Mapping[str, object] | None = None,
    run_id: str | None = None,
    artifact_file: str = "model_card.md",
) -> str:
    """Write a markdown model card (purpose, data, features, metrics, limits) to the run; return it.

    Logs to `run_id` when given, else to the active run.
    """
    parts = [f"# Model card: {registered_name(model_name)}\n", _section("Purpose", purpose),
             _section("Data", data), _section("Features", list(features)),
             _section("Metrics", dict(metrics))]
    if params:
        parts.append(_section("Parameters", dict(params)))
    parts.append(_section("Limits", limits))
    text = "\n".join(parts)
    if run_id is not None:
        MlflowClient().log_text(run_id, text, artifact_file)
    else:
        mlflow.log_text(text, artifact_file)
    return text
