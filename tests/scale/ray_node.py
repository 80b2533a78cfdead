"""``ray start`` with patience: ``python -m tests.scale.ray_node start --block …`` runs Ray's own
``ray start`` command, except that waiting for the new node to register with the GCS is not cut
off after Ray's fixed 30 s (``ray._private.node``): on a busy two-core machine the node's agents
take longer than that to import, and the node would give up although it would have come up."""

from __future__ import annotations

import sys
import time
from typing import Any

PATIENCE_S = 300.0


def main() -> None:
    import ray._private.services as services
    from ray.scripts.scripts import main as ray_main

    get_node = services.get_node

    def patient_get_node(*args: Any, **kwargs: Any) -> Any:
        deadline = time.monotonic() + PATIENCE_S
        while True:
            try:
                return get_node(*args, **kwargs)
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1.0)

    services.get_node = patient_get_node
    sys.argv = ["ray", *sys.argv[1:]]
    ray_main()


if __name__ == "__main__":
    main()
