"""Record tags resolve in a fresh process whatever was imported first (issue 14 item 4)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from slipway.core.records import RECORD_MODULES, record


def _fresh(code: str) -> str:
    """Run ``code`` in a new interpreter and return what it printed (its last line)."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_a_step_output_read_back_in_a_fresh_process_is_the_record_not_a_dict() -> None:
    # What the example's approval_status step met: a stored ApprovalRequest decoded before
    # anything imported slipway.governance.
    printed = _fresh("""
        import sys
        from slipway.pipelines.serializers import deserialize
        assert "slipway.governance.records" not in sys.modules
        data = (b'{"$r":"ApprovalRequest","id":"r1","model":"ai4i-failure","version":3,"requested_by":"ann",'
                b'"reason":"x","status":"pending","required":1,"approvals":0,"decisions":[],"external_ref":null,'
                b'"created_ms":1,"decided_ms":null}')
        value = deserialize("json", data)
        print(type(value).__module__, type(value).__name__, value.model, value.version)
    """)
    assert printed == "slipway.governance.records ApprovalRequest ai4i-failure 3"


def test_every_record_of_the_package_is_in_a_listed_module() -> None:
    printed = _fresh("""
        import importlib, json, pkgutil, slipway
        from slipway.core import records
        for info in pkgutil.walk_packages(slipway.__path__, "slipway."):
            importlib.import_module(info.name)
        print(json.dumps(sorted({cls.__module__ for cls in records._REGISTRY.values()})))
    """)
    assert sorted(set(json.loads(printed)) - set(RECORD_MODULES)) == []


def test_a_second_record_of_the_same_name_from_another_module_is_refused() -> None:
    class ModelVersion:  # same tag as slipway.registry.records.ModelVersion
        ref: str

    import slipway.registry.records  # noqa: F401  (registers the real one)

    with pytest.raises(TypeError, match="clashes"):
        record(ModelVersion)
