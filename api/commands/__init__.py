"""Command modules of the `fenrun` CLI beyond the settlement core.

Each module here exposes `register(app: typer.Typer) -> None`; `api.cli` calls every one of them,
so a new command is a new file and nobody edits a shared list.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer


def register_all(app: typer.Typer) -> None:
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        importlib.import_module(f"{__name__}.{module.name}").register(app)
