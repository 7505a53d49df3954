"""Choosing one stored snapshot: the newest, or the newest at or before an instant the caller
names (a report is as of the instant it was built; asking "as of" a later instant gets the latest
known by then, as the books would answer)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from serving.errors import NoSnapshot


def pick(available: Sequence[pd.Timestamp], as_of: pd.Timestamp | None, what: str,
         how_to_make: str) -> pd.Timestamp:
    """The newest of `available` (newest first) at or before `as_of` (any offset), or the newest
    of all without `as_of`; `NoSnapshot` naming `what` and, when there is none at all,
    `how_to_make` one. `what` names the kind of report, never where it is stored."""
    if not available:
        raise NoSnapshot(f"no {what} stored: run `{how_to_make}`")
    if as_of is None:
        return available[0]
    wanted = pd.Timestamp(as_of)
    found = next((t for t in available if t <= wanted), None)  # the stored instant, in UTC
    if found is None:
        raise NoSnapshot(f"no {what} at or before {wanted.isoformat()}: the oldest is as of "
                         f"{available[-1].isoformat()}")
    return found
