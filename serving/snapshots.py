"""Choosing one stored snapshot: the newest, or the one of an instant the caller names."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from serving.errors import NoSnapshot


def pick(available: Sequence[pd.Timestamp], as_of: pd.Timestamp | None, what: str,
         how_to_make: str) -> pd.Timestamp:
    """The stored instant equal to `as_of` (any offset), or the newest of `available` (newest
    first); `NoSnapshot` naming `what` and, when there is none at all, `how_to_make` one."""
    if not available:
        raise NoSnapshot(f"no {what} stored: run `{how_to_make}`")
    if as_of is None:
        return available[0]
    wanted = pd.Timestamp(as_of)
    found = next((t for t in available if t == wanted), None)  # the stored instant, in UTC
    if found is None:
        raise NoSnapshot(f"no {what} as of {wanted.isoformat()}")
    return found
