"""A pipeline file with a mistake in it is one line naming the file and line (issue 14 item 18)."""

from __future__ import annotations

from pathlib import Path

import pytest

from slipway.core.errors import InvalidInput
from slipway.pipelines.loader import load_pipeline


def test_a_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken_syntax.py"
    path.write_text("from slipway.pipelines import pipeline\n\ndef oops(:\n    pass\n")
    with pytest.raises(InvalidInput, match=rf"cannot load pipeline file {path}: SyntaxError: .* \({path}, line 3\)"):
        load_pipeline(f"{path}:retrain")


def test_an_import_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken_import.py"
    path.write_text("import os\nimport no_such_module_anywhere\n")
    with pytest.raises(InvalidInput, match=rf"cannot load pipeline file {path}: ModuleNotFoundError: .*\({path}, line 2\)"):
        load_pipeline(f"{path}:retrain")
    with pytest.raises(InvalidInput, match="cannot load pipeline file"):  # not half-imported and cached
        load_pipeline(f"{path}:retrain")
