"""Audit events as Merkle leaves, signed checkpoints, and the offline check of an inclusion proof.

Everything a regulator needs to check a proof printed by ``slipway audit prove`` is here and in
:mod:`slipway.core.merkle`: the standard library and ``cryptography`` (Ed25519), nothing from the
metadata store. ``check_inclusion_proof(proof, public_key_pem)`` returns the proven event or
raises :class:`ProofError` saying what does not hold.

An event's leaf hashes ``SHA-256(0x00 || JSON array [version, seq, event_id, ts, actor, action,
subject_kind, subject_id, details_json])``. A checkpoint signs ``slipway-checkpoint/1\\n{origin}\\n{tree_size}\\n{root_hash}\\n{timestamp_ms}\\n``
with Ed25519; ``key_id`` is the first 8 bytes (hex) of SHA-256 over the raw public key.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from slipway.core.merkle import leaf_hash, verify_inclusion

try:  # writing leaves needs orjson (Slipway always has it); checking a proof needs only the stdlib
    from orjson import dumps as json_dumps
except ImportError:  # pragma: no cover - a verifier's copy of this file without orjson
    json_dumps = None  # type: ignore[assignment]

LEAF_VERSION = "slipway-audit-event/1"
CHECKPOINT_FORMAT = "slipway-checkpoint/1"
PROOF_FORMAT = "slipway-inclusion-proof/1"
EVENT_FIELDS = ("seq", "event_id", "ts", "actor", "action", "subject_kind", "subject_id", "details_json")


class ProofError(ValueError):
    """A proof, checkpoint or signature that does not verify; the message says which part."""


def event_leaf_data(seq: int, event_id: str, ts: int, actor: str, action: str, subject_kind: str, subject_id: str,
                    details_json: str) -> bytes:
    """The bytes an event's leaf hashes: a compact JSON array of the version tag and the fields.

    JSON keeps it unambiguous and readable in any language; a verifier parses these bytes back and
    compares them with the fields it is shown, so it never has to reproduce an encoder.
    """
    return json_dumps([LEAF_VERSION, seq, event_id, ts, actor, action, subject_kind, subject_id, details_json])


def event_leaf(seq: int, event_id: str, ts: int, actor: str, action: str, subject_kind: str, subject_id: str,
               details_json: str) -> bytes:
    """The RFC 6962 leaf hash of one audit event (``details_json`` exactly as stored)."""
    return hashlib.sha256(b"\x00" + json_dumps(
        [LEAF_VERSION, seq, event_id, ts, actor, action, subject_kind, subject_id, details_json])).digest()


def checkpoint_message(origin: str, tree_size: int, root_hash: str, timestamp_ms: int) -> bytes:
    return f"{CHECKPOINT_FORMAT}\n{origin}\n{int(tree_size)}\n{root_hash}\n{int(timestamp_ms)}\n".encode()


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_public_key(pem: bytes | str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM (``-----BEGIN PUBLIC KEY-----``); ProofError otherwise."""
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as err:
        raise ProofError(f"not a PEM public key: {err}") from err
    if not isinstance(key, Ed25519PublicKey):
        raise ProofError(f"the public key is {type(key).__name__}, not Ed25519")
    return key


def sign_checkpoint(private_key: Ed25519PrivateKey, origin: str, tree_size: int, root_hash: str,
                    timestamp_ms: int) -> dict[str, Any]:
    """A checkpoint as a JSON-able dict, signed by ``private_key``."""
    signature = private_key.sign(checkpoint_message(origin, tree_size, root_hash, timestamp_ms))
    return {"format": CHECKPOINT_FORMAT, "origin": origin, "tree_size": int(tree_size), "root_hash": root_hash,
            "timestamp_ms": int(timestamp_ms), "key_id": key_id(private_key.public_key()),
            "signature": base64.b64encode(signature).decode()}


def check_checkpoint(checkpoint: Any, public_key: Ed25519PublicKey) -> dict[str, Any]:
    """Return ``checkpoint`` if it is well formed and signed by ``public_key``; ProofError otherwise."""
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise ProofError(f"not a {CHECKPOINT_FORMAT} checkpoint")
    try:
        size, root = int(checkpoint["tree_size"]), str(checkpoint["root_hash"])
        message = checkpoint_message(str(checkpoint["origin"]), size, root, int(checkpoint["timestamp_ms"]))
        signature = base64.b64decode(str(checkpoint["signature"]), validate=True)
    except (KeyError, TypeError, ValueError) as err:
        raise ProofError(f"the checkpoint is malformed: {err}") from err
    if checkpoint.get("key_id") != key_id(public_key):
        raise ProofError(f"the checkpoint was signed by key {checkpoint.get('key_id')}, not by the given key "
                         f"{key_id(public_key)}")
    try:
        public_key.verify(signature, message)
    except InvalidSignature as err:
        raise ProofError(f"the signature of the checkpoint of size {size} does not verify with key "
                         f"{key_id(public_key)}") from err
    return checkpoint


def check_inclusion_proof(proof: Any, public_key_pem: bytes | str) -> dict[str, Any]:
    """Check offline that an event is in the ledger a signed checkpoint commits to.

    Args:
        proof: the JSON object ``slipway audit prove`` printed (parsed).
        public_key_pem: the ledger's Ed25519 public key, obtained out of band.

    Returns:
        The proven event's fields.

    Raises:
        ProofError: the proof is malformed, the event does not hash to the proven leaf, the path
            does not lead to the checkpoint's root, or the checkpoint's signature is not valid.
    """
    if not isinstance(proof, dict) or proof.get("format") != PROOF_FORMAT:
        raise ProofError(f"not a {PROOF_FORMAT} document")
    checkpoint = check_checkpoint(proof.get("checkpoint"), load_public_key(public_key_pem))
    try:
        event = proof["event"]
        data = base64.b64decode(str(proof["leaf_data"]), validate=True)
        if json.loads(data) != [LEAF_VERSION, *(event[name] for name in EVENT_FIELDS)]:
            raise ProofError(f"the proof's leaf data does not hold event {event.get('seq')} as shown")
        leaf = leaf_hash(data)
        index, size = int(proof["leaf_index"]), int(checkpoint["tree_size"])
        path = [bytes.fromhex(h) for h in proof["inclusion_path"]]
        root = bytes.fromhex(checkpoint["root_hash"])
    except ProofError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ProofError(f"the proof is malformed: {err}") from err
    if index != int(event["seq"]) - 1:
        raise ProofError(f"event {event['seq']} is not leaf {index} (leaves are numbered from seq 1 at index 0)")
    if not verify_inclusion(leaf, index, size, path, root):
        raise ProofError(f"event {event['seq']} ({event['event_id']}) is not included in the tree of size {size} "
                         f"with root {checkpoint['root_hash']}: the event or the path was altered")
    return dict(event)
