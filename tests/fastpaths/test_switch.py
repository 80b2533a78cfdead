"""One setting turns every fast path off: with ``SLIPWAY_FAST_PATHS=0`` (or ``fast_paths = false``
in slipway.toml) none is taken, and the same calls take each of them when it is on."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from slipway.cli import quick
from slipway.core import fastpaths
from slipway.core.records import dumps_fast, loads_fast
from slipway.core.settings import load_settings
from slipway.data import early
from slipway.data.early import EarlyIngest
from slipway.data.quick import quick_status
from slipway.serving.http import http_protocol
from slipway.serving.model import served_from_object
from slipway.workspace import connect, set_default
from tests.fastpaths.conftest import Switch
from tests.serving.helpers import train_pipeline
from tests.support import AI4I

pytestmark = pytest.mark.fast_path
SIGNATURE = [{"name": "Type", "type": "string"},
             *[{"name": c, "type": "double"} for c in ("Air temperature [K]", "Process temperature [K]",
                                                       "Rotational speed [rpm]", "Torque [Nm]", "Tool wear [min]")]]


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An embedded home (in the working directory's environment) holding dataset ``ai4i``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SLIPWAY_HOME", str(tmp_path / "home"))
    for name in ("SLIPWAY_USER", "SLIPWAY_SERVER_URL", "SLIPWAY_STORE_URI", "SLIPWAY_SIGNING_KEY",
                 "SLIPWAY_CONFIG", "SLIPWAY_ARTIFACTS_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(early, "EARLY_MIN_BYTES", 1)
    set_default(None)
    ws = connect()
    ws.data.add("ai4i", AI4I)
    ws.close()
    set_default(None)
    return tmp_path


def _exercise(ai4i_data, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    """Call every fast path's entry once; what each returned."""
    features, label = ai4i_data
    served = served_from_object("m", "1", train_pipeline(features, label), SIGNATURE, example=features.head(20))
    served.predict(served_frame(served, features.head(5)))
    encoded = dumps_fast({"points": [("loss", 0.5, 1)]})
    result = {
        "quick": quick.run(["data", "status", "ai4i", str(AI4I)]),
        "quick_status": quick_status("ai4i", AI4I),
        "early": EarlyIngest.start("ai4i", AI4I),
        "http": http_protocol(),
        "compiled": served.fast,
        "wire": loads_fast(encoded),
    }
    if isinstance(result["early"], EarlyIngest):
        result["early"].join()
    capsys.readouterr()
    return result


def served_frame(served, rows):  # type: ignore[no-untyped-def]
    from slipway.serving.frame import frame_from_columns

    return frame_from_columns({c: rows[c].tolist() for c in rows.columns}, served.signature)


def test_off_takes_no_fast_path_and_on_takes_each(store: Path, ai4i_data, switch: Switch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    switch(True)
    on = _exercise(ai4i_data, capsys)
    assert on["quick"] is True and on["quick_status"] is not None and on["early"] is not None
    assert on["http"] != "auto" and on["compiled"] is not None and on["wire"] == {"points": [["loss", 0.5, 1]]}
    assert set(fastpaths.taken()) == {"cli.quick", "data.quick_status", "data.early_copy", "serving.compiled",
                                      "records.dumps_fast", "records.loads_fast"}
    switch(False)
    off = _exercise(ai4i_data, capsys)
    assert off == {"quick": False, "quick_status": None, "early": None, "http": "auto", "compiled": None,
                   "wire": on["wire"]}
    assert fastpaths.taken() == {}


def test_the_config_file_setting_turns_them_off_too(store: Path, switch: Switch,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    switch(True)
    monkeypatch.delenv("SLIPWAY_FAST_PATHS")  # the variable, when set, wins over the file
    fastpaths.reset()
    (store / "slipway.toml").write_text(f'[slipway]\nhome = "{store / "home"}"\nfast_paths = false\n')
    settings = load_settings()
    assert settings.fast_paths is False and not fastpaths.enabled(settings)
    assert quick.run(["data", "status", "ai4i", str(AI4I)]) is False
    assert quick_status("ai4i", AI4I) is None
    assert EarlyIngest.start("ai4i", AI4I) is None
    assert http_protocol(settings) == "auto"
    assert fastpaths.taken() == {}
    (store / "slipway.toml").write_text(f'[slipway]\nhome = "{store / "home"}"\nfast_paths = true\n')
    assert quick_status("ai4i", AI4I) is not None  # the same call, with the setting on


def test_the_environment_variable_is_the_settings_value(monkeypatch: pytest.MonkeyPatch, switch: Switch) -> None:
    for value, expected in (("0", False), ("false", False), ("off", False), ("1", True), ("yes", True)):
        monkeypatch.setenv("SLIPWAY_FAST_PATHS", value)
        fastpaths.reset()
        assert load_settings().fast_paths is expected and fastpaths.enabled() is expected, value
    assert "slipway.cli.quick" in sys.modules
