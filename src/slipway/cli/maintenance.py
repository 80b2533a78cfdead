"""``slipway gc``: delete artifact-store blobs that nothing in the metadata store references."""

from __future__ import annotations

import typer

from slipway.cli.context import workspace
from slipway.cli.output import JsonOption, console, fail, print_json
from slipway.core.events import Action, Subject


def register(app: typer.Typer) -> None:
    @app.command("gc")
    def gc(
        dry_run: bool = typer.Option(False, "--dry-run", help="Report what would be deleted; delete nothing."),
        grace_seconds: float = typer.Option(
            3600.0, "--grace-seconds", min=0.0,
            help="Keep unreferenced blobs younger than this (a writer stores blobs before it commits the row "
                 "that references them)."),
        as_json: bool = JsonOption,
    ) -> None:
        """Garbage-collect the artifact store (embedded stores only; run it on the server's host)."""
        from slipway.blobs.gc import collect_garbage, remove_stale_temporaries
        from slipway.local.transport import LocalTransport
        from slipway.store.references import referenced_digests

        ws = workspace()
        if ws.remote:
            fail(f"gc works on the stores directly; run it on the host of {ws.settings.server_url}")
        local = LocalTransport(ws.settings)
        local.principal.require("admin", "collect garbage in the artifact store")
        with local.db.read() as conn:
            roots = referenced_digests(conn)
        report = collect_garbage(local.blobs, roots, grace_seconds=grace_seconds, dry_run=dry_run)
        if not dry_run:
            # Uploads to a server whose artifact store is an object store spool in $SLIPWAY_HOME/tmp.
            remove_stale_temporaries(str(ws.settings.home / "tmp"), grace_seconds)
            with local.db.write() as conn:
                local.ctx.audit(conn, Action.BLOBS_GC, Subject.ARTIFACT_STORE, local.blobs.uri,
                                {"deleted": report.deleted, "bytes_freed": report.bytes_freed, "live": report.live})
        if as_json:
            print_json(report)
            return
        verb = "would delete" if dry_run else "deleted"
        console.print(f"{verb} {report.deleted} blobs ({report.bytes_freed:,} bytes); kept {report.live} referenced "
                      f"and {report.kept_young} younger than {grace_seconds:g} s")
