"""Open Inference Protocol v2 (KServe v2 / Triton) request decoding and response encoding.

A tabular model takes either one tensor per column (shape ``[N]`` or ``[N, 1]``, named as in the
signature) or a single ``[N, F]`` tensor whose F columns are the signature's columns in order.

The binary tensor data extension (what tritonclient sends by default) is supported both ways: a
request whose ``Inference-Header-Content-Length`` header says where its JSON ends carries the
tensors with ``parameters.binary_data_size`` as raw little-endian bytes after it, one after the
other (BYTES elements each prefixed by a 4-byte little-endian length); when an output is requested
with ``parameters.binary_data`` (or the request sets ``binary_data_output``) the answer is built
the same way.

A model with ``predict_proba`` declares a second output, ``predict_proba`` (``probabilities`` is
accepted as its other name), which a request selects through ``outputs``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from slipway.core.errors import InvalidInput
from slipway.serving.frame import Frame, frame_from_columns
from slipway.serving.signature import Signature, cast_checked

DATATYPES: dict[str, Any] = {
    "BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64,
    "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64,
    "FP16": np.float16, "FP32": np.float32, "FP64": np.float64, "BYTES": object,
}
_KIND_OK = {"float": "iuf", "int": "iuf", "bool": "b", "string": "O"}  # int: integral floats pass


def _tensor(spec: Any, index: int) -> tuple[str, np.ndarray]:
    if not isinstance(spec, dict):
        raise InvalidInput(f"inputs[{index}] must be an object with name, shape, datatype and data")
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"inputs[{index}] has no name")
    datatype = spec.get("datatype")
    if datatype not in DATATYPES:
        raise InvalidInput(f"input {name!r} has datatype {datatype!r}; expected one of {sorted(DATATYPES)}")
    shape = spec.get("shape")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise InvalidInput(f"input {name!r} has shape {shape!r}; expected a list of non-negative integers")
    if "data" not in spec:
        raise InvalidInput(f"input {name!r} has no data")
    data = spec["data"]
    try:
        if isinstance(data, list) and not data:  # a zero-row tensor: "no rows" is said by the frame
            array = np.empty(0, dtype=DATATYPES[datatype])
        elif datatype == "BYTES":
            array = np.asarray(data, dtype=object).reshape(-1)
            bad = [v for v in array[:1000] if not isinstance(v, str)]
            if bad:
                raise ValueError(f"BYTES data must be strings, got {bad[0]!r}")
        elif datatype == "BOOL":
            array = np.asarray(data).reshape(-1)
            if array.dtype.kind != "b":
                raise ValueError(f"BOOL data must be true/false, got {array[:1].tolist()}")
        else:
            raw = np.asarray(data).reshape(-1)
            if raw.dtype.kind not in "iuf":
                raise ValueError(f"{datatype} data must be numbers, got {raw[:1].tolist()}")
            if datatype[0] in "IU" and raw.dtype.kind == "f":
                raise ValueError(f"{datatype} data must be integers, got {raw[:1].tolist()}")
            array = cast_checked(raw, DATATYPES[datatype])
    except (TypeError, ValueError) as err:
        raise InvalidInput(f"input {name!r}: {err}") from err
    expected = math.prod(shape)
    if array.size != expected:
        raise InvalidInput(f"input {name!r} has {array.size} values but shape {shape} needs {expected}")
    return name, array.reshape(shape)


def decode_infer_request(body: Any, signature: Signature) -> tuple[Frame, str | None, dict[str, Any]]:
    """(frame, request id, parameters) from a v2 ``/infer`` body."""
    if not isinstance(body, dict):
        raise InvalidInput("the request body must be a JSON object with 'inputs'")
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InvalidInput("the request must have a non-empty 'inputs' list")
    tensors: dict[str, np.ndarray] = {}
    for index, spec in enumerate(inputs):
        name, tensor = _tensor(spec, index)
        if name in tensors:
            raise InvalidInput(f"input {name!r} is given twice")
        tensors[name] = tensor
    names = signature.names
    if len(tensors) == 1 and len(names) > 1 and names[0] not in tensors:
        ((name, tensor),) = tensors.items()
        if tensor.ndim != 2 or tensor.shape[1] != len(names):
            raise InvalidInput(
                f"input {name!r} has shape {list(tensor.shape)}; send [N, {len(names)}] (columns {names}) "
                "or one [N] tensor per column")
        columns: dict[str, object] = {n: tensor[:, i] for i, n in enumerate(names)}
    else:
        columns = {}
        for name, tensor in tensors.items():
            if tensor.ndim == 2 and tensor.shape[1] == 1:
                tensor = tensor[:, 0]
            if tensor.ndim != 1:
                raise InvalidInput(f"input {name!r} has shape {list(tensor.shape)}; expected [N] or [N, 1]")
            kind = signature.kind_of(name)
            if kind is not None and tensor.dtype.kind not in _KIND_OK[kind]:
                raise InvalidInput(f"input {name!r} has the wrong datatype for a {kind} column")
            columns[name] = tensor
    request_id = body.get("id")
    parameters = body.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise InvalidInput(f"'parameters' must be an object, got {parameters!r}")
    return frame_from_columns(columns, signature), (str(request_id) if request_id is not None else None), parameters


def inline_binary_inputs(body: Any, binary: bytes) -> None:
    """Put the binary extension's tensor bytes into each input's ``data``, in the inputs' order.

    Raises:
        InvalidInput: the sizes do not add up to the binary part, or a datatype cannot be binary.
    """
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise InvalidInput("the request must have a non-empty 'inputs' list")
    offset = 0
    for index, spec in enumerate(body["inputs"]):
        parameters = spec.get("parameters") if isinstance(spec, dict) else None
        size = parameters.get("binary_data_size") if isinstance(parameters, dict) else None
        if size is None:
            continue
        name = spec.get("name", f"inputs[{index}]")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0 or offset + size > len(binary):
            raise InvalidInput(f"input {name!r} has binary_data_size {size!r}, but only {len(binary) - offset} "
                               "bytes of binary data are left")
        chunk = binary[offset:offset + size]
        offset += size
        datatype = spec.get("datatype")
        if datatype == "BYTES":
            spec["data"] = _unpack_bytes(chunk, name)
        elif datatype in DATATYPES:
            dtype = np.dtype(DATATYPES[datatype]).newbyteorder("<")
            if size % dtype.itemsize:
                raise InvalidInput(f"input {name!r}: {size} bytes is not a whole number of {datatype} values")
            spec["data"] = np.frombuffer(chunk, dtype=dtype)
        else:
            raise InvalidInput(f"input {name!r} has datatype {datatype!r}; expected one of {sorted(DATATYPES)}")
    if offset != len(binary):
        raise InvalidInput(f"the request has {len(binary) - offset} bytes of binary data that no input claims")


def _unpack_bytes(chunk: bytes, name: str) -> list[str]:
    values, offset = [], 0
    while offset < len(chunk):
        if offset + 4 > len(chunk):
            raise InvalidInput(f"input {name!r}: a BYTES element's 4-byte length is cut off")
        length = int.from_bytes(chunk[offset:offset + 4], "little")
        offset += 4
        if offset + length > len(chunk):
            raise InvalidInput(f"input {name!r}: a BYTES element of {length} bytes runs past the data")
        try:
            values.append(chunk[offset:offset + length].decode())
        except UnicodeDecodeError as err:
            raise InvalidInput(f"input {name!r}: a BYTES element is not UTF-8 text") from err
        offset += length
    return values


PROBA_NAMES = ("predict_proba", "probabilities")  # an output of class probabilities, by either name


def requested_outputs(body: Any, has_proba: bool, named: tuple[str, ...] = ()) -> list[str]:
    """The output names a v2 request asks for, in its order (``predict`` when it names none);
    ``predict_proba`` (or ``probabilities``) asks for class probabilities; ``named`` are the
    model's other outputs (see ``ServedModel.named_outputs``).

    Raises:
        InvalidInput: ``outputs`` is not a list of objects with a name, or names an unknown output.
    """
    outputs = body.get("outputs") if isinstance(body, dict) else None
    if outputs is None:
        return ["predict"]
    if not isinstance(outputs, list):
        raise InvalidInput(f"'outputs' must be a list of objects with a name, got {outputs!r}")
    known = ("predict", *PROBA_NAMES, *named) if has_proba else ("predict", *named)
    names: list[str] = []
    for index, spec in enumerate(outputs):
        name = spec.get("name") if isinstance(spec, dict) else spec  # a bare name is accepted too
        if not isinstance(name, str):
            raise InvalidInput(f"outputs[{index}] must be an object with a 'name', got {spec!r}")
        if name not in known:
            raise InvalidInput(f"unknown output {name!r}; this model's outputs are {list(known)}")
        if name in names:
            raise InvalidInput(f"output {name!r} is asked for twice")
        names.append(name)
    return names or ["predict"]


def binary_outputs(body: Any, names: list[str]) -> set[str]:
    """Which of the requested outputs to send as binary tensor data (``binary_data_output`` for
    all, ``binary_data`` per output; both must be booleans).

    Raises:
        InvalidInput: one of those parameters is not a boolean.
    """
    if not isinstance(body, dict):
        return set()
    parameters = body.get("parameters")
    everything = parameters.get("binary_data_output", False) if isinstance(parameters, dict) else False
    if not isinstance(everything, bool):
        raise InvalidInput(f"parameters.binary_data_output must be true or false, got {everything!r}")
    chosen = set(names) if everything else set()
    for spec in body.get("outputs") or []:
        options = spec.get("parameters") if isinstance(spec, dict) else None
        flag = options.get("binary_data", None) if isinstance(options, dict) else None
        if flag is None:
            continue
        if not isinstance(flag, bool):
            raise InvalidInput(f"binary_data of output {spec.get('name')!r} must be true or false, got {flag!r}")
        (chosen.add if flag else chosen.discard)(spec["name"])
    return chosen


def response_id(body: Any) -> str | None:
    """The v2 body's ``id``, which the answer returns exactly as given (None when there is none).

    Raises:
        InvalidInput: the id is not a string, or cannot be echoed in the ``x-request-id`` header
            (control characters such as CR/LF, text outside Latin-1, over 4,096 characters).
    """
    if not isinstance(body, dict) or "id" not in body:
        return None
    given = body["id"]
    if not isinstance(given, str):
        raise InvalidInput(f"'id' must be a string, got {given!r}")
    if len(given) > 4096:
        raise InvalidInput(f"'id' is {len(given)} characters; the limit is 4096")
    if not (given.isascii() and given.isprintable()):
        try:
            given.encode("latin-1")
        except UnicodeEncodeError:
            raise InvalidInput(f"'id' {given[:40]!r} has characters outside Latin-1; it is echoed in the "
                               "x-request-id header") from None
        if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in given):
            raise InvalidInput(f"'id' {given[:40]!r} has control characters; it is echoed in the x-request-id "
                               "header") from None
    return given


def _binary(array: np.ndarray) -> tuple[bytes, str]:
    if array.dtype.kind in "OUS":
        return b"".join(len(b).to_bytes(4, "little") + b for b in (str(v).encode() for v in array.reshape(-1))), "BYTES"
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes(), datatype_of(array)


def encode_binary_response(model: str, version: str, request_id: str, outputs: list[tuple[str, np.ndarray]],
                           binary: set[str]) -> tuple[bytes, int]:
    """The v2 response with the outputs named in ``binary`` as binary tensor data, the others as
    JSON: (body, length of its JSON part)."""
    import orjson

    specs, raws = [], []
    for name, array in outputs:
        if name in binary:
            raw, datatype = _binary(array)
            raws.append(raw)
            specs.append({"name": name, "shape": list(array.shape), "datatype": datatype,
                          "parameters": {"binary_data_size": len(raw)}})
        else:
            specs.append(_json_output(name, array))
    header = orjson.dumps({"model_name": model, "model_version": version, "id": request_id, "outputs": specs},
                          option=orjson.OPT_SERIALIZE_NUMPY, default=lambda v: v.tolist())
    return header + b"".join(raws), len(header)


def datatype_of(array: np.ndarray) -> str:
    if array.dtype.kind in "OUS":
        return "BYTES"
    for name, dtype in DATATYPES.items():
        if dtype is not object and array.dtype == np.dtype(dtype):
            return name
    return "FP64"


def _json_output(name: str, array: np.ndarray) -> dict[str, Any]:
    if array.dtype.kind in "US":
        array = array.astype(object)
    return {"name": name, "shape": list(array.shape), "datatype": datatype_of(array), "data": array.reshape(-1)}


def encode_infer_response(model: str, version: str, request_id: str,
                          outputs: list[tuple[str, np.ndarray]]) -> dict[str, Any]:
    """A v2 response with one tensor per requested output (``predict`` unless others were asked for)."""
    return {"model_name": model, "model_version": version, "id": request_id,
            "outputs": [_json_output(name, array) for name, array in outputs]}


def model_metadata(name: str, version: str, signature: Signature, platform: str,
                   output: tuple[np.dtype[Any], tuple[int, ...]] | None = None,
                   classes: int | None = None, named: dict[str, str] | None = None) -> dict[str, Any]:
    """The v2 model metadata; ``output`` is (dtype, per-row shape) of what ``/infer`` returns;
    ``classes`` (a model with ``predict_proba``: how many, or -1 when unknown) adds the
    ``predict_proba`` output an ``/infer`` request may ask for.

    Without ``output`` (a model that neither predicted its input example nor declared its
    outputs) the output is declared FP64, the v2 default for a numeric prediction. ``named`` (name
    -> v2 datatype) declares a model's other outputs, one row each per input row.
    """
    v2_type = {"float": "FP64", "int": "INT64", "bool": "BOOL", "string": "BYTES"}
    datatype, shape = ("FP64", [-1]) if output is None else (
        datatype_of(np.empty(0, dtype=output[0])), [-1, *output[1]])
    return {
        "name": name, "versions": [version], "platform": platform,
        "inputs": [{"name": c.name, "datatype": v2_type[c.kind], "shape": [-1]} for c in signature.columns],
        "outputs": [{"name": "predict", "datatype": datatype, "shape": shape}] + (
            [] if classes is None else [{"name": "predict_proba", "datatype": "FP64", "shape": [-1, classes]}]) + [
            {"name": n, "datatype": t, "shape": [-1, *shape[1:]]} for n, t in (named or {}).items()],
    }
