"""Proves the champion registry: `models:/fenrun-<name>@champion` loads once and round-trips what
training registered; a moved alias is served within the refresh interval while calls from many
threads keep succeeding without waiting on the load; a failed refresh keeps the old champion;
concurrent first calls load once; a missing champion names the command that makes one."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient

from api.app import create_app
from serving.champions import ChampionRegistry, load_model
from serving.config import ServingSettings
from serving.errors import NoChampion
from settlement.config import SettlementSettings
from tests.drift_store import _empty_store, tiny_profiles
from training import segments
from training.config import TrainingSettings
from training.registry import CHAMPION, configure_tracking

REFRESH_S = 0.3
SLOW_LOAD_S = 1.0  # a loader this slow shows whether any call waits on a load


@dataclass(frozen=True)
class Store:
    uri: str
    first: str  # the champion's version after training
    second: str  # another registered version (other parameters)
    profiles: pd.DataFrame


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    folder = tmp_path_factory.mktemp("champions")
    shutil.copyfile(_empty_store(), folder / "mlflow.db")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    configure_tracking(TrainingSettings(mlflow_tracking_uri=uri, seed=7,
                                        mlflow_artifact_root=str(folder / "artifacts"),
                                        mlflow_experiment="fenrun-test"))
    profiles = tiny_profiles()
    first = segments.train(TrainingSettings(seed=7), profiles, k_range=range(3, 4))
    second = segments.train(TrainingSettings(seed=7), profiles, k_range=range(4, 5))
    assert first.decision.promoted and second.decision.registered
    _move(uri, first.decision.version)
    return Store(uri, first.decision.version, second.decision.version, profiles)


def _move(uri: str, version: str) -> None:
    MlflowClient(tracking_uri=uri, registry_uri=uri).set_registered_model_alias(
        "fenrun-segments", CHAMPION, version)


@pytest.fixture
def champion_at_first(store: Store) -> Iterator[Store]:
    _move(store.uri, store.first)
    yield store
    _move(store.uri, store.first)


def _registry(store: Store, loader: Any = load_model) -> ChampionRegistry:
    return ChampionRegistry(ServingSettings(mlflow_tracking_uri=store.uri,
                                            champion_refresh_s=REFRESH_S), loader=loader)


def test_champion_round_trips_through_the_registry(champion_at_first: Store) -> None:
    store = champion_at_first
    registry = _registry(store)
    champion = registry.get("segments")
    assert (champion.name, champion.version) == ("fenrun-segments", store.first)
    assert registry.get("fenrun-segments") is champion  # cached: the same object, no reload
    features = store.profiles[list(segments.SEGMENT_FEATURES)]
    direct = mlflow.pyfunc.load_model(f"models:/fenrun-segments/{store.first}")
    pd.testing.assert_frame_equal(champion.model.predict(features), direct.predict(features))
    registry.close()


def test_a_moved_alias_is_served_within_the_interval_and_no_call_fails_or_waits(
        champion_at_first: Store) -> None:
    store = champion_at_first

    def slow(uri: str) -> Any:
        time.sleep(SLOW_LOAD_S)
        return load_model(uri)

    registry = _registry(store, slow)
    assert registry.get("segments").version == store.first
    seen: list[list[str]] = [[] for _ in range(4)]
    failures: list[BaseException] = []
    slowest_s = [0.0]
    stop = threading.Event()

    def caller(out: list[str]) -> None:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                out.append(registry.get("segments").version)
            except BaseException as error:  # noqa: BLE001 - the test counts every failure
                failures.append(error)
            slowest_s[0] = max(slowest_s[0], time.perf_counter() - started)
            time.sleep(0.005)

    threads = [threading.Thread(target=caller, args=(out,)) for out in seen]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    _move(store.uri, store.second)
    moved_at = time.perf_counter()
    deadline = moved_at + REFRESH_S + SLOW_LOAD_S + 10.0
    while registry.get("segments").version != store.second and time.perf_counter() < deadline:
        time.sleep(0.01)
    switched_after_s = time.perf_counter() - moved_at
    time.sleep(0.1)
    stop.set()
    for thread in threads:
        thread.join()
    registry.close()
    assert not failures
    assert registry.status()["fenrun-segments"] == (store.second, None)
    # within the interval plus the (deliberately slow) background load
    assert switched_after_s < REFRESH_S + SLOW_LOAD_S + 10.0, switched_after_s
    assert slowest_s[0] < SLOW_LOAD_S / 2, f"a call waited {slowest_s[0]:.2f}s on the load"
    for versions in seen:  # each thread: the old version, then only the new one
        assert versions[0] == store.first and versions[-1] == store.second
        switch = versions.index(store.second)
        assert set(versions[:switch]) == {store.first}
        assert set(versions[switch:]) == {store.second}


def test_a_failed_refresh_keeps_serving_the_old_champion(champion_at_first: Store) -> None:
    store = champion_at_first
    loads = [0]

    def breaks_after_first(uri: str) -> Any:
        loads[0] += 1
        if loads[0] > 1:
            raise OSError("artifact store unreachable")
        return load_model(uri)

    registry = _registry(store, breaks_after_first)
    assert registry.get("segments").version == store.first
    _move(store.uri, store.second)
    time.sleep(REFRESH_S)
    assert registry.get("segments").version == store.first  # starts the refresh
    registry.wait_for_refreshes()
    assert registry.get("segments").version == store.first  # still the old one, no error
    version, error = registry.status()["fenrun-segments"]
    assert version == store.first and error is not None and "unreachable" in error
    registry.close()


def test_concurrent_first_calls_load_once(champion_at_first: Store) -> None:
    store = champion_at_first
    loads = [0]

    def counting(uri: str) -> Any:
        loads[0] += 1
        time.sleep(0.2)
        return load_model(uri)

    registry = _registry(store, counting)
    versions: list[str] = []
    threads = [threading.Thread(target=lambda: versions.append(registry.get("segments").version))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    registry.close()
    assert versions == [store.first] * 8 and loads[0] == 1


def test_no_champion_names_the_command_to_run_first(tmp_path: Path) -> None:
    registry = ChampionRegistry(ServingSettings(
        mlflow_tracking_uri=f"sqlite:///{tmp_path / 'none.db'}"))
    with pytest.raises(NoChampion, match="run `fenrun train ltv` first"):
        registry.get("ltv")
    assert not (tmp_path / "none.db").exists()  # read only: no store is created
    registry.close()


def test_the_refresh_interval_is_a_bounded_setting() -> None:
    assert ServingSettings().champion_refresh_s == 30.0
    with pytest.raises(ValueError, match="champion_refresh_s"):
        ServingSettings(champion_refresh_s=-1)
    with pytest.raises(ValueError, match="champion_refresh_s"):
        ServingSettings(champion_refresh_s=86_400)


def test_the_app_keeps_one_registry_for_its_lifetime(champion_at_first: Store,
                                                     tmp_path: Path) -> None:
    settings = ServingSettings(mlflow_tracking_uri=champion_at_first.uri,
                               feature_store_dir=str(tmp_path))
    books = SettlementSettings(database_url=f"sqlite:///{tmp_path / 'books.db'}")
    app = create_app(settings, books)
    with TestClient(app):
        registry = app.state.champions
        assert isinstance(registry, ChampionRegistry)
        assert registry.get("segments").version == champion_at_first.first
