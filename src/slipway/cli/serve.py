"""``slipway serve`` (the inference server) and ``slipway build`` (a Docker build context)."""

from __future__ import annotations

from pathlib import Path

import typer

from slipway.cli.listen import check_listen_address
from slipway.cli.output import console, fail, print_json


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        target: str = typer.Argument(None, help="A model reference (name@alias, name/3) or a bundle folder."),
        deployment: str = typer.Option(None, "--deployment", "-d", help="Serve a deployment (its variants, canary, shadows)."),
        host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
        port: int = typer.Option(8080, help="Port to listen on."),
        workers: int = typer.Option(1, help="Worker processes (restarted if one dies)."),
        max_batch_rows: int = typer.Option(None, help="Largest micro-batch, in rows."),
        max_wait_ms: float = typer.Option(None, help="Longest a request waits for its batch to fill."),
        name: str = typer.Option(None, help="Model name when serving a bundle folder."),
        version: str = typer.Option(None, help="Model version when serving a bundle folder."),
        no_payload_log: bool = typer.Option(False, "--no-payload-log", help="Do not log requests to Parquet."),
        auth: bool = typer.Option(False, "--auth", help="Require a bearer token whose roles grant 'predict' "
                                                        "(health and metrics stay open)."),
        allow_unapproved: bool = typer.Option(False, "--allow-unapproved",
                                              help="Serve a MODEL_REF whose version is not approved (development "
                                                   "only: refused where [serving] environment is protected)."),
    ) -> None:
        """Serve a model or a deployment: Open Inference Protocol v2, KServe v1 and MLflow /invocations."""
        from slipway.core.settings import load_settings
        from slipway.serving.options import ServeOptions
        from slipway.serving.server import ServeTarget
        from slipway.serving.server import serve as run

        if (target is None) == (deployment is None):
            fail("give exactly one of MODEL_REF (or a bundle folder) and --deployment NAME")
        check_listen_address(host, port, workers)  # before the store is opened: a bad port is the first error
        settings = load_settings()
        options = ServeOptions.from_settings(settings, max_batch_rows=max_batch_rows,
                                            max_wait_ms=max_wait_ms, payload_log=False if no_payload_log else None,
                                            auth=True if auth else None,
                                            allow_unapproved=True if allow_unapproved else None)
        from slipway.workspace import open_workspace

        if options.auth and settings.remote:
            fail("serve --auth checks tokens in the metadata store: set SLIPWAY_STORE_URI, not SLIPWAY_SERVER_URL")
        if target is not None and Path(target).is_dir():
            spec = ServeTarget(bundle_path=target, bundle_name=name, bundle_version=version)
        elif deployment is not None:
            open_workspace(settings).serving.get(deployment)  # an unknown deployment fails here, with exit code 2
            spec = ServeTarget(deployment=deployment)
        else:
            from slipway.serving.approval_gate import check_servable

            # A bad reference, or an unapproved version the policy does not allow, fails here (exit code 2).
            check_servable(open_workspace(settings).registry.resolve(target), options)
            spec = ServeTarget(model_ref=target)
        check_listen_address(host, port, workers)  # again: the port may have been taken since
        console.print(f"Serving {target or 'deployment ' + deployment} on http://{host}:{port} "
                      f"({workers} worker{'s' if workers > 1 else ''})", highlight=False)
        run(settings, spec, open_workspace, host, port, workers, options)

    @app.command("build")
    def build(
        ref: str = typer.Argument("", help="A model reference (name@alias, name/3) to bake into the image."),
        outdir: Path = typer.Argument(None, help="Folder to write the build context into."),
        deployment: str = typer.Option("", "--deployment", help="Build the image that serves this deployment "
                                       "(the one 'deploy render' names) instead of one model."),
        overwrite: bool = typer.Option(False, help="Replace a non-empty OUTDIR."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Render a Docker build context (Dockerfile, pinned requirements, the Slipway package and, for
        a model, its bundle): `build REF OUTDIR` or `build --deployment NAME OUTDIR`."""
        from slipway.cli.context import workspace
        from slipway.cli.output import fail
        from slipway.core.errors import InvalidInput
        from slipway.serving.packaging import build_context, build_deployment_context

        if deployment and outdir is None and ref:
            ref, outdir = "", Path(ref)  # `build --deployment NAME OUTDIR`: the one argument is the folder
        if outdir is None or bool(deployment) == bool(ref):
            fail(InvalidInput("give a model reference and OUTDIR, or --deployment NAME and OUTDIR"))
        result = (build_deployment_context(workspace(), deployment, outdir, overwrite) if deployment
                  else build_context(workspace(), ref, outdir, overwrite))
        if as_json:
            print_json(result)
        else:
            what = result.get("model") or f"deployment {result['deployment']}"
            console.print(f"Build context for {what} in {result['path']}: docker build -t {result['image']} "
                          f"{result['path']}", highlight=False)
