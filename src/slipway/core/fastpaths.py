"""The start-up and hot-path shortcuts, and the one switch that turns them all off.

Each shortcut answers some inputs faster than the normal code and must give exactly the normal
answer (``tests/fastpaths`` runs the same inputs through both). They are:

========================  =====================================  ======================================
name                      where                                  what it skips
========================  =====================================  ======================================
``cli.quick``             :mod:`slipway.cli.quick`               Typer/Rich start-up for ``data status``
                                                                 and ``data add NAME PATH``
``data.watch_status``     :mod:`slipway.data.watch_client`       computing a status a watcher holds
``data.quick_status``     :mod:`slipway.data.quick`              opening a workspace for ``data status``
``data.early_copy``       :mod:`slipway.data.early`              waiting for the workspace before copying
``serving.http``          :mod:`slipway.serving.http`            a second TCP write per small response
``serving.dispatch``      :class:`slipway.serving.app.InferenceApp`  Starlette routing for inference POSTs
``serving.compiled``      :mod:`slipway.serving.fastpath`        scikit-learn's ``predict`` bookkeeping
``records.dumps_fast``    :func:`slipway.core.records.dumps_fast`  the Python walk of plain call arguments
``records.loads_fast``    :func:`slipway.core.records.loads_fast`  the Python walk of untagged answers
``features.streamed_join``  :mod:`slipway.features.streamed`   DuckDB's ASOF join for a training set
``features.http``         :mod:`slipway.features.http_server`    uvicorn's ASGI cycle in ``features serve``
========================  =====================================  ======================================

The switch is the setting ``fast_paths`` (``SLIPWAY_FAST_PATHS=0``, or ``fast_paths = false`` in
``slipway.toml``). Shortcuts that run before the settings load (the CLI entry, the wire format)
read the environment variable through :mod:`slipway.core.environment`; those that hold a
:class:`~slipway.core.settings.Settings` also honour the config file. Every shortcut calls
:func:`enabled` at its entry and :func:`took` when it answered, so a test can prove that with the
switch off none was taken.
"""

from __future__ import annotations

from slipway.core.environment import fast_paths_default

TYPE_CHECKING = False  # no ``typing`` at run time: the CLI's quick entry imports this module
if TYPE_CHECKING:
    from typing import Any

NAMES = ("cli.quick", "data.watch_status", "data.quick_status", "data.early_copy", "serving.http",
         "serving.dispatch", "serving.compiled", "records.dumps_fast", "records.loads_fast",
         "features.streamed_join", "features.http")

_state: list[bool] = []  # the environment's answer, read once (see reset)
_taken: dict[str, int] = {}


def enabled(settings: Any = None) -> bool:
    """Whether fast paths may be taken: ``SLIPWAY_FAST_PATHS`` is not off and, when ``settings``
    are given, their ``fast_paths`` is true."""
    if not _state:
        _state.append(fast_paths_default())
    return _state[0] and (settings is None or bool(getattr(settings, "fast_paths", True)))


def took(name: str) -> None:
    """Count one answer given by the fast path ``name`` (one of :data:`NAMES`)."""
    _taken[name] = _taken.get(name, 0) + 1


def taken() -> dict[str, int]:
    """How many answers each fast path gave in this process since the last :func:`reset`."""
    return dict(_taken)


def reset() -> None:
    """Read ``SLIPWAY_FAST_PATHS`` again at the next :func:`enabled` and clear the counts (tests)."""
    _state.clear()
    _taken.clear()
