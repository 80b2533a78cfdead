"""What a pipeline step consumed and created, as the platform's own APIs saw it.

The pipeline executor opens a :class:`StepActivity` around each step it runs in its own process
(and around the step's cache-key hook). The services that create things report into it: the
tracking service a run it started (giving the run the step's dataset versions as inputs, so a
model registered from it names its training data), the registry a version it registered, the
deployment service a deployment it applied. The executor then writes the lineage edges itself, so
no step body has to remember to, and a step served from the cache loses nothing.

Outside a step (no activity is open) reporting does nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from contextvars import ContextVar


@dataclasses.dataclass(frozen=True)
class ConsumedDataset:
    """A dataset version a step read: directly (a declared dataset parameter) or through an upstream step."""

    name: str
    version: int | None
    digest: str

    @property
    def ref(self) -> str:
        """The lineage id, as tracking writes it for run inputs (``name@3``)."""
        return f"{self.name}@{self.version}" if self.version is not None else f"{self.name}#{self.digest[:12]}"


@dataclasses.dataclass
class StepActivity:
    """One step's reads (known before it runs) and what the platform's APIs created during it."""

    datasets: tuple[ConsumedDataset, ...] = ()
    created: list[tuple[str, str, str]] = dataclasses.field(default_factory=list)  # (kind, id, relation)

    def note(self, kind: str, ident: str, relation: str = "produced") -> None:
        edge = (kind, ident, relation)
        if edge not in self.created:
            self.created.append(edge)


_current: ContextVar[StepActivity | None] = ContextVar("slipway_step_activity", default=None)


def current_activity() -> StepActivity | None:
    """The activity of the pipeline step running in this context, if any."""
    return _current.get()


@contextlib.contextmanager
def recording(activity: StepActivity) -> Iterator[StepActivity]:
    """Make ``activity`` current for the code run inside (threads started with a copied context see it too)."""
    token = _current.set(activity)
    try:
        yield activity
    finally:
        _current.reset(token)


def report_created(kind: str, ident: str, relation: str = "produced") -> None:
    """Tell the running step's activity (if any) that the platform created ``kind`` ``ident``."""
    activity = _current.get()
    if activity is not None:
        activity.note(kind, ident, relation)
