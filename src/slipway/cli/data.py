"""``slipway data …``: versioned datasets, profiles, schemas and validation.

Heavy modules (Arrow, DuckDB, DataSketches) are imported inside the commands that need them, so
quick commands like ``data status`` start fast.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import typer

from slipway.cli.output import JsonOption, console, fail, print_json, print_table
from slipway.core.errors import NotFound
from slipway.data.refs import given_path

app = typer.Typer(help="Version datasets, profile and validate them, and move them between stores.",
                  no_args_is_help=True)
schema_app = typer.Typer(help="Infer, show and edit a dataset's schema (YAML, versioned).", no_args_is_help=True)
app.add_typer(schema_app, name="schema")


def _data() -> Any:
    from slipway.cli.context import workspace

    return workspace().data


def _size(n: int | None) -> str:
    from slipway.cli.quick import size_text

    return size_text(n)


@contextlib.contextmanager
def _progress(label: str, total: int | None, enabled: bool) -> Iterator[Callable[[int], None] | None]:
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import Progress

    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


@app.command("add")
def add(
    name: str = typer.Argument(..., help="Dataset name."),
    path: Path = typer.Argument(..., help="A file or a folder.", parser=given_path),
    key: list[str] = typer.Option(None, "--key", "-k", help="Column identifying a row (repeat for several)."),
    message: str = typer.Option("", "--message", "-m", help="What changed."),
    pointer: bool = typer.Option(False, "--pointer", help="Also write PATH.slipway naming the version "
                                 "(commit it with Git; 'slipway data checkout' restores the data)."),
    as_json: bool = JsonOption,
) -> None:
    """Add a file or folder as the next version of NAME (nothing is created if it did not change)."""
    if not path.exists():
        fail(NotFound(f"no file or folder at {path}"))
    total = path.stat().st_size if path.is_file() else None
    with _progress(f"storing {path.name}", total, not as_json) as progress:
        version = _data().add(name, path, key=key or None, message=message, progress=progress, pointer=pointer)
    from slipway.cli.quick import print_added

    print_added(version, as_json)
    if pointer and not as_json:
        from slipway.data.pointers import pointer_file

        console.print(f"Wrote pointer {pointer_file(path)} (commit it with Git)", highlight=False, soft_wrap=True)


@app.command("checkout")
def checkout(
    paths: list[Path] = typer.Argument(None, help="Pointer files, data paths or folders (default: every pointer "
                                       "file under this folder)."),
    force: bool = typer.Option(False, "--force", "-f", help="Overwrite or remove files with unversioned changes."),
    link: bool = typer.Option(False, "--link", help="Hard-link to the stored read-only blobs instead of copying."),
    as_json: bool = JsonOption,
) -> None:
    """Restore the data versions the pointer files (PATH.slipway) name, e.g. after 'git checkout'."""
    done = _data().checkout(paths or [], force=force, link=link)
    if as_json:
        print_json([{"ref": d.ref, "path": d.path, "written": d.written, "removed": d.removed} for d in done])
        return
    if not done:
        console.print("No pointer files found (write them with 'slipway data add NAME PATH --pointer')")
    for item in done:
        what = (f"{len(item.written)} written, {len(item.removed)} removed" if item.changed else "up to date")
        console.print(f"{item.path}: {item.ref} ({what})", highlight=False, soft_wrap=True)


@app.command("ls")
def ls(name: str = typer.Argument(None, help="List this dataset's versions."), as_json: bool = JsonOption) -> None:
    """List datasets, or the versions of one dataset."""
    data = _data()
    if name is None:
        found = data.list_datasets()
        if as_json:
            print_json(found)
        else:
            print_table("Datasets", ["name", "versions", "latest", "key"],
                        [[d.name, d.versions, d.latest, ", ".join(d.key_columns)] for d in found])
        return
    versions = data.versions(name)
    if as_json:
        print_json(versions)
    else:
        print_table(f"Versions of {name}", ["version", "kind", "rows", "files", "size", "created by", "message"],
                    [[v.version, v.kind, v.rows, v.file_count, _size(v.size), v.created_by, v.message] for v in versions])


@app.command("show")
def show(ref: str = typer.Argument(..., help="NAME or NAME@VERSION."), as_json: bool = JsonOption) -> None:
    """Files, size, rows, schema, profile and the runs and models that used a version."""
    data = _data()
    version = data.get_version(ref)
    files = data.files(version)
    usage = data.usage(version)
    profiles = {path: p.summary() for path, p in data.profile(version).items()}
    if as_json:
        print_json({"version": version, "ref": version.ref, "files": files, "profile": profiles,
                    "runs": usage.runs, "models": usage.models})
        return
    console.print(f"[bold]{version.ref}[/]  {version.kind}, {version.file_count:,} files, {_size(version.size)}, "
                  f"rows {version.rows if version.rows is not None else '-'}; digest {version.digest}")
    console.print(f"created by {version.created_by}; key {version.key_columns or '-'}; {version.message}")
    print_table("Files", ["path", "size", "digest"], [[f["path"], _size(f["size"]), f["digest"][:12]] for f in files[:50]])
    if len(files) > 50:
        console.print(f"... and {len(files) - 50:,} more files (use --json for all)")
    for path, summary in profiles.items():
        rows = [[col, s["type"], s["nulls"], s["distinct"], _num(s.get("min")), _num(s.get("max")), _num(s.get("mean")),
                 ", ".join(str(t[0]) for t in s.get("top", [])[:3])] for col, s in summary.items()]
        print_table(f"Profile of {path}", ["column", "type", "nulls", "distinct", "min", "max", "mean", "top"], rows)
    console.print(f"Runs that used it: {', '.join(usage.runs) or 'none'}")
    console.print(f"Models trained from it: {', '.join(usage.models) or 'none'}")


def _num(value: Any) -> str:
    return "" if value is None else f"{value:.6g}"


@app.command("get")
def get(ref: str = typer.Argument(..., help="NAME@VERSION."), dest: Path = typer.Argument(..., help="Where to put it.", parser=given_path),
        link: bool = typer.Option(False, "--link", help="Hard-link to the stored read-only blobs instead of copying "
                                  "(fast, no extra space; never edit such a file in place)."),
        force: bool = typer.Option(False, "--force", "-f", help="Overwrite files with unversioned changes."),
        copy: bool = typer.Option(False, "--copy", hidden=True, help="Copy (the default; kept for old scripts).")) -> None:
    """Materialise a version's files (verified first; copies, or reflinks where the file system has them).

    A file already at DEST whose bytes are not stored (edited, or never added) is not overwritten
    without --force.
    """
    out = _data().get(ref, dest, link=link and not copy, force=force)
    console.print(f"Wrote {ref} to {out}")


@app.command("status")
def status(name: str = typer.Argument(...), path: Path = typer.Argument(..., help="Working file or folder.", parser=given_path),
           as_json: bool = JsonOption,
           exit_code: bool = typer.Option(False, "--exit-code", help="Exit with 1 when PATH differs from the "
                                          "latest version (like 'git diff --exit-code').")) -> None:
    """Compare a working file or folder with the latest version (like 'dvc status')."""
    if not path.exists():
        fail(NotFound(f"no file or folder at {path}"))
    from slipway.cli.quick import print_status

    print_status(_data().status(name, path), name, path, as_json, exit_code)


@app.command("watch")
def watch(path: Path = typer.Argument(..., help="The working folder to watch.", parser=given_path),
          detach: bool = typer.Option(False, "--detach", help="Run in the background; return once it answers."),
          stop: bool = typer.Option(False, "--stop", help="Stop the watcher of PATH.")) -> None:
    """Watch a working folder so 'data status' on it answers at once (Linux inotify, like git's fsmonitor)."""
    from slipway.data import watch_client

    folder = path.resolve()
    if not folder.is_dir():
        fail(NotFound(f"folder {path} does not exist"))
    from slipway.cli.context import workspace

    home = workspace().settings.home
    running = watch_client.request(home, folder, {"ping": True})
    if stop:
        if running is None:
            fail(NotFound(f"no watcher of {folder} is running"))
        watch_client.request(home, folder, {"stop": True})
        console.print(f"Stopped the watcher of {folder} (pid {running['pid']}).")
        return
    if running is not None:
        console.print(f"{folder} is already watched (pid {running['pid']}).")
        return
    if detach:
        import shlex

        pid = _start_watcher(home, folder)
        console.print(f"Watching {folder} (pid {pid}); {shlex.join(['slipway', 'data', 'watch', str(path), '--stop'])} "
                      "stops it.", highlight=False)
        return
    import signal

    stopping: list[bool] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    with contextlib.suppress(KeyboardInterrupt):
        _data().watch(folder, ready=lambda _: console.print(f"Watching {folder}; Ctrl-C stops."),
                      stop=lambda: bool(stopping))


def _start_watcher(home: Path, folder: Path) -> int:
    """Start ``slipway data watch FOLDER`` in its own session; its pid once it answers."""
    import subprocess
    import time

    from slipway.data import watch_client

    log_dir = Path(home) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "watch.log", "ab") as log:
        child = subprocess.Popen([sys.executable, "-m", "slipway.cli.main", "data", "watch", str(folder)],
                                 stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + 300  # the baseline hashes files the stat cache does not know
    while time.monotonic() < deadline:
        answer = watch_client.request(home, folder, {"ping": True})
        if answer is not None:
            return int(answer["pid"])
        if child.poll() is not None:
            fail(f"the watcher of {folder} exited with code {child.returncode}; see {log_dir / 'watch.log'}")
        time.sleep(0.05)
    child.kill()
    fail(f"the watcher of {folder} did not start within 300 s; see {log_dir / 'watch.log'}")
    raise AssertionError("unreachable")


@app.command("diff")
def diff(old: str = typer.Argument(..., help="NAME@A"), new: str = typer.Argument(..., help="NAME@B"),
         as_json: bool = JsonOption) -> None:
    """Files added, removed and changed; for tables rows by key, schema changes and shifted columns."""
    result = _data().diff(old, new)
    if as_json:
        print_json(result)
        return
    print_table(f"Files {result.old} -> {result.new}", ["change", "path"], [[c.change, c.path] for c in result.files])
    for t in result.tables:
        console.print(f"[bold]{t.table}[/]: {t.old_rows:,} -> {t.new_rows:,} rows; added {t.rows_added}, removed "
                      f"{t.rows_removed}, changed {t.rows_changed if t.rows_changed is not None else '-'}"
                      f" (key {', '.join(t.key_columns) or 'none: whole rows'})")
        if t.columns_added or t.columns_removed or t.type_changes:
            console.print(f"  columns added {t.columns_added}, removed {t.columns_removed}, types {t.type_changes}")
        print_table("Columns whose distribution moved most", ["column", "metric", "score"],
                    [[s.column, s.metric, f"{s.score:.4f}"] for s in t.shifted])


@app.command("push")
def push(ref: str = typer.Argument(..., help="NAME or NAME@VERSION."),
         remote: str = typer.Option(..., "--remote", "-r", help="Artifact store URI: a folder, s3://…, any fsspec URL."),
         workers: int = typer.Option(8, help="Parallel copies.")) -> None:
    """Copy a version's blobs that the remote lacks (resumable: run it again after an interruption)."""
    data = _data()
    total = len(data.remote_digests(ref))
    with _progress(f"pushing {ref}", total, True) as progress:
        moved = data.push(ref, remote, workers=workers, progress=progress)
    console.print(f"Pushed {ref} to {remote}: {moved} of {total} blobs copied, {total - moved} already there.")


@app.command("pull")
def pull(ref: str = typer.Argument(..., help="NAME or NAME@VERSION."),
         remote: str = typer.Option(..., "--remote", "-r", help="Artifact store URI to fetch from."),
         workers: int = typer.Option(8, help="Parallel copies."),
         repair: bool = typer.Option(False, "--repair", help="Also re-hash the blobs held here and replace corrupt "
                                                             "ones with the remote's copy.")) -> None:
    """Fetch a version's blobs that this store lacks from a remote store (--repair: and corrupt ones)."""
    with _progress(f"pulling {ref}", None, True) as progress:
        moved = _data().pull(ref, remote, workers=workers, progress=progress, repair=repair)
    console.print(f"Pulled {ref} from {remote}: {moved} blobs copied.")


@app.command("verify")
def verify(ref: str = typer.Argument(None, help="NAME or NAME@VERSION (default: every version of every dataset)."),
           as_json: bool = JsonOption) -> None:
    """Re-hash every blob of a version (or of all versions); exit 1 naming each corrupt or missing file."""
    data = _data()
    if ref is not None:
        reports = [data.verify(ref)]
    else:
        reports = [data.verify(v) for d in data.list_datasets() for v in data.versions(d.name)]
    if as_json:
        print_json([{"ref": r.ref, "blobs": r.blobs, "corrupt": r.corrupt, "missing": r.missing, "ok": r.ok}
                    for r in reports])
    bad = [r for r in reports if not r.ok]
    if bad:
        problems = [f"{r.ref} corrupt: {c}" for r in bad for c in r.corrupt]
        problems += [f"{r.ref} missing: {m}" for r in bad for m in r.missing]
        fail(f"{len(bad)} of {len(reports)} versions failed verification; " + "; ".join(problems), code=1)
    if not as_json:
        console.print(f"{len(reports)} versions, {sum(r.blobs for r in reports)} blobs: all match their digests.")


@app.command("validate")
def validate(
    target: str = typer.Argument(..., help="NAME[@VERSION] or a CSV/Parquet file."),
    schema: str = typer.Option(None, "--schema", "-s", help="A YAML file or a dataset name (default: the target's dataset)."),
    table: str = typer.Option(None, "--table", help="Which table of a folder version."),
    as_json: bool = JsonOption,
) -> None:
    """Check data against a schema; exit 1 when an anomaly is at error level."""
    report = _data().validate(target, schema=schema, table=table)
    if as_json:
        print_json({"target": report.target, "rows": report.rows, "ok": report.ok, "anomalies": report.anomalies})
    else:
        print_table(f"Anomalies in {report.target} ({report.rows:,} rows)", ["severity", "kind", "column", "share", "detail"],
                    [[a.severity, a.kind, a.column or "", "" if a.share is None else f"{a.share:.2%}", a.detail]
                     for a in report.anomalies])
        console.print("OK: no error-level anomalies." if report.ok else "FAILED: error-level anomalies found.")
    if not report.ok:
        raise typer.Exit(1)


@schema_app.command("infer")
def schema_infer(ref: str = typer.Argument(..., help="NAME or NAME@VERSION."),
                 table: str = typer.Option(None, "--table", help="Which table of a folder version."),
                 dry_run: bool = typer.Option(False, "--dry-run", help="Print it without storing it.")) -> None:
    """Infer a schema from a version and store it as the dataset's next schema revision."""
    revision = _data().infer_schema(ref, table=table, save=not dry_run)
    sys.stdout.write(revision.body)
    if not dry_run:
        console.print(f"# stored as schema revision {revision.revision} of {revision.dataset}", style="dim")


@schema_app.command("show")
def schema_show(name: str = typer.Argument(...), revision: int = typer.Option(None, "--revision"),
                as_json: bool = JsonOption) -> None:
    """Print a dataset's schema (the newest revision unless --revision)."""
    found = _data().schema(name, revision)
    if as_json:
        print_json(found)
    else:
        sys.stdout.write(found.body)


@schema_app.command("edit-file")
def schema_edit_file(name: str = typer.Argument(...), file: Path = typer.Argument(..., help="The edited YAML file.")) -> None:
    """Store an edited YAML file as the dataset's next schema revision (checked first)."""
    if not file.is_file():
        fail(NotFound(f"no schema file at {file}"))
    revision = _data().save_schema(name, file.read_text())
    console.print(f"Stored schema revision {revision.revision} of {name}.")
