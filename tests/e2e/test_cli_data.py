"""``slipway data …`` as a user runs it: real files, a real store, exit codes and --json output."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pytest
import yaml

from tests.support import AI4I

Cli = Callable[..., tuple[int, str, str]]


def flat(text: str) -> str:
    """Rich wraps lines at the terminal width; fold whitespace so a message reads as one line."""
    return " ".join(text.split())


def command_lines(err: str) -> list[str]:
    """The lines of an in-process command's stderr, without the "slipway: …" lines a background
    thread of an earlier test in this process may print meanwhile (a run heartbeat whose server
    has stopped retries and says so)."""
    lines = [line for line in err.strip().splitlines() if not line.startswith("slipway: ")]
    assert lines or not err.strip(), err  # what was left out is only such background lines
    return lines


def _head(tmp_path: Path, rows: int) -> Path:
    path = tmp_path / f"rows{rows}" / "ai4i.csv"
    path.parent.mkdir()
    path.write_text("".join(AI4I.read_text().splitlines(keepends=True)[: rows + 1]))
    return path


def test_add_ls_show_diff_get_status(cli: Cli, tmp_path: Path) -> None:
    first, full = _head(tmp_path, 7000), _head(tmp_path, 10_000)
    code, out, _ = cli("data", "add", "ai4i", first, "--key", "UDI", "-m", "first drop")
    assert code == 0 and "Created ai4i@1 (7,000 rows" in flat(out)
    assert cli("data", "add", "ai4i", full)[0] == 0
    code, out, _ = cli("data", "add", "ai4i", full)
    assert code == 0 and "Unchanged: ai4i@2" in flat(out) and "no new version" in flat(out)

    code, out, _ = cli("data", "ls", "--json")
    assert code == 0 and [(d["name"], d["versions"], d["latest"]) for d in orjson.loads(out)] == [("ai4i", 2, 2)]
    code, out, _ = cli("data", "ls", "ai4i", "--json")
    assert [v["rows"] for v in orjson.loads(out)] == [7000, 10_000]
    code, out, _ = cli("data", "show", "ai4i@1", "--json")
    shown = orjson.loads(out)
    assert shown["ref"] == "ai4i@1" and shown["files"][0]["path"] == "ai4i.csv"
    torque = pa_csv.read_csv(first).column("Torque [Nm]")
    assert shown["profile"]["ai4i.csv"]["Torque [Nm]"]["max"] == pc.max(torque).as_py() and shown["runs"] == []
    code, out, _ = cli("data", "show", "ai4i")
    assert code == 0 and "ai4i@2" in flat(out) and "Profile of ai4i.csv" in flat(out)

    code, out, _ = cli("data", "diff", "ai4i@1", "ai4i@2", "--json")
    (table,) = orjson.loads(out)["tables"]  # JSON survives the whitespace folding
    assert (table["rows_added"], table["rows_removed"]) == (3000, 0)

    dest = tmp_path / "got"
    dest.mkdir()
    assert cli("data", "get", "ai4i@1", dest)[0] == 0
    assert (dest / "ai4i.csv").read_bytes() == first.read_bytes()
    code, out, _ = cli("data", "status", "ai4i", full, "--json")
    assert code == 0 and orjson.loads(out)["clean"] is True
    code, out, _ = cli("data", "status", "ai4i", first, "--json")
    assert orjson.loads(out)["changed"] == ["ai4i.csv"]


def test_verify_names_a_corrupt_file_and_push_pull(cli: Cli, tmp_path: Path) -> None:
    cli("data", "add", "ai4i", _head(tmp_path, 2000))
    remote = tmp_path / "remote"
    code, out, _ = cli("data", "push", "ai4i@1", "--remote", remote)
    assert code == 0 and "3 of 3 blobs copied" in flat(out)
    code, out, _ = cli("data", "push", "ai4i@1", "--remote", remote)
    assert "0 of 3 blobs copied" in flat(out)
    code, out, _ = cli("data", "verify", "ai4i@1")
    assert code == 0 and "all match their digests" in flat(out)

    digest = orjson.loads(cli("data", "show", "ai4i@1", "--json")[1])["files"][0]["digest"]
    blob = tmp_path / "home" / "artifacts" / digest[:2] / digest[2:]
    os.chmod(blob, 0o644)
    blob.write_bytes(blob.read_bytes().replace(b"M", b"H", 1))
    code, _, err = cli("data", "verify", "ai4i@1")
    assert code == 1 and f"ai4i@1 corrupt: ai4i.csv ({digest})" in flat(err)
    code, _, err = cli("data", "verify")
    assert code == 1 and "1 of 1 versions failed" in flat(err) and "ai4i.csv" in flat(err)
    code, _, err = cli("data", "get", "ai4i@1", tmp_path / "bad.csv")
    assert code == 2 and "ai4i.csv" in flat(err) and "corrupt" in flat(err) and not (tmp_path / "bad.csv").exists()
    # The remote copy is intact: delete the bad blob and pull it back.
    blob.unlink()
    code, out, _ = cli("data", "pull", "ai4i@1", "--remote", remote)
    assert code == 0 and "1 blobs copied" in flat(out)
    assert cli("data", "verify", "ai4i@1")[0] == 0


def test_schema_and_validate_exit_codes(cli: Cli, tmp_path: Path) -> None:
    cli("data", "add", "ai4i", AI4I)
    code, out, _ = cli("data", "schema", "infer", "ai4i")
    assert code == 0 and yaml.safe_load(out)["columns"]["Type"]["categories"] == ["H", "L", "M"]
    assert cli("data", "validate", "ai4i@1")[0] == 0

    schema = yaml.safe_load(cli("data", "schema", "show", "ai4i")[1])
    schema["columns"]["Torque [Nm]"]["max"] = 60.0
    edited = tmp_path / "schema.yaml"
    edited.write_text(yaml.safe_dump(schema))
    code, out, _ = cli("data", "schema", "edit-file", "ai4i", edited)
    assert code == 0 and "revision 2" in flat(out)
    code, out, _ = cli("data", "validate", "ai4i@1", "--json")
    report = orjson.loads(out)
    assert code == 1 and [(a["kind"], a["column"]) for a in report["anomalies"]] == [("out_of_range", "Torque [Nm]")]
    torque = pa_csv.read_csv(AI4I).column("Torque [Nm]")
    above = pc.sum(pc.greater(torque, 60.0)).as_py() / len(torque)
    assert report["anomalies"][0]["share"] == pytest.approx(above) and above > 0
    code, out, _ = cli("data", "validate", AI4I, "--schema", edited)
    assert code == 1 and "out_of_range" in flat(out) and "Torque" in flat(out)

    edited.write_text("columns: {a: {type: int64, bogus: 1}}")
    code, _, err = cli("data", "schema", "edit-file", "ai4i", edited)
    assert code == 2 and "bogus" in flat(err)
    assert yaml.safe_load(cli("data", "schema", "show", "ai4i")[1])["columns"]["Torque [Nm]"]["max"] == 60.0


def test_user_mistakes_exit_2_with_one_line(cli: Cli, tmp_path: Path) -> None:
    for args, needle in ((("data", "add", "ai4i", tmp_path / "missing.csv"), "missing.csv"),
                         (("data", "show", "nothing"), "'nothing'"),
                         (("data", "get", "ai4i@zero", tmp_path / "x"), "ai4i@zero"),
                         (("data", "add", "bad/name", AI4I), "bad/name")):
        code, out, err = cli(*args)
        assert code == 2 and needle in flat(err) and "Traceback" not in err + out
        assert flat(err).startswith(("InvalidInput: ", "NotFound: ")) and err.count(": ") <= 3  # one message


def test_more_user_mistakes_change_nothing(cli: Cli, tmp_path: Path) -> None:
    assert cli("data", "add", "ai4i", AI4I)[0] == 0
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / os.fsdecode(b"torque-\xff.csv")).write_text("a,b\n1,2\n")  # not valid UTF-8
    for args, needle in ((("data", "add", "ai4i", ""), "the path is empty"),
                         (("data", "get", "ai4i@1", ""), "the path is empty"),
                         (("data", "status", "ai4i", ""), "the path is empty"),
                         (("data", "show", "ai4i@99999999999999999999"), "99999999999999999999"),
                         (("data", "pull", "ai4i@1", "--remote", tmp_path / "no-such" / "store"), "no-such"),
                         (("data", "add", "odd", odd), "not valid UTF-8"),
                         (("data", "validate", tmp_path / "nope.csv", "--schema", "ai4i"), "no file at")):
        code, out, err = cli(*args)
        assert code == 2 and needle in flat(err) and "Traceback" not in err + out, (args, err)
    assert not (tmp_path / "no-such").exists()  # a mistyped remote is not created
    for args, needle in ((("data", "show"), "Missing argument 'ref'"), (("data", "ls", "--bogus"), "--bogus"),
                         (("gc", "--grace-seconds", "-1"), "--grace-seconds"), (("nosuch",), "No such command")):
        code, out, err = cli(*args)  # usage mistakes too: one line, not click's boxed panel
        assert code == 2 and needle in err and len(command_lines(err)) == 1, (args, err)
    code, out, _ = cli("data", "ls", "--json")
    assert code == 0 and [d["name"] for d in orjson.loads(out)] == ["ai4i"]
    code, out, _ = cli("data", "ls", "ai4i", "--json")
    assert [v["version"] for v in orjson.loads(out)] == [1]  # nothing was added


def test_real_entry_point_in_a_subprocess(tmp_path: Path) -> None:
    env = {**os.environ, "SLIPWAY_HOME": str(tmp_path / "home")}
    env.pop("SLIPWAY_SERVER_URL", None)
    slipway = Path(sys.executable).with_name("slipway")
    done = subprocess.run([slipway, "data", "add", "ai4i", str(AI4I), "--json"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert orjson.loads(done.stdout)["rows"] == 10_000
    done = subprocess.run([slipway, "data", "show", "ai4i@9"], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and "NotFound" in done.stderr and "Traceback" not in done.stderr


def test_a_large_file_is_stored_while_the_cli_starts(tmp_path: Path) -> None:
    from slipway.core.hashing import hash_file

    big = tmp_path / "ai4i-x140.csv"  # ~70 MB of real rows: above the early-ingest threshold
    body = AI4I.read_bytes()
    with open(big, "wb") as handle:
        for _ in range(140):
            handle.write(body)
    home = tmp_path / "home"
    env = {**os.environ, "SLIPWAY_HOME": str(home)}
    env.pop("SLIPWAY_SERVER_URL", None)
    slipway = Path(sys.executable).with_name("slipway")
    refused = subprocess.run([slipway, "data", "add", "bad/name", str(big), "--json"], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "bad/name" in refused.stderr
    artifacts = home / "artifacts"
    assert not any(p.is_file() for p in artifacts.rglob("*")), "a refused add stored nothing"

    done = subprocess.run([slipway, "data", "add", "big", str(big), "--json"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    digest = hash_file(big)
    stored = [p for p in artifacts.rglob("*") if p.is_file() and p.parent.name != "tmp"]
    assert artifacts / digest[:2] / digest[2:] in stored and os.listdir(artifacts / "tmp") == []
    assert sum(p.stat().st_size for p in stored) < big.stat().st_size + (1 << 20)  # stored once
    assert orjson.loads(done.stdout)["size"] == big.stat().st_size
