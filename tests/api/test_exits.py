"""Proves the CLI's one error table: every error serving raises on purpose has an exit code, a
missing prerequisite is 2 with the error's own message (naming the command to run first), an
unreadable store is 1, and an unlisted error keeps its traceback."""

from __future__ import annotations

import inspect

import pytest
import typer

import serving.errors as serving_errors
from api.exits import EXIT_CODES, exit_code_of, exit_codes
from serving.errors import NoChampion, NoSnapshot, ServingError, TrackingUnavailable
from settlement.errors import InvalidEvent
from training.trainers import CannotTrain


def test_every_serving_error_has_a_code() -> None:
    kinds = [k for _, k in inspect.getmembers(serving_errors, inspect.isclass)
             if issubclass(k, ServingError)]
    assert kinds and all(exit_code_of(k.__new__(k)) in (1, 2) for k in kinds)
    assert set(EXIT_CODES.values()) == {1, 2}


def test_a_missing_prerequisite_exits_2_with_its_message(capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    with pytest.raises(typer.Exit) as exited, exit_codes():
        raise NoChampion("fenrun-anomaly")
    assert exited.value.exit_code == 2
    assert capsys.readouterr().err.strip() == (
        "fenrun: fenrun-anomaly has no champion: run `fenrun train anomaly` first "
        "(a version becomes champion when it wins the gate)")
    for error in (NoSnapshot("no flags stored: run `fenrun risk flag --as-of DATE`"),
                  CannotTrain("too little history"), InvalidEvent("ts", "x", "bad")):
        assert exit_code_of(error) == 2


def test_an_unreadable_store_exits_1_and_a_bug_keeps_its_traceback() -> None:
    with pytest.raises(typer.Exit) as exited, exit_codes():
        raise TrackingUnavailable("sqlite:///x.db", "disk I/O error")
    assert exited.value.exit_code == 1
    with pytest.raises(KeyError), exit_codes():
        raise KeyError("a bug")
