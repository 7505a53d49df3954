"""The contract that nothing imports `api.cli` names every other module of `api`: a new module
left out of its list would be free to import the CLI without import-linter noticing."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_api_module_but_the_cli_is_a_source_of_the_no_cli_contract() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    no_cli = next(c for c in contracts if c.get("forbidden_modules") == ["api.cli"])
    api = ROOT / "api"
    modules = {f"api.{p.stem}" for p in api.glob("*.py") if p.stem not in ("__init__", "cli")}
    modules |= {f"api.{p.name}" for p in api.iterdir() if (p / "__init__.py").exists()}
    assert modules - set(no_cli["source_modules"]) == set()
