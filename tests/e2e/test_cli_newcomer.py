"""Mistakes a newcomer made following README.md and the guides: each is one line and exit code 2,
before anything starts or changes."""

from __future__ import annotations

import socket

import pytest

from tests.e2e.test_cli_data import Cli, flat


@pytest.mark.parametrize("command", [["server"], ["features", "serve"]])
def test_a_server_on_a_port_in_use_or_out_of_range_is_refused_before_its_banner(cli: Cli, command: list[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = cli(*command, "--port", port)
    assert code == 2 and f"cannot listen on 127.0.0.1:{port}" in flat(err), (code, out, err)
    assert "on http://" not in out and "Traceback" not in err
    code, out, err = cli(*command, "--port", 99999)
    assert code == 2 and "--port from 1 to 65535 (got 1, 99999)" in flat(err), (code, out, err)
    assert "on http://" not in out
