"""``/runs/search``: MLflow's filter, order and paging onto Slipway's search DSL (which speaks
MLflow's filter grammar), in the experiments the client names that it may read (the others are left out, as in a listing)."""

from __future__ import annotations

from typing import Any

from slipway.server.mlflow.convert import experiment_id, readable_experiments, run_json
from slipway.server.mlflow.protocol import MlflowCall, MlflowError, Routes

VIEWS = {"1": "active", "ACTIVE_ONLY": "active", "2": "deleted", "DELETED_ONLY": "deleted", "3": "all", "ALL": "all"}


def search_runs(call: MlflowCall) -> dict[str, Any]:
    tracking = call.tracking
    view = VIEWS.get(str(call.fields.get("run_view_type", "ACTIVE_ONLY")))
    if view is None:
        raise MlflowError(f"Invalid value {call.fields.get('run_view_type')!r} for parameter 'run_view_type'")
    ids = [str(i) for i in call.items("experiment_ids")]
    experiments = readable_experiments(tracking, ids)
    if ids and not experiments:  # only other teams' experiments: nothing to show (none means all)
        return {"runs": []}
    order_by = [str(o) for o in call.items("order_by")]
    max_results = call.integer("max_results", 1000)
    if not 1 <= max_results <= 50_000:
        raise MlflowError(f"Invalid value {max_results} for parameter 'max_results' supplied; it must be 1 to 50000")
    page = tracking.search_runs(call.optional("filter") or "", [e.id for e in experiments], order_by, max_results,
                                call.optional("page_token"), include_deleted=view != "active")
    # Every run found is in one of the experiments named, so their MLflow ids are known already.
    names = {e.id: experiment_id(e) for e in experiments}
    runs = [r for r in page.runs if view != "deleted" or r.lifecycle == "deleted"]
    result: dict[str, Any] = {"runs": [run_json(r, names.get(r.experiment_id, r.experiment_id)) for r in runs]}
    if page.next_token:
        result["next_page_token"] = page.next_token
    return result


ROUTES: Routes = [("POST", "/runs/search", search_runs)]
