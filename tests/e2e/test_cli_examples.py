"""``slipway example``: the shipped example projects by name, found through the package
(``slipway/examples``, the repository's examples/ folder), their options passed through; an unknown
name is one line and exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import slipway
from slipway.cli.examples import EXAMPLES, FOLDER

ROOT = Path(__file__).resolve().parents[2]


def test_the_package_reaches_the_repository_examples() -> None:
    assert Path(slipway.__file__).resolve().parent / "examples" == FOLDER
    assert FOLDER.resolve() == (ROOT / "examples").resolve()
    for sub, _ in EXAMPLES.values():
        assert (FOLDER / sub / "run.py").is_file()


def test_example_list_names_every_example_with_its_folder(cli) -> None:
    code, out, _ = cli("example", "list", "--json")
    assert code == 0
    listed = json.loads(out)
    assert [row["name"] for row in listed] == ["predictive-maintenance", "recommendation", "bank"]
    assert all(Path(row["folder"], "run.py").is_file() for row in listed)
    code, out, _ = cli("example", "list")
    assert code == 0 and "recommendation" in out and "predictive-maintenance" in out


def test_an_unknown_example_is_one_line_and_exit_code_2(cli, tmp_path: Path) -> None:
    code, out, err = cli("example", "fraud-detection")
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0
    assert "unknown example 'fraud-detection'" in err and "predictive-maintenance, recommendation, bank" in err
    code, _, err = cli("example", "list", "--verbose")
    assert code == 2 and "only --json" in err
    assert not (tmp_path / "home").exists()


def test_options_after_the_name_reach_the_examples_run_py(cli, tmp_path: Path) -> None:
    # The recommendation example checks its data before writing anything: a missing folder is its
    # one-line error and exit code 2, and the home it was given stays empty.
    code, _, err = cli("example", "recommendation", "--home", str(tmp_path / "recs"), "--data",
                       str(tmp_path / "nowhere"))
    assert code == 2
    assert f"the MovieLens ratings are not at {tmp_path / 'nowhere' / 'ratings.csv'}" in err
    assert not (tmp_path / "recs").exists()
    code, _, err = cli("example", "predictive-maintenance", "--home", str(tmp_path / "pm"), "--data",
                       str(tmp_path / "nowhere.csv"))
    assert code == 2 and "nowhere.csv" in err


def test_the_bank_example_checks_its_data_before_writing_anything(cli, tmp_path: Path) -> None:
    code, _, err = cli("example", "bank", "--home", str(tmp_path / "bank"), "--data", str(tmp_path / "nowhere"))
    assert code == 2 and err.strip().count("\n") == 0
    assert f"the German credit data is not at {tmp_path / 'nowhere' / 'german.data'}" in err
    assert not (tmp_path / "bank").exists()
