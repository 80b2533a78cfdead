"""Registry changes need ``registry.write``; a viewer can read and load but not change anything."""

from __future__ import annotations

from pathlib import Path

import pytest

import slipway
from slipway.core.errors import PermissionDenied
from slipway.workspace import open_workspace, set_default
from tests.models.ai4i import ai4i, fitted_pipeline
from tests.support import make_settings


def test_viewer_reads_but_cannot_change(home: Path) -> None:
    developer = open_workspace(make_settings(home, user="dev", local_roles=("developer",)))
    set_default(developer)
    X, _ = ai4i()
    with slipway.start_run("train"):
        info = slipway.log_model(fitted_pipeline(), input_example=X.head(3), registered_model_name="maint")
    set_default(None)
    viewer = open_workspace(make_settings(home, user="val", local_roles=("viewer",)))
    try:
        assert [m.name for m in viewer.registry.list_models()] == ["maint"]
        assert viewer.registry.load("maint/1").predict(X.head(5)).shape == (5,)
        with pytest.raises(PermissionDenied, match=r"registry\.write"):
            viewer.registry.set_alias("maint", "challenger", 1)
        with pytest.raises(PermissionDenied, match=r"registry\.write"):
            viewer.registry.register_version("maint", info.run_id)
        with pytest.raises(PermissionDenied):
            viewer.registry.create_model("other")
        assert developer.registry.get_version("maint", 1).aliases == []
        assert developer.registry.get_version("maint", 1).created_by == "dev"
    finally:
        viewer.close()
        developer.close()


def test_only_deployers_move_or_remove_protected_aliases(home: Path) -> None:
    """A developer may move ``challenger`` but not ``champion``; a deployer may move and remove it
    (through the registry and through governance's promote); a refused attempt changes nothing."""
    from tests.registry.helpers import set_state

    developer = open_workspace(make_settings(home, user="dev", local_roles=("developer",)))
    deployer = open_workspace(make_settings(home, user="ops", local_roles=("developer", "deployer")))
    set_default(developer)
    X, _ = ai4i()
    try:
        with slipway.start_run("train"):
            slipway.log_model(fitted_pipeline(), input_example=X.head(3), registered_model_name="maint")
        set_state(developer, home, "maint", 1, "approved")
        developer.registry.set_alias("maint", "challenger", 1)
        with pytest.raises(PermissionDenied, match=r"alias\.protected"):
            developer.registry.set_alias("maint", "champion", 1)
        with pytest.raises(PermissionDenied, match=r"alias\.protected"):
            developer.governance.promote("maint/1", "champion")
        assert developer.registry.get_version("maint", 1).aliases == ["challenger"]
        deployer.registry.set_alias("maint", "champion", 1)
        with pytest.raises(PermissionDenied, match=r"alias\.protected"):
            developer.registry.delete_alias("maint", "champion")
        assert sorted(developer.registry.get_version("maint", 1).aliases) == ["challenger", "champion"]
        deployer.registry.delete_alias("maint", "champion")
        deployer.governance.promote("maint/1", "champion")
        assert "champion" in developer.registry.get_version("maint", 1).aliases
    finally:
        set_default(None)
        deployer.close()
        developer.close()
