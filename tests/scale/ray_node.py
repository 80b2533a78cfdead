"""``ray start`` with patience: ``python -m tests.scale.ray_node start --block …`` runs Ray's own
``ray start`` command with two of its fixed start-up waits lifted, which a busy two-core machine
misses (the node's agents take longer than that to import, and the node gives up although it
would have come up):

- waiting for the new node to register with the GCS is not cut off after 30 s
  (``ray._private.node``);
- the raylet is told the dashboard agent's port (``--dashboard-agent-listen-port``, given
  explicitly) instead of waiting at most 15 s for the agent to write it to a file.
"""

from __future__ import annotations

import sys
import time
from typing import Any

PATIENCE_S = 300.0


def main() -> None:
    import ray._private.services as services
    from ray.scripts.scripts import main as ray_main

    # Ray moved these between releases before; a renamed one would silently drop the patience below.
    assert callable(getattr(services, "get_node", None)) and callable(getattr(services, "start_ray_process", None)), \
        "ray._private.services no longer has get_node/start_ray_process; update tests/scale/ray_node.py"
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

    listen = [a.split("=", 1)[1] for a in sys.argv if a.startswith("--dashboard-agent-listen-port=")]
    start_ray_process = services.start_ray_process

    def start_with_port(command: list[str], process_type: str, *args: Any, **kwargs: Any) -> Any:
        if process_type == "raylet" and listen:
            command = [*command, f"--dashboard_agent_listen_port={listen[0]}"]
        return start_ray_process(command, process_type, *args, **kwargs)

    services.start_ray_process = start_with_port
    sys.argv = ["ray", *sys.argv[1:]]
    ray_main()


if __name__ == "__main__":
    main()
