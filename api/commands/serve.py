"""`fenrun serve`: run the HTTP API (`api.app`) with uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer


def serve_command(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port", min=1, max=65_535)] = 8000,
) -> None:
    """Serve the HTTP API (GET /health, /models, /models/{name}/drift) until interrupted."""
    import uvicorn  # heavy: the app pulls in FastAPI and MLflow

    from api.app import create_app

    uvicorn.run(create_app(), host=host, port=port)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
