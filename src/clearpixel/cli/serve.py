"""`clearpixel serve`: the web app (tracking, consent pages, admin UI, API) under uvicorn."""

from __future__ import annotations

import typer

from clearpixel.cli.base import app, context


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
) -> None:
    """Serve tracking endpoints, consent and preference pages, the admin UI and the API."""
    import uvicorn

    from clearpixel.web.app import create_app

    with context() as ctx:
        uvicorn.run(create_app(ctx), host=host, port=port, log_level="warning", access_log=False)
