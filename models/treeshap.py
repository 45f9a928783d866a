"""Exact path-dependent TreeSHAP for depth-limited LightGBM trees, by per-leaf look-up tables.

Why not ``Booster.predict(pred_contrib=True)``: it runs the recursive TreeSHAP of Lundberg et
al. for every row, O(T·L·D²), and was half of a million-application screening. For one leaf,
path-dependent TreeSHAP only depends on *which* of the leaf's path features a row agrees
with: a feature whose splits on the path all send the row towards the leaf has "one
fraction" 1, otherwise 0, and its "zero fraction" (the share of training rows, by LightGBM's
``data_count`` cover, that take the leaf's side) is fixed by the model. With ``k`` distinct
features on the path (repeated splits on one feature merged, as LightGBM's unwinding does),
the leaf's contribution to each of them is one of ``2^k`` vectors, computed once per model.
Explaining a row is then: evaluate every split once, build each leaf's ``k``-bit pattern,
add ``k`` table entries. That is the same sum ``pred_contrib`` computes, in another order, so
the two agree to rounding (a property test checks 1e-9 on every tree).

Categorical splits, ``missing_type`` (None / Zero / NaN), ``default_left`` and LightGBM's
treatment of ``|x| <= 1e-35`` as zero follow LightGBM's ``Tree::Decision`` exactly. The tables
are rebuilt from ``Booster.dump_model()`` whenever a model is loaded; nothing is persisted.
Models this cannot serve compactly (multiclass, linear trees, paths with too many distinct
features for a table) keep LightGBM's ``pred_contrib``.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import lightgbm as lgb
import numpy as np
from numba import njit

#: Distinct features on one path beyond which a leaf's table (2^k · k floats) is not built.
MAX_PATH_FEATURES = 16
#: Total table size beyond which a model keeps ``pred_contrib`` (memory of the service).
MAX_TABLE_BYTES = 256 * 2**20
#: Rows below which splitting the work over threads costs more than it saves.
MIN_ROWS_PER_THREAD = 2_048
#: Rows explained together: a block's transposed features and sums stay in cache.
BLOCK_ROWS = 256

_NUMERIC, _CATEGORICAL = 0, 1
_MISSING = {"None": 0, "Zero": 1, "NaN": 2}
_ZERO_THRESHOLD = 1e-35  # LightGBM's kZeroThreshold: smaller magnitudes are read as 0


class GBMContributions(Protocol):
    """What ``PDModel`` asks of a GBM explainer: pred_contrib's layout, (n, F + 1), bias last."""

    def contributions(self, X: np.ndarray, threads: int = 0) -> np.ndarray: ...


class UnsupportedModel(ValueError):
    """The booster cannot be explained by leaf tables (the reason names the property)."""


@dataclass(frozen=True)
class LightGBMContrib:
    """LightGBM's own recursive TreeSHAP, for models the tables do not cover."""

    booster: lgb.Booster

    def contributions(self, X: np.ndarray, threads: int = 0) -> np.ndarray:
        return self.booster.predict(X, pred_contrib=True, num_threads=threads)


@dataclass(frozen=True)
class LeafTableExplainer:
    """Per-leaf TreeSHAP tables of one booster, flattened over all trees.

    Internal nodes of all trees are numbered globally (``node_*``); each leaf has a run of
    path steps (``step_*``: the node, whether the leaf lies left of it, the feature's slot
    in the leaf) and a table of ``2^k · k`` contributions indexed by pattern then slot.
    """

    n_features: int
    bias: float
    node_feature: np.ndarray
    node_threshold: np.ndarray
    node_kind: np.ndarray
    node_missing: np.ndarray
    node_default_left: np.ndarray
    node_cat_start: np.ndarray
    node_cat_end: np.ndarray
    cat_bits: np.ndarray
    tree_node_start: np.ndarray
    tree_leaf_start: np.ndarray
    leaf_step_start: np.ndarray
    leaf_k: np.ndarray
    leaf_slot_start: np.ndarray
    leaf_table_start: np.ndarray
    step_node: np.ndarray
    step_left: np.ndarray
    step_slot: np.ndarray
    slot_feature: np.ndarray
    table: np.ndarray

    @classmethod
    def from_booster(cls, booster: lgb.Booster) -> LeafTableExplainer:
        return cls.from_dump(booster.dump_model())

    @classmethod
    def from_dump(cls, dump: dict[str, Any]) -> LeafTableExplainer:
        """Tables from ``Booster.dump_model()``; raises ``UnsupportedModel`` naming why not."""
        if dump.get("num_tree_per_iteration", 1) != 1:
            raise UnsupportedModel(
                f"num_tree_per_iteration must be 1; got {dump['num_tree_per_iteration']}"
            )
        builder = _Builder()
        for tree in dump["tree_info"]:
            builder.add_tree(tree["tree_structure"])
        return builder.build(dump["max_feature_idx"] + 1)

    def contributions(self, X: np.ndarray, threads: int = 0) -> np.ndarray:
        """TreeSHAP contributions to the margin, (n, n_features + 1), bias last."""
        X = np.ascontiguousarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(
                f"X must have shape (n, {self.n_features}); got {getattr(X, 'shape', None)}"
            )
        out = np.zeros((len(X), self.n_features + 1))
        out[:, -1] = self.bias
        rows_allow = max(1, len(X) // MIN_ROWS_PER_THREAD)  # one request: no pool, no core count
        workers = 1 if rows_allow == 1 else min(threads or os.cpu_count() or 1, rows_allow)
        if workers <= 1:
            self._explain(X, out)
            return out
        bounds = np.linspace(0, len(X), workers + 1).astype(int)
        with ThreadPoolExecutor(workers) as pool:
            list(
                pool.map(
                    lambda i: self._explain(
                        X[bounds[i] : bounds[i + 1]], out[bounds[i] : bounds[i + 1]]
                    ),
                    range(workers),
                )
            )
        return out

    def _explain(self, X: np.ndarray, out: np.ndarray) -> None:
        _explain_rows(
            X,
            out,
            self.node_feature,
            self.node_threshold,
            self.node_kind,
            self.node_missing,
            self.node_default_left,
            self.node_cat_start,
            self.node_cat_end,
            self.cat_bits,
            self.tree_node_start,
            self.tree_leaf_start,
            self.leaf_step_start,
            self.leaf_k,
            self.leaf_slot_start,
            self.leaf_table_start,
            self.step_node,
            self.step_left,
            self.step_slot,
            self.slot_feature,
            self.table,
        )


def explainer_for(booster: lgb.Booster) -> GBMContributions:
    """Leaf tables when the booster allows them, else LightGBM's ``pred_contrib``."""
    try:
        return LeafTableExplainer.from_booster(booster)
    except UnsupportedModel:
        return LightGBMContrib(booster)


class _Builder:
    """Walks dumped trees into the flat arrays of ``LeafTableExplainer``."""

    def __init__(self) -> None:
        self.nodes: list[tuple[int, float, int, int, bool, int, int]] = []
        self.cat_bits: list[int] = []
        self.seen: dict[int, int] = {}
        self.tree_node_start: list[int] = [0]
        self.tree_leaf_start: list[int] = [0]
        self.steps: list[tuple[int, bool, int]] = []
        self.leaf_step_start: list[int] = [0]
        self.leaf_k: list[int] = []
        self.leaf_value: list[float] = []
        self.slot_feature: list[int] = []
        self.zero_fraction: list[float] = []
        self.bias = 0.0

    def add_tree(self, root: dict[str, Any]) -> None:
        if "leaf_value" in root:  # a single leaf: it only moves the bias
            self.bias += float(root["leaf_value"])
            self._close_tree()
            return
        if "leaf_coeff" in _first_leaf(root):
            raise UnsupportedModel("linear_tree models are not supported by leaf tables")
        total = float(root["internal_count"])
        expected = 0.0
        for leaf, path in _leaves(root):
            expected += float(leaf["leaf_count"]) / total * float(leaf["leaf_value"])
            self._add_leaf(leaf, path)
        self.bias += expected
        self._close_tree()

    def _close_tree(self) -> None:
        self.tree_node_start.append(len(self.nodes))
        self.tree_leaf_start.append(len(self.leaf_k))

    def _node_index(self, node: dict[str, Any]) -> int:
        """Global index of an internal node, added on first sight (pre-order)."""
        key = id(node)
        if key not in self.seen:
            self.seen[key] = len(self.nodes)
            categorical = node["decision_type"] == "=="
            start = len(self.cat_bits)
            if categorical:
                self.cat_bits.extend(_bitset(str(node["threshold"])))
            self.nodes.append(
                (
                    int(node["split_feature"]),
                    0.0 if categorical else float(node["threshold"]),
                    _CATEGORICAL if categorical else _NUMERIC,
                    _MISSING[node["missing_type"]],
                    bool(node["default_left"]),
                    start,
                    len(self.cat_bits),
                )
            )
        return self.seen[key]

    def _add_leaf(self, leaf: dict[str, Any], path: list[tuple[dict[str, Any], bool]]) -> None:
        slots: dict[int, int] = {}
        zero: list[float] = []
        for node, left in path:
            feature = int(node["split_feature"])
            child = node["left_child"] if left else node["right_child"]
            fraction = _count(child) / float(node["internal_count"])
            if feature not in slots:
                slots[feature] = len(slots)
                zero.append(fraction)
            else:
                zero[slots[feature]] *= fraction
            self.steps.append((self._node_index(node), left, slots[feature]))
        if len(slots) > MAX_PATH_FEATURES:
            raise UnsupportedModel(
                f"a leaf's path has {len(slots)} distinct features; at most "
                f"{MAX_PATH_FEATURES} fit a table"
            )
        self.leaf_step_start.append(len(self.steps))
        self.leaf_k.append(len(slots))
        self.leaf_value.append(float(leaf["leaf_value"]))
        self.slot_feature.extend(slots)
        self.zero_fraction.extend(zero)

    def build(self, n_features: int) -> LeafTableExplainer:
        leaf_k = np.asarray(self.leaf_k, dtype=np.int64)
        sizes = (2**leaf_k) * leaf_k
        if sizes.sum() * 8 > MAX_TABLE_BYTES:
            raise UnsupportedModel(
                f"leaf tables would take {sizes.sum() * 8 / 2**20:,.0f} MiB; at most "
                f"{MAX_TABLE_BYTES / 2**20:,.0f} MiB"
            )
        table_start = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        slot_start = np.concatenate([[0], np.cumsum(leaf_k)]).astype(np.int64)
        table = np.empty(int(table_start[-1]))
        _fill_tables(
            np.asarray(self.leaf_value, dtype=np.float64),
            leaf_k,
            slot_start,
            np.asarray(self.zero_fraction, dtype=np.float64),
            table_start,
            table,
        )
        nodes = list(zip(*self.nodes, strict=True)) if self.nodes else [()] * 7
        steps = list(zip(*self.steps, strict=True)) if self.steps else [()] * 3
        return LeafTableExplainer(
            n_features=n_features,
            bias=self.bias,
            node_feature=np.asarray(nodes[0], dtype=np.int64),
            node_threshold=np.asarray(nodes[1], dtype=np.float64),
            node_kind=np.asarray(nodes[2], dtype=np.int8),
            node_missing=np.asarray(nodes[3], dtype=np.int8),
            node_default_left=np.asarray(nodes[4], dtype=np.bool_),
            node_cat_start=np.asarray(nodes[5], dtype=np.int64),
            node_cat_end=np.asarray(nodes[6], dtype=np.int64),
            cat_bits=np.asarray(self.cat_bits, dtype=np.uint32),
            tree_node_start=np.asarray(self.tree_node_start, dtype=np.int64),
            tree_leaf_start=np.asarray(self.tree_leaf_start, dtype=np.int64),
            leaf_step_start=np.asarray(self.leaf_step_start, dtype=np.int64),
            leaf_k=leaf_k,
            leaf_slot_start=slot_start,
            leaf_table_start=table_start,
            step_node=np.asarray(steps[0], dtype=np.int64),
            step_left=np.asarray(steps[1], dtype=np.bool_),
            step_slot=np.asarray(steps[2], dtype=np.int64),
            slot_feature=np.asarray(self.slot_feature, dtype=np.int64),
            table=table,
        )


def _leaves(root: dict[str, Any]):
    """(leaf, [(node, leaf is left of node), …]) for every leaf, depth first."""
    stack: list[tuple[dict[str, Any], list[tuple[dict[str, Any], bool]]]] = [(root, [])]
    while stack:
        node, path = stack.pop()
        if "leaf_value" in node:
            yield node, path
            continue
        stack.append((node["right_child"], [*path, (node, False)]))
        stack.append((node["left_child"], [*path, (node, True)]))


def _first_leaf(node: dict[str, Any]) -> dict[str, Any]:
    while "leaf_value" not in node:
        node = node["left_child"]
    return node


def _count(node: dict[str, Any]) -> float:
    """LightGBM's ``data_count``: the cover TreeSHAP weighs by."""
    return float(node["leaf_count"] if "leaf_value" in node else node["internal_count"])


def _bitset(threshold: str) -> list[int]:
    """LightGBM's category bitset (32 categories a word) from the dump's ``"1||3||7"``."""
    categories = [int(c) for c in threshold.split("||")]
    words = [0] * (max(categories) // 32 + 1)
    for c in categories:
        words[c // 32] |= 1 << (c % 32)
    return words


@njit(cache=True)
def _fill_tables(leaf_value, leaf_k, slot_start, zero_fraction, table_start, table):
    """Shapley values of each leaf's value for every pattern of path conditions met.

    With zero fractions ``z`` and one fractions ``o`` (0/1, the pattern's bits), feature i gets
    ``v·(o_i − z_i)·Σ_m w(m, k)·e_m``, where ``e_m`` is the coefficient of ``t^m`` in
    ``Π_{j≠i}(z_j + o_j·t)`` (coalitions of size m) and ``w(m, k) = m!(k−1−m)!/k!``.
    """
    for leaf in range(len(leaf_value)):
        k = leaf_k[leaf]
        z = zero_fraction[slot_start[leaf] : slot_start[leaf] + k]
        weight = np.empty(k)
        binomial = 1.0  # C(k − 1, m), exact in floats for any depth a table allows
        for m in range(k):
            weight[m] = 1.0 / (k * binomial)
            binomial = binomial * (k - 1 - m) / (m + 1)
        coef = np.empty(k)
        base = table_start[leaf]
        for pattern in range(1 << k):
            for i in range(k):
                coef[:] = 0.0
                coef[0] = 1.0
                degree = 0
                for j in range(k):
                    if j == i:
                        continue
                    o_j = (pattern >> j) & 1
                    degree += 1
                    for m in range(degree, 0, -1):
                        coef[m] = coef[m] * z[j] + coef[m - 1] * o_j
                    coef[0] = coef[0] * z[j]
                total = 0.0
                for m in range(k):
                    total += weight[m] * coef[m]
                o_i = (pattern >> i) & 1
                table[base + pattern * k + i] = leaf_value[leaf] * (o_i - z[i]) * total


@njit(cache=True, nogil=True)
def _explain_rows(
    X,
    out,
    node_feature,
    node_threshold,
    node_kind,
    node_missing,
    node_default_left,
    node_cat_start,
    node_cat_end,
    cat_bits,
    tree_node_start,
    tree_leaf_start,
    leaf_step_start,
    leaf_k,
    leaf_slot_start,
    leaf_table_start,
    step_node,
    step_left,
    step_slot,
    slot_feature,
    table,
):
    """Adds every leaf's table entry for each row's pattern; ``out`` holds the bias already.

    Tree by tree over blocks of rows, features by rows (transposed): a tree's tables stay in
    cache while a block's rows use them, and the inner loops run over contiguous rows.
    """
    n_rows, n_features = X.shape
    n_trees = len(tree_node_start) - 1
    block = min(BLOCK_ROWS, n_rows)
    max_nodes = 0
    for t in range(n_trees):
        max_nodes = max(max_nodes, tree_node_start[t + 1] - tree_node_start[t])
    go_left = np.empty((max(max_nodes, 1), block), dtype=np.bool_)
    failed = np.empty(block, dtype=np.int64)
    for b0 in range(0, n_rows, block):
        b1 = min(b0 + block, n_rows)
        rows = b1 - b0
        xt = np.ascontiguousarray(X[b0:b1].T)
        acc = np.zeros((n_features, rows))
        for t in range(n_trees):
            n0 = tree_node_start[t]
            for node in range(n0, tree_node_start[t + 1]):
                x_col = xt[node_feature[node]]
                decided = go_left[node - n0]
                if node_kind[node] == 0:
                    _numeric(
                        x_col,
                        decided,
                        rows,
                        node_missing[node],
                        node_default_left[node],
                        node_threshold[node],
                    )
                else:
                    _categorical(
                        x_col,
                        decided,
                        rows,
                        cat_bits[node_cat_start[node] : node_cat_end[node]],
                    )
            for leaf in range(tree_leaf_start[t], tree_leaf_start[t + 1]):
                k = leaf_k[leaf]
                failed[:rows] = 0
                for s in range(leaf_step_start[leaf], leaf_step_start[leaf + 1]):
                    decided = go_left[step_node[s] - n0]
                    wanted = step_left[s]
                    bit = 1 << step_slot[s]
                    for r in range(rows):
                        if decided[r] != wanted:
                            failed[r] |= bit
                full = (1 << k) - 1
                start = leaf_table_start[leaf]
                slots = leaf_slot_start[leaf]
                for u in range(k):
                    target = acc[slot_feature[slots + u]]
                    for r in range(rows):
                        target[r] += table[start + (full ^ failed[r]) * k + u]
        out[b0:b1, :n_features] += acc.T


@njit(cache=True, nogil=True, inline="always")
def _numeric(x_col, decided, rows, missing, default_left, threshold):
    """LightGBM's ``NumericalDecision`` for a column of rows (True: left)."""
    for r in range(rows):
        x = x_col[r]
        if np.isnan(x) and missing != 2:
            x = 0.0
        if abs(x) <= 1e-35:  # LightGBM reads such magnitudes as 0 when it takes the row
            x = 0.0
        if (missing == 1 and x == 0.0) or (missing == 2 and np.isnan(x)):
            decided[r] = default_left
        else:
            decided[r] = x <= threshold


@njit(cache=True, nogil=True, inline="always")
def _categorical(x_col, decided, rows, bits):
    """LightGBM's ``CategoricalDecision``: left iff the category is in the split's bitset."""
    for r in range(rows):
        x = x_col[r]
        # NaN and codes below 0 (after C's truncation) go right, whatever the missing type
        left = False
        if -1.0 < x < 2147483648.0:  # False for NaN
            category = int(x)
            if category // 32 < len(bits):
                left = (bits[category // 32] >> np.uint32(category % 32)) & 1 == 1
        decided[r] = left
