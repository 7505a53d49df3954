"""Running a dashboard script under Streamlit's AppTest the way `streamlit run` would read it."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"
APP = DASHBOARDS / "app.py"  # the entry point: runs the default page
VIEWS = DASHBOARDS / "views"


def run_script(script: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
               timeout: float = 30) -> AppTest:
    """Set the `FENRUN_` variables of `env`, drop the per-process caches (another test's
    services and data), run `script` and fail on any exception it raised."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    st.cache_data.clear()
    st.cache_resource.clear()
    app = AppTest.from_file(str(script), default_timeout=timeout).run()
    assert not app.exception, app.exception
    return app
