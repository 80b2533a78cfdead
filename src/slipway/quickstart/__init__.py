"""``slipway quickstart``: the predictive-maintenance example, end to end, on the embedded default.

Versioned data -> validated, tracked training -> evaluation gate -> registry -> four-eyes
approval -> a served deployment answering real requests -> a new week of data -> the dataset
trigger retrains -> a canary the controller promotes or rolls back. Every stage checks what the
home already holds, so a second run reuses it (no new data versions, pipeline steps cached).
"""

from slipway.quickstart.flow import Outcome, QuickstartOptions, run_quickstart

__all__ = ["Outcome", "QuickstartOptions", "run_quickstart"]
