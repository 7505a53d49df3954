"""Model health, read side: each registered `fenrun-<name>` model, its champion and its latest
drift check, as frozen values for the API and the dashboard.

What it reads and why there: `training` registers models and logs drift checks to MLflow, and
serving must not import `training`, so the MLflow records are the contract:
- the registry's `champion` alias names the version serving would load;
- a drift check is a FINISHED run in the configured experiment tagged `kind=drift` and
  `model=fenrun-<name>`, with the tags `champion_version` and `drift.alerts` (comma list or
  "none"), the params `as_of`, `threshold` and `method`, a metric `drift_<column>` per column, and
  the report under `drift/`. The latest one (by start time) is the model's drift status.

Read only: nothing here writes to MLflow, and a local SQLite store that does not exist yet reads as
"no models" instead of being created.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from mlflow.entities import Run
from mlflow.entities.model_registry import RegisteredModel
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from serving.config import ServingSettings
from serving.errors import NoChampion, NoDriftCheck, TrackingUnavailable, UnknownModel

MODEL_PREFIX = "fenrun-"
CHAMPION = "champion"
SCORE_PREFIX = "drift_"
REPORT_ARTIFACT = "drift/drift_report.html"
# A bound on everything: one page of registered models is plenty for one mall's handful.
MAX_MODELS = 100


class DriftStatus(StrEnum):
    """What the latest drift check says about a model."""

    DRIFTED = "drifted"
    NO_DRIFT = "no_drift"
    NO_CHECK = "no_check"  # no drift check has been logged for the model yet


@dataclass(frozen=True)
class ColumnScore:
    """One column's drift score (normed Wasserstein) against the champion's reference."""

    column: str
    score: float
    above_threshold: bool
    # Named in the check's alerts: a *critical* feature above the threshold. Other columns above
    # it are reported, not alerted on (the rule lives in `training.drift`).
    alerted: bool


@dataclass(frozen=True)
class DriftCheck:
    """The result of one logged drift check."""

    model_name: str
    run_id: str
    checked_at: datetime  # when the check ran (UTC)
    as_of: datetime | None  # the instant the compared profiles were taken; None if not logged
    threshold: float
    method: str
    champion_version: str  # the champion the check compared with (it may have moved since)
    scores: tuple[ColumnScore, ...]  # highest score first
    alerts: tuple[str, ...]  # critical features that drifted, in the check's order

    @property
    def drifted(self) -> bool:
        return bool(self.alerts)

    @property
    def report_uri(self) -> str:
        """The full Evidently report (HTML) logged with the check."""
        return f"runs:/{self.run_id}/{REPORT_ARTIFACT}"


@dataclass(frozen=True)
class ModelHealth:
    """A registered model's champion and its latest drift check (None: no check yet)."""

    name: str
    champion_version: str | None  # None: registered but no version holds `champion`
    drift: DriftCheck | None

    @property
    def status(self) -> DriftStatus:
        if self.drift is None:
            return DriftStatus.NO_CHECK
        return DriftStatus.DRIFTED if self.drift.drifted else DriftStatus.NO_DRIFT

    @property
    def checked_current_champion(self) -> bool | None:
        """False when the champion moved after the latest check; None without a check."""
        if self.drift is None:
            return None
        return self.drift.champion_version == self.champion_version


def registered_name(name: str) -> str:
    """`segments` -> `fenrun-segments`; a name that already carries the prefix is kept."""
    return name if name.startswith(MODEL_PREFIX) else f"{MODEL_PREFIX}{name}"


def _parse_instant(value: str | None) -> datetime | None:
    """A logged ISO-8601 instant in UTC; None when absent or "unknown" (no as_of column)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def _scores(metrics: Mapping[str, float], threshold: float, alerts: tuple[str, ...]
            ) -> tuple[ColumnScore, ...]:
    columns = {k.removeprefix(SCORE_PREFIX): v for k, v in metrics.items()
               if k.startswith(SCORE_PREFIX)}
    return tuple(ColumnScore(c, s, s > threshold, c in alerts)
                 for c, s in sorted(columns.items(), key=lambda cs: (-cs[1], cs[0])))


def drift_check_from_run(run: Run) -> DriftCheck:
    """Read a `drift-*` run into a `DriftCheck` (pure: no MLflow calls)."""
    tags, params = run.data.tags, run.data.params
    raw_alerts = tags.get("drift.alerts", "none")
    alerts = () if raw_alerts in ("", "none") else tuple(raw_alerts.split(","))
    threshold = float(params.get("threshold", math.nan))
    return DriftCheck(
        model_name=tags.get("model", ""),
        run_id=run.info.run_id,
        checked_at=datetime.fromtimestamp(run.info.start_time / 1000, tz=UTC),
        as_of=_parse_instant(params.get("as_of")),
        threshold=threshold,
        method=params.get("method", "unknown"),
        champion_version=tags.get("champion_version", ""),
        scores=_scores(run.data.metrics, threshold, alerts),
        alerts=alerts,
    )


def _redacted(uri: str) -> str:
    """The URI without a password, so an error message can be shown to anyone."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


@contextmanager
def _reading(uri: str) -> Iterator[None]:
    """Turn an unexpected MLflow failure into `TrackingUnavailable`; our own errors pass."""
    try:
        yield
    except MlflowException as error:
        raise TrackingUnavailable(_redacted(uri), error.message) from error


class ModelHealthService:
    """Champion and latest drift check per registered model, read from MLflow.

    Build it once (API lifespan, dashboard resource cache) and share it: it holds one client.
    """

    def __init__(self, settings: ServingSettings) -> None:
        self._uri = settings.mlflow_tracking_uri
        self._experiment = settings.mlflow_experiment

    @cached_property
    def _client(self) -> MlflowClient:
        # Built on first use, not in __init__: MLflow creates a SQLite store when it opens one.
        return MlflowClient(tracking_uri=self._uri, registry_uri=self._uri)

    def models(self) -> tuple[ModelHealth, ...]:
        """Every registered `fenrun-*` model (at most `MAX_MODELS`), by name."""
        if self._store_missing():
            return ()
        with _reading(self._uri):
            found = self._client.search_registered_models(
                filter_string=f"name LIKE '{MODEL_PREFIX}%'", max_results=MAX_MODELS,
                order_by=["name ASC"])
            experiment_id = self._experiment_id()
            return tuple(self._health(model, experiment_id) for model in found)

    def model(self, name: str) -> ModelHealth:
        """One model by name (`segments` or `fenrun-segments`); `UnknownModel` if not registered."""
        full = registered_name(name)
        if self._store_missing():
            raise UnknownModel(full)
        with _reading(self._uri):
            try:
                found = self._client.get_registered_model(full)
            except MlflowException as error:
                if error.error_code == "RESOURCE_DOES_NOT_EXIST":
                    raise UnknownModel(full) from error
                raise
            return self._health(found, self._experiment_id())

    def latest_drift(self, name: str) -> DriftCheck:
        """The model's latest drift check; `UnknownModel` or `NoDriftCheck` when there is none."""
        health = self.model(name)
        if health.drift is None:
            raise NoDriftCheck(health.name)
        return health.drift

    def _health(self, model: RegisteredModel, experiment_id: str | None) -> ModelHealth:
        champion = (model.aliases or {}).get(CHAMPION)
        return ModelHealth(name=model.name,
                           champion_version=None if champion is None else str(champion),
                           drift=self._latest_check(model.name, experiment_id))

    def _latest_check(self, name: str, experiment_id: str | None) -> DriftCheck | None:
        if experiment_id is None:
            return None
        runs = self._client.search_runs(
            experiment_ids=[experiment_id],
            filter_string=(f"tags.kind = 'drift' AND tags.model = '{name}' "
                           "AND attributes.status = 'FINISHED'"),
            order_by=["attributes.start_time DESC"], max_results=1)
        return drift_check_from_run(runs[0]) if runs else None

    def _experiment_id(self) -> str | None:
        experiment = self._client.get_experiment_by_name(self._experiment)
        return None if experiment is None else experiment.experiment_id

    def champion_document(self, name: str, artifact: str) -> tuple[str, dict[str, object]]:
        """The champion's version and a JSON artifact of the run that logged it (the segments'
        `segments.json`, say); `NoChampion` when no version holds the alias."""
        full = registered_name(name)
        if self._store_missing():
            raise NoChampion(full)
        with _reading(self._uri):
            try:
                version = self._client.get_model_version_by_alias(full, CHAMPION)
            except MlflowException as error:
                if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                    raise NoChampion(full) from error
                raise
            if version.run_id is None:  # registered from outside a run: no artifacts
                raise NoChampion(full)
            with tempfile.TemporaryDirectory() as folder:
                path = self._client.download_artifacts(version.run_id, artifact, folder)
                document = json.loads(Path(path).read_text(encoding="utf-8"))
        return str(version.version), document

    def _store_missing(self) -> bool:
        """True for a local SQLite store whose file does not exist (nothing trained yet)."""
        if not self._uri.startswith("sqlite:///"):
            return False
        return not Path(self._uri.removeprefix("sqlite:///")).exists()
