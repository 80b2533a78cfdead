"""An evidence pack per champion, exported by the auditor and verified offline (the same check as
``slipway audit verify-pack`` and the pack's own ``verify_pack.py``)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from slipway import Workspace
from slipway.core.evidence_check import check_pack, read_pack


def export_and_verify(auditor: Workspace, ref: str, folder: Path, keys: Path, say: Callable[[str], None]) -> dict[str, Any]:
    """Export ``ref``'s pack into ``folder/MODEL-VERSION`` (replacing an earlier export) and check it."""
    out = folder / ref.replace("/", "-")
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    auditor.governance.export_evidence(ref, out)
    # The regulator checks against the public key the bank gave them, not the pack's own copy.
    verdict = check_pack(read_pack(out), (keys / "audit-signing.pem.pub").read_text())
    if not verdict["ok"]:
        raise SystemExit(f"the evidence pack of {ref} does not verify: {verdict['problems']}")
    say(f"evidence pack of {ref}: {out} ({len(list(out.rglob('*')))} files); verify-pack: valid, "
        f"{verdict['events']} audit events proved against the signed checkpoint")
    return {"path": str(out), "events": verdict["events"], "ok": True}
