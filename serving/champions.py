"""The one place that loads registered models: `models:/fenrun-<name>@champion`, kept hot.

Why a registry and not `load_model` per request: loading a model costs a registry look-up, an
artifact download and unpickling (tens to hundreds of milliseconds); scoring costs a few. And a
retrain moves the `champion` alias while requests are in flight, so the process must notice the
move without a restart and without failing a request.

How (invariants):
- `get(name)` returns the loaded champion and its version. The first call for a name loads it
  in the caller (a missing champion is `NoChampion`, an unreadable store `TrackingUnavailable`).
- After `champion_refresh_s` (ServingSettings) the next call still returns the loaded champion
  at once and starts one background look-up of the alias; when it moved, the new version is
  loaded in that background thread and swapped in whole. Until then the old one answers: a call
  never waits on, nor fails from, a refresh.
- A failed refresh (store down, alias removed, artifact unreadable) keeps the old champion, logs
  a warning and is retried after the next `champion_refresh_s`; `status()` shows the error.
- Thread-safe: one lock guards the table; one first-load lock per name, so concurrent first
  calls load once; one background worker, at most one refresh per name in flight.
- Bounded: at most `MAX_CHAMPIONS` names (they are code constants: segments, anomaly, ltv).
- Read only: a local SQLite store that does not exist is `NoChampion`, never created.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from serving.config import ServingSettings
from serving.errors import NoChampion, TrackingUnavailable
from serving.model_health import CHAMPION, _redacted, registered_name

log = logging.getLogger(__name__)
MAX_CHAMPIONS = 16
_MISSING = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")  # no such model / alias


@dataclass(frozen=True)
class Champion:
    """A loaded champion: the registered name, the version it was loaded from, and the model
    (the native estimator for scikit-learn models, whose `score_samples` serving needs; an
    MLflow pyfunc otherwise)."""

    name: str
    version: str
    run_id: str | None
    model: Any


@dataclass
class _Slot:
    champion: Champion
    checked_at_s: float  # monotonic instant the alias was last resolved
    refreshing: bool = False
    last_error: str | None = None


def load_model(uri: str) -> Any:
    """The model at `uri`: a scikit-learn estimator when it has that flavour, else a pyfunc."""
    loaded = mlflow.pyfunc.load_model(uri)
    if "sklearn" in loaded.metadata.flavors:
        return loaded.get_raw_model()
    return loaded


def _store_missing(uri: str) -> bool:
    return uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists()


class ChampionRegistry:
    """Loaded champions by name, re-resolved at most every `champion_refresh_s` (module doc).

    Build one per process (the API lifespan, a CLI command, the dashboard's resource cache),
    share it, and `close()` it at shutdown.
    """

    def __init__(self, settings: ServingSettings,
                 loader: Callable[[str], Any] = load_model,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._uri = settings.mlflow_tracking_uri
        self._ttl_s = settings.champion_refresh_s
        self._load, self._clock = loader, clock
        self._lock = threading.Lock()
        self._slots: dict[str, _Slot] = {}
        self._first_load: dict[str, threading.Lock] = {}
        self._pending: dict[str, Future[None]] = {}
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fenrun-champions")
        self._client: MlflowClient | None = None

    def get(self, name: str) -> Champion:
        """The champion of `name` (`anomaly` or `fenrun-anomaly`), loaded once and kept hot."""
        full = registered_name(name)
        with self._lock:
            slot = self._slots.get(full)
            if slot is not None:
                self._maybe_refresh(full, slot)
                return slot.champion
            if full not in self._first_load and len(self._first_load) >= MAX_CHAMPIONS:
                raise ValueError(f"name: {full!r} would be champion number "
                                 f"{MAX_CHAMPIONS + 1}; at most {MAX_CHAMPIONS} are kept")
            first = self._first_load.setdefault(full, threading.Lock())
        with first:  # concurrent first calls: one loads, the others find it loaded
            with self._lock:
                slot = self._slots.get(full)
            if slot is not None:
                return slot.champion
            champion = self._load_version(full, self._resolve(full))
            with self._lock:
                self._slots[full] = _Slot(champion, self._clock())
            return champion

    def status(self) -> dict[str, tuple[str, str | None]]:
        """name -> (version served, the last refresh error or None)."""
        with self._lock:
            return {n: (s.champion.version, s.last_error) for n, s in self._slots.items()}

    def wait_for_refreshes(self, timeout_s: float = 60.0) -> None:
        """Block until the refreshes started so far have finished (tests, orderly shutdown)."""
        with self._lock:
            pending = list(self._pending.values())
        wait(pending, timeout=timeout_s)

    def close(self) -> None:
        """Stop the background worker; refreshes not started yet are dropped."""
        self._worker.shutdown(wait=False, cancel_futures=True)

    def _maybe_refresh(self, full: str, slot: _Slot) -> None:
        """Under the lock: start one background look-up when the TTL ran out."""
        if slot.refreshing or self._clock() - slot.checked_at_s < self._ttl_s:
            return
        slot.refreshing = True
        try:
            self._pending[full] = self._worker.submit(self._refresh, full, slot)
        except RuntimeError:  # closed: keep serving what is loaded
            slot.refreshing = False

    def _refresh(self, full: str, slot: _Slot) -> None:
        """Background: resolve the alias; load and swap in a moved champion; keep the old one on
        any failure (the request path must never see it)."""
        error: str | None = None
        try:
            fresh = self._fetch(full, slot.champion.version)
        except Exception as failure:  # noqa: BLE001 - whatever broke, the old champion serves
            fresh, error = None, f"{type(failure).__name__}: {failure}"
            log.warning("%s: refresh failed, still serving v%s (%s)", full,
                        slot.champion.version, error)
        with self._lock:
            if fresh is not None:
                log.info("%s: champion moved v%s -> v%s", full, slot.champion.version,
                         fresh.version)
                slot.champion = fresh
            slot.last_error = error
            slot.checked_at_s = self._clock()
            slot.refreshing = False

    def _fetch(self, full: str, current: str | None) -> Champion | None:
        """The champion behind the alias, loaded; None when it is still version `current`."""
        version = self._resolve(full)
        return None if str(version.version) == current else self._load_version(full, version)

    def _load_version(self, full: str, version: ModelVersion) -> Champion:
        with self._reading():
            uri = self._registry().get_model_version_download_uri(full, version.version)
        model = self._load(uri)
        return Champion(full, str(version.version), version.run_id, model)

    def _resolve(self, full: str) -> ModelVersion:
        if _store_missing(self._uri):
            raise NoChampion(full)
        with self._reading():
            try:
                return self._registry().get_model_version_by_alias(full, CHAMPION)
            except MlflowException as error:
                if error.error_code in _MISSING:
                    raise NoChampion(full) from error
                raise

    def _registry(self) -> MlflowClient:
        # Built on first use: MLflow creates a SQLite store when it opens one.
        if self._client is None:
            self._client = MlflowClient(tracking_uri=self._uri, registry_uri=self._uri)
        return self._client

    @contextmanager
    def _reading(self) -> Iterator[None]:
        try:
            yield
        except MlflowException as error:
            raise TrackingUnavailable(_redacted(self._uri), error.message) from error
