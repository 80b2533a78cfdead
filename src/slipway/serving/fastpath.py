"""A compiled predict path for common scikit-learn models, proven equal to the model's own ``predict``.

scikit-learn's ``predict`` on a handful of rows is mostly bookkeeping: a pandas DataFrame for the
ColumnTransformer, input validation in every step, joblib dispatch over the trees of a forest,
one Python call per tree. The server already holds the request as checked NumPy columns, so for
the models it knows it evaluates the same arithmetic directly:

- ``Pipeline`` of an optional ``ColumnTransformer`` (``OneHotEncoder`` without dropped or
  infrequent categories, ``StandardScaler``, ``passthrough``, ``drop``, dense output), any number
  of ``StandardScaler`` steps, and a final tree model;
- ``DecisionTree{Classifier,Regressor}``, ``RandomForest{Classifier,Regressor}``,
  ``ExtraTrees{Classifier,Regressor}`` with one output: all trees are walked at once, level by
  level (for a single row of a forest of moderate size: every node's decision at once, then the
  chosen children followed), on the same float32 inputs and float64 thresholds as scikit-learn,
  and the per-tree values are accumulated in the same order before the same division and
  ``argmax``.

Anything else returns None and the server calls the model's own ``predict``. A compiled path is
used only after it returned exactly the model's predictions on the bundle's input example (and on
rows recombined from it); at request time, input the fast path cannot treat identically (an unknown
category with ``handle_unknown="error"``, a non-finite value, a non-numeric passthrough column)
raises :class:`Fallback` and that request goes through the model's own ``predict``, which gives
its usual answer or error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

Columns = Mapping[str, np.ndarray]
FastPredict = Callable[[Columns, int], np.ndarray]
_Stage = Callable[[np.ndarray], np.ndarray]


class Fallback(Exception):  # noqa: N818 - a signal, not an error
    """This input needs the model's own ``predict``."""


def compile_model(model: Any, names: Sequence[str]) -> FastPredict | None:
    """A fast predict for ``model`` over the named input columns, or None when unsupported."""
    try:
        return _compile(model, list(names))
    except Exception:  # an unexpected attribute layout in some scikit-learn version: not supported
        return None


def verify(fast: FastPredict, reference: Callable[[Columns, int], Any], columns: Columns, n_rows: int) -> bool:
    """Whether ``fast`` gives exactly ``reference``'s predictions (values and dtype) on ``columns``,
    on the same columns recombined (each column shuffled on its own), so more branches run, and on
    single rows of them."""
    if n_rows == 0:
        return False
    rng = np.random.default_rng(0)
    samples = [(dict(columns), n_rows)]
    for _ in range(3):
        samples.append(({name: values[rng.permutation(n_rows)] for name, values in columns.items()}, n_rows))
    # Single rows too: a one-row request may take its own path through the trees.
    samples += [({name: values[i:i + 1] for name, values in columns.items()}, 1) for i in range(min(n_rows, 8))]
    for sample, rows in samples:
        try:
            expected = np.asarray(reference(sample, rows))
            got = fast(sample, rows)
        except Fallback:
            continue
        except Exception:
            return False
        if got.dtype != expected.dtype or got.shape != expected.shape or not np.array_equal(got, expected):
            return False
    return True


def _compile(model: Any, names: list[str]) -> FastPredict | None:
    from sklearn.pipeline import Pipeline

    steps = [s for _, s in model.steps if s is not None and s != "passthrough"] if isinstance(model, Pipeline) \
        else [model]
    if not steps:
        return None
    *transforms, final = steps
    predict = _tree_model(final)
    if predict is None:
        return None
    to_matrix: Callable[[Columns, int], np.ndarray] | None
    if transforms and _is(transforms[0], "ColumnTransformer"):
        to_matrix = _column_transformer(transforms[0], names)
        transforms = transforms[1:]
    else:
        to_matrix = _plain_matrix(transforms[0] if transforms else final, names)
    if to_matrix is None:
        return None
    stages = [_scaler(t) for t in transforms]
    if any(s is None for s in stages):
        return None
    chain = [s for s in stages if s is not None]

    def fast(columns: Columns, n_rows: int) -> np.ndarray:
        matrix = to_matrix(columns, n_rows)
        for stage in chain:
            matrix = stage(matrix)
        return predict(matrix)

    return fast


def _is(obj: Any, *class_names: str) -> bool:
    return type(obj).__name__ in class_names and type(obj).__module__.startswith("sklearn.")


def _numeric(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind not in "iufb":
        raise Fallback
    return values.astype(np.float64, copy=False)


def _plain_matrix(first: Any, names: list[str]) -> Callable[[Columns, int], np.ndarray] | None:
    """Columns straight into a float64 matrix, in the order the model was fitted on."""
    fitted = getattr(first, "feature_names_in_", None)
    order = [str(n) for n in fitted] if fitted is not None else names
    if not order or any(n not in names for n in order) or getattr(first, "n_features_in_", len(order)) != len(order):
        return None

    def matrix(columns: Columns, n_rows: int) -> np.ndarray:
        out = np.empty((n_rows, len(order)), dtype=np.float64)
        for j, name in enumerate(order):
            out[:, j] = _numeric(columns[name])
        return out

    return matrix


def _column_transformer(ct: Any, names: list[str]) -> Callable[[Columns, int], np.ndarray] | None:
    if getattr(ct, "sparse_output_", True) or getattr(ct, "_sklearn_output_config", None):
        return None
    fitted = getattr(ct, "feature_names_in_", None)
    if fitted is None:
        return None
    fitted_names = [str(n) for n in fitted]
    if any(n not in names for n in fitted_names):
        return None
    parts: list[tuple[int, Callable[[Columns, int], np.ndarray]]] = []
    for _name, transformer, selection in ct.transformers_:
        if transformer == "drop":
            continue
        cols = _selected(selection, fitted_names)
        if cols is None:
            return None
        if not cols:
            continue
        if transformer == "passthrough" or _identity(transformer):
            parts.append((len(cols), _passthrough(cols)))
        elif _is(transformer, "OneHotEncoder"):
            part = _one_hot(transformer, cols)
            if part is None:
                return None
            parts.append(part)
        elif _is(transformer, "StandardScaler"):
            scale = _scaler(transformer)
            if scale is None:
                return None
            parts.append((len(cols), _then(_passthrough(cols), scale)))
        else:
            return None
    width = sum(w for w, _ in parts)
    if width != len(ct.get_feature_names_out()):
        return None

    def matrix(columns: Columns, n_rows: int) -> np.ndarray:
        out = np.empty((n_rows, width), dtype=np.float64)
        at = 0
        for w, part in parts:
            out[:, at:at + w] = part(columns, n_rows)
            at += w
        return out

    return matrix


def _selected(selection: Any, fitted_names: list[str]) -> list[str] | None:
    if isinstance(selection, str):
        selection = [selection]
    if isinstance(selection, slice) or callable(selection):
        return None
    values = list(np.asarray(selection).ravel()) if not isinstance(selection, list) else selection
    if values and all(isinstance(v, bool | np.bool_) for v in values):
        return [n for n, keep in zip(fitted_names, values, strict=True) if keep]
    out = []
    for v in values:
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, int | np.integer):
            out.append(fitted_names[int(v)])
        else:
            return None
    return out


def _identity(transformer: Any) -> bool:
    """The FunctionTransformer scikit-learn puts in place of ``remainder="passthrough"``."""
    return _is(transformer, "FunctionTransformer") and transformer.func is None and not transformer.validate


def _passthrough(cols: list[str]) -> Callable[[Columns, int], np.ndarray]:
    def part(columns: Columns, n_rows: int) -> np.ndarray:
        out = np.empty((n_rows, len(cols)), dtype=np.float64)
        for j, name in enumerate(cols):
            out[:, j] = _numeric(columns[name])
        return out

    return part


def _then(first: Callable[[Columns, int], np.ndarray], stage: _Stage) -> Callable[[Columns, int], np.ndarray]:
    return lambda columns, n_rows: stage(first(columns, n_rows))


def _one_hot(encoder: Any, cols: list[str]) -> tuple[int, Callable[[Columns, int], np.ndarray]] | None:
    if getattr(encoder, "drop_idx_", None) is not None or getattr(encoder, "_infrequent_enabled", False):
        return None
    if np.dtype(encoder.dtype) != np.float64 or len(encoder.categories_) != len(cols):
        return None
    unknown_error = encoder.handle_unknown == "error"
    lookups: list[dict[str, int]] = []
    offset = 0
    for categories in encoder.categories_:
        if categories.dtype != object or not all(isinstance(c, str) for c in categories):
            return None  # numeric or missing-value categories: scikit-learn's own path
        lookups.append({c: offset + i for i, c in enumerate(categories)})
        offset += len(categories)
    width = offset

    def part(columns: Columns, n_rows: int) -> np.ndarray:
        out = np.zeros((n_rows, width), dtype=np.float64)
        for name, lookup in zip(cols, lookups, strict=True):
            values = columns[name]
            if values.dtype != object:
                raise Fallback
            for row, value in enumerate(values.tolist()):
                index = lookup.get(value) if isinstance(value, str) else None
                if index is None:
                    if unknown_error or not isinstance(value, str):
                        raise Fallback
                    continue
                out[row, index] = 1.0
        return out

    return width, part


def _scaler(scaler: Any) -> _Stage | None:
    if not _is(scaler, "StandardScaler"):
        return None
    mean = scaler.mean_ if scaler.with_mean else None
    scale = scaler.scale_ if scaler.with_std else None

    def stage(matrix: np.ndarray) -> np.ndarray:
        out = matrix.copy()
        if mean is not None:
            out -= mean
        if scale is not None:
            out /= scale
        return out

    return stage


_NODES_PER_LEVEL = 3000


class _Forest:
    """Every tree of a model packed into flat arrays, walked level by level for all trees at once."""

    def __init__(self, trees: list[Any], n_values: int) -> None:
        offsets = np.cumsum([0] + [t.node_count for t in trees[:-1]])
        self.roots = offsets.astype(np.intp)
        feature, threshold, left, right, values = [], [], [], [], []
        for tree, offset in zip(trees, offsets, strict=True):
            leaf = tree.children_left == -1
            own = np.arange(tree.node_count) + offset
            left.append(np.where(leaf, own, tree.children_left + offset))
            right.append(np.where(leaf, own, tree.children_right + offset))
            feature.append(np.where(leaf, 0, tree.feature))
            threshold.append(tree.threshold)
            values.append(tree.value[:, 0, :n_values])
        self.feature = np.concatenate(feature).astype(np.intp)
        self.threshold = np.concatenate(threshold).astype(np.float64)
        self.left = np.concatenate(left).astype(np.intp)
        self.right = np.concatenate(right).astype(np.intp)
        self.children = np.stack([self.right, self.left], axis=1).ravel()  # [2 * node + went_left]
        self.values = np.ascontiguousarray(np.concatenate(values).astype(np.float64))
        self.depth = max(t.max_depth for t in trees)
        self.n_trees = len(trees)
        # One row: deciding every node at once (a few whole-array operations) and then following
        # the chosen children is cheaper than a level-by-level walk's eight small operations per
        # level, as long as the forest is not much larger than depth x a few thousand nodes.
        self.decide_all_nodes = len(self.feature) <= _NODES_PER_LEVEL * max(self.depth, 1)

    def leaf_values(self, x32: np.ndarray) -> np.ndarray:
        """(rows, trees, values): each tree's leaf value for each row."""
        n_rows, n_features = x32.shape
        if n_rows == 1 and self.decide_all_nodes:
            # The same float32-against-float64 comparisons, made for every node of this row.
            go_left = x32[0].take(self.feature) <= self.threshold
            chosen = np.where(go_left, self.left, self.right)  # a leaf's own index for a leaf
            node = self.roots
            for _ in range(self.depth):
                node = chosen.take(node)
            return self.values.take(node, axis=0).reshape(1, self.n_trees, -1)
        node = np.tile(self.roots, n_rows)  # row-major: every tree of row 0, then of row 1, ...
        row_start = np.repeat(np.arange(n_rows) * n_features, self.n_trees)
        flat = x32.ravel()
        feature, threshold, children = self.feature, self.threshold, self.children
        for _ in range(self.depth):
            # float32 input against a float64 threshold, as scikit-learn's Cython compares them.
            go_left = flat.take(feature.take(node) + row_start) <= threshold.take(node)
            node = children.take(2 * node + go_left)
        return self.values.take(node, axis=0).reshape(n_rows, self.n_trees, -1)


def _tree_model(model: Any) -> _Stage | None:
    forest = _is(model, "RandomForestClassifier", "ExtraTreesClassifier", "RandomForestRegressor",
                 "ExtraTreesRegressor")
    single = _is(model, "DecisionTreeClassifier", "DecisionTreeRegressor")
    if not (forest or single) or getattr(model, "n_outputs_", 0) != 1:
        return None
    classifier = type(model).__name__.endswith("Classifier")
    trees = [e.tree_ for e in model.estimators_] if forest else [model.tree_]
    n_values = int(model.n_classes_) if classifier else 1
    packed = _Forest(trees, n_values)
    n_features = int(model.n_features_in_)
    classes = model.classes_ if classifier else None

    def predict(matrix: np.ndarray) -> np.ndarray:
        if matrix.ndim != 2 or matrix.shape[1] != n_features:
            raise Fallback
        x32 = np.ascontiguousarray(matrix, dtype=np.float32)
        if not np.isfinite(x32).all():
            raise Fallback  # scikit-learn raises its own error (or handles NaN): let it
        leaves = packed.leaf_values(x32)
        if forest:
            # The forest sums its trees' outputs one after another, then divides by their count;
            # a running sum along the tree axis is that same sequence of additions.
            total = np.cumsum(leaves, axis=1)[:, -1, :]
            total /= packed.n_trees
        else:
            total = leaves[:, 0, :]
        if classes is not None:
            return classes.take(np.argmax(total, axis=1), axis=0)
        return total[:, 0].copy()

    return predict
