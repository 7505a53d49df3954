"""A batch's Settler, and with it the workspace of everything the batch read and changed, is
freed by reference counting the moment the batch is done: it holds no reference cycle that
would keep it alive until the cyclic garbage collector happens to run."""

from __future__ import annotations

import gc
import weakref

from settlement.engine import APPLIED, Settler
from settlement.repository import DatabaseSource
from settlement.service import sort_events
from settlement.state import Workspace


def test_a_settler_is_freed_without_the_cyclic_collector(books, plans, ev):
    events = sort_events([ev.join("2026-03-01T08:00:00Z", "A"),
                          ev.touch("2026-03-02T10:00:00Z", "B", "A"),
                          ev.paid("2026-03-02T10:05:00Z", "o1", "B", ("tea", "food", "100.00"))])
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        with books.connect() as conn:
            workspace = Workspace(DatabaseSource(conn), plans.max_lookback_days)
            workspace.prefetch(events)
            settler = Settler(workspace, plans)
            assert [settler.apply(e).status for e in events] == [APPLIED] * 3
            settler_ref, workspace_ref = weakref.ref(settler), weakref.ref(workspace)
            del settler, workspace
            assert settler_ref() is None, "a reference cycle keeps the Settler alive"
            assert workspace_ref() is None, "a reference cycle keeps the batch's workspace"
    finally:
        if was_enabled:
            gc.enable()
