"""`fenrun` starts fast: loading the CLI imports none of the heavy ML or data libraries."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("mlflow", "evidently", "lightgbm", "sklearn", "pandas", "kafka")


def test_loading_every_command_stays_light():
    probe = ("import sys, api.cli; "
             f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert loaded == "", f"importing api.cli loaded {loaded}; import them inside the command"
