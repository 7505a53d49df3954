"""The `fenrun` commands' typed errors mapped, in one table, to exit codes; the message is the
error's own (it names the field, the model or the command to run first).

The CLI's counterpart of `api/errors.py`: a command parses its arguments, calls one service
inside `with exit_codes():`, and prints. The codes (stable, scripts rely on them):
- 2: nothing was done: an argument is wrong, or something must be run first (a champion, a
  snapshot, settled books); the message names the command that makes it;
- 1: the command ran into a failure it cannot fix by itself (the MLflow store is unreadable).
Cheap to import on purpose (`fenrun --help` loads every command module): only the light
error modules are imported here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from api.common import fail
from serving.errors import (
    NoChampion,
    NoDriftCheck,
    NoSnapshot,
    ServingError,
    TrackingUnavailable,
    UnknownModel,
    UnknownPromoter,
)
from settlement.errors import SettlementError
from training.trainers import CannotTrain

RUN_FIRST = 2  # an argument or a prerequisite is missing: nothing was done
FAILED = 1  # the command ran and failed

EXIT_CODES: dict[type[Exception], int] = {
    NoChampion: RUN_FIRST,
    NoSnapshot: RUN_FIRST,
    UnknownModel: RUN_FIRST,
    NoDriftCheck: RUN_FIRST,
    UnknownPromoter: RUN_FIRST,
    CannotTrain: RUN_FIRST,
    SettlementError: RUN_FIRST,
    TrackingUnavailable: FAILED,
    ServingError: FAILED,
}


def exit_code_of(error: Exception) -> int | None:
    """The table's code for the error's class or its nearest listed base; None if unlisted."""
    for kind in type(error).__mro__:
        if kind in EXIT_CODES:
            return EXIT_CODES[kind]
    return None


@contextmanager
def exit_codes() -> Iterator[None]:
    """Turn a listed error into `fenrun: <message>` on stderr and its exit code; others pass
    (an unlisted error is a bug and keeps its traceback)."""
    try:
        yield
    except tuple(EXIT_CODES) as error:
        code = exit_code_of(error)
        fail(str(error), FAILED if code is None else code)
