"""The offline check of an evidence pack (``slipway governance export``): needs only the pack.

Every pack carries a copy of this file as ``verify_pack.py``, beside copies of
:mod:`slipway.core.merkle` and :mod:`slipway.core.transparency`, so an auditor runs
``python verify_pack.py [--public-key KEY.pem]`` in the pack's folder with nothing but Python and
``cryptography``; ``slipway audit verify-pack PACK`` runs the same code. It checks:

1. every file the manifest lists has the SHA-256 it records, and no file is missing;
2. the checkpoint (``audit/checkpoint.json``) is signed by the ledger's public key (given with
   ``--public-key``, obtained out of band; else the pack's own copy, which proves less and is said so);
3. every audit event in ``audit/events.jsonl`` is included in the tree that checkpoint signs:
   its fields hash to its leaf and its inclusion path leads to the signed root. An event edited
   in the pack (its details, actor, time…) no longer does.
"""

from __future__ import annotations

import hashlib
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

from slipway.core.transparency import ProofError, check_checkpoint, check_inclusion_proof, load_public_key

MANIFEST = "manifest.json"
EVENTS = "audit/events.jsonl"
CHECKPOINT = "audit/checkpoint.json"
PACK_KEY = "audit/public-key.pem"


def read_pack(location: str | Path) -> dict[str, bytes]:
    """The pack's files by relative path, from its folder or its zip."""
    path = Path(location)
    if path.is_dir():
        return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return {name: archive.read(name) for name in archive.namelist() if not name.endswith("/")}
    raise FileNotFoundError(f"{location} is neither an evidence pack folder nor a zip")


def check_pack(files: dict[str, bytes], public_key_pem: bytes | str | None = None) -> dict[str, Any]:
    """``{"ok", "events", "checkpoint", "key", "problems"}`` for a pack's files (see the module)."""
    problems: list[str] = []
    try:
        manifest = json.loads(files[MANIFEST])
        listed = dict(manifest["files"])
    except (KeyError, ValueError, TypeError) as err:
        return {"ok": False, "events": 0, "checkpoint": None, "key": None,
                "problems": [f"the pack has no readable {MANIFEST}: {err}"]}
    for name, digest in sorted(listed.items()):
        if name not in files:
            problems.append(f"{name} is listed in the manifest but missing")
        elif hashlib.sha256(files[name]).hexdigest() != digest:
            problems.append(f"{name} was changed after export (its SHA-256 differs from the manifest's)")
    key_source = "given" if public_key_pem else "the pack's copy (obtain the ledger's key out of band to rely on it)"
    pem = public_key_pem or files.get(PACK_KEY)
    checkpoint = None
    count = 0
    try:
        if pem is None:
            raise ProofError("no public key: pass the ledger's public key")
        key = load_public_key(pem)
        checkpoint = check_checkpoint(json.loads(files[CHECKPOINT]), key)
    except (ProofError, KeyError, ValueError) as err:
        problems.append(f"the checkpoint does not verify: {err}")
    if checkpoint is not None and pem is not None:
        for number, line in enumerate(files.get(EVENTS, b"").splitlines(), start=1):
            if not line.strip():
                continue
            count += 1
            try:
                proof = json.loads(line)
                if proof.get("checkpoint") != checkpoint:
                    raise ProofError("it is proven against another checkpoint than audit/checkpoint.json")
                check_inclusion_proof(proof, pem)
            except (ProofError, ValueError, AttributeError) as err:
                problems.append(f"audit event on line {number} of {EVENTS}: {err}")
    return {"ok": not problems, "events": count, "checkpoint": checkpoint, "key": key_source, "problems": problems}


def main(argv: list[str] | None = None) -> int:
    """``verify_pack.py [PACK] [--public-key KEY.pem]``: exit 0 when the pack verifies, 1 when not."""
    args = list(sys.argv[1:] if argv is None else argv)
    pem = None
    if "--public-key" in args:
        at = args.index("--public-key")
        pem = Path(args[at + 1]).read_bytes()
        del args[at:at + 2]
    location = args[0] if args else str(Path(__file__).resolve().parent)
    verdict = check_pack(read_pack(location), pem)
    if verdict["ok"]:
        cp = verdict["checkpoint"]
        print(f"OK: {verdict['events']} audit events are in the ledger of '{cp['origin']}' as signed at size "
              f"{cp['tree_size']} (root {cp['root_hash'][:16]}…, key {cp['key_id']}: {verdict['key']}); "
              "every file matches the manifest")
        return 0
    for problem in verdict["problems"]:
        print(f"FAIL: {problem}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
