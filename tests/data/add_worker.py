"""A separate process that adds a path to a dataset (used by the crash and concurrency tests).

Usage: python -m tests.data.add_worker HOME STORE_URI NAME PATH [START_FILE]
It waits for START_FILE to exist (so several workers start together), then prints the version
as JSON, or the error type and message.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import orjson

from slipway.core.errors import SlipwayError
from slipway.workspace import open_workspace
from tests.support import make_settings


def main() -> None:
    home, store_uri, name, path = sys.argv[1:5]
    start = Path(sys.argv[5]) if len(sys.argv) > 5 else None
    ws = open_workspace(make_settings(Path(home), store_uri=store_uri or ""))
    ws.data.list_datasets()  # connect and migrate before the start signal
    print("ready", flush=True)
    while start is not None and not start.exists():
        time.sleep(0.005)
    try:
        version = ws.data.add(name, path)
        assert version.name == name and version.digest, version  # what the parent process reads back
        print(orjson.dumps({"ref": version.ref, "digest": version.digest, "created": version.created}).decode(), flush=True)
    except SlipwayError as err:
        print(orjson.dumps({"error": type(err).__name__, "message": err.message}).decode(), flush=True)


if __name__ == "__main__":
    main()
