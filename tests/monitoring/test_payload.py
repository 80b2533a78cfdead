"""The payload log as current data: the model's inputs under their training names."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from slipway.monitoring.drift import compare
from slipway.monitoring.payload import payload_features
from slipway.monitoring.reference import Reference
from slipway.serving.frame import Frame
from slipway.serving.payload import PayloadEntry, entries_to_table


def _entry(variant: str, torque: np.ndarray, seed: int) -> PayloadEntry:
    rng = np.random.default_rng(seed)
    frame = Frame({"Torque [Nm]": torque, "Type": np.array(rng.choice(["L", "M", "H"], len(torque)), dtype=object)},
                  len(torque))
    return PayloadEntry(f"r{seed}", "failures", variant, "ai4i", "3", frame, rng.random(len(torque)), 1.0, 200)


def test_the_payload_inputs_drift_against_the_training_columns() -> None:
    rng = np.random.default_rng(0)
    training = pa.table({"Torque [Nm]": rng.normal(40, 10, 3000),
                         "Type": rng.choice(["L", "M", "H"], 3000)})
    log = entries_to_table([_entry("champion", rng.normal(40, 10, 2000), 1),
                            _entry("canary", rng.normal(55, 10, 2000), 2)])
    features = payload_features(log)
    assert set(features.column_names) == {"Torque [Nm]", "Type", "output"}
    assert features.num_rows == 4000
    canary = payload_features(log, "canary")
    assert canary.num_rows == 2000
    assert compare(Reference.of(training), canary).drifted_columns == ["Torque [Nm]"]
    champion = payload_features(log, "champion")
    assert compare(Reference.of(training), champion).drifted_columns == []
