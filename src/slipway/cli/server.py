"""``slipway server``: run the platform API."""

from __future__ import annotations

import typer

from slipway.cli.output import console


def register(app: typer.Typer) -> None:
    @app.command("server")
    def server(
        host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
        port: int = typer.Option(5050, help="Port to listen on."),
        workers: int = typer.Option(1, help="Worker processes."),
    ) -> None:
        """Run the platform REST API (OpenAPI at /api/v1/docs) and the web UI (at /) over the configured stores."""
        import uvicorn

        from slipway.cli.listen import announce_when_listening, check_listen_address
        from slipway.core.settings import load_settings
        from slipway.server.bootstrap import prepare

        check_listen_address(host, port, workers)  # one line and exit 2, not uvicorn's log line and exit 3
        settings = load_settings(server_url="")
        note = prepare(settings)
        if note:
            console.print(note)
        # Said once the port answers (not before uvicorn has bound it), so "wait for this line" works.
        announce_when_listening(host, port, f"Slipway server on http://{host}:{port} (store {settings.resolved_store_uri})",
                                console.print)
        # An idle keep-alive connection stays open 75 s (uvicorn's default is 5 s): clients such as
        # MLflow's keep theirs while they decode a large page (25,000 metric points take seconds on a
        # busy machine) and send the next request on it; closed under them, that request fails.
        uvicorn.run("slipway.ui.main:app", host=host, port=port, workers=workers, log_level="warning",
                    factory=False, timeout_keep_alive=75)
