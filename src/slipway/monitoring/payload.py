"""The inference server's payload log as monitoring data: the model's inputs and outputs.

The log holds one row per predicted row: request metadata, ``input.<column>`` for each model
input and ``output`` (or ``output.<i>``). Drift and quality compare the inputs with the training
columns of the same names; the outputs stay as ``output…`` for prediction drift.
"""

from __future__ import annotations

import pyarrow as pa

INPUT = "input."


def payload_features(log: pa.Table, variant: str | None = None) -> pa.Table:
    """The inputs (``input.`` dropped from their names) and outputs of a payload log.

    Args:
        variant: keep only the rows this deployment variant served (e.g. the canary).
    """
    if variant is not None and "variant" in log.column_names:
        import pyarrow.compute as pc

        log = log.filter(pc.equal(log.column("variant"), variant))
    names = [n for n in log.column_names if n.startswith(INPUT)]
    outputs = [n for n in log.column_names if n == "output" or n.startswith("output.")]
    return pa.table({**{n[len(INPUT):]: log.column(n) for n in names}, **{n: log.column(n) for n in outputs}})
