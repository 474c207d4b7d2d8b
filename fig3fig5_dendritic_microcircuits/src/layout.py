"""Flat state layout shared by the numpy and numba engines.

Every network of an ensemble keeps all its weights, voltages, dendritic potentials, Δ matrices and the
current input/target in one float32 row S[k, :]. A field is a (layer, name) pair with an offset and a
shape; both engines read and write through the same offsets, so recording any quantity is a slice of S.
Layer index i = 0 .. L-2 are the hidden layers, i = L-1 is the output layer (model §1.1).
Weight and Δ matrices W (N, M) are stored transposed (column j of W contiguous), so that the compiled
matrix-vector products and outer-product updates run over contiguous memory; `view` hides this.
"""
from dataclasses import dataclass

import numpy as np

# per-field codes used by the compiled kernel (columns of Layout.table)
HIDDEN_FIELDS = ("W_up", "W_down", "W_pi", "W_ip",
                 "pyr_soma", "pyr_forw", "pyr_steadystate", "pyr_udot", "pyr_basal", "pyr_apical",
                 "inn_soma", "inn_forw", "inn_steadystate", "inn_udot", "inn_dendrite",
                 "Delta_up", "Delta_pi", "Delta_ip")
OUTPUT_FIELDS = ("W_up", "pyr_soma", "pyr_forw", "pyr_steadystate", "pyr_udot", "pyr_basal", "Delta_up")
FIELD_CODE = {name: j for j, name in enumerate(HIDDEN_FIELDS)}
RUN_FIELDS = ("r_in", "u_tgt")   # the (filtered) input rate and the target applied to the output this step


def is_matrix(name):
    return name.startswith("W_") or name.startswith("Delta_")


@dataclass(frozen=True)
class Layout:
    dims: tuple            # (N0, N1, ..., NL)
    bias: int              # 1 if a bias unit is appended to W_up / W_ip inputs, else 0
    fields: dict           # (layer, name) -> (offset, logical shape); layer = "run" for RUN_FIELDS
    n_state: int           # length of one network's state row
    table: np.ndarray      # (L, len(HIDDEN_FIELDS)) int64 offsets; -1 where a field does not exist
    rate_off: np.ndarray   # (L, 2) int64 offsets of the pyramidal / interneuron rates in the rate row
    n_rate: int            # length of one network's rate row
    run_off: np.ndarray    # (2,) int64 offsets of r_in and u_tgt

    @property
    def n_layers(self):
        return len(self.dims) - 1

    def view(self, S, layer, name):
        """View of field (layer, name) for all networks: S (K, n_state) -> (K, *shape)."""
        off, shape = self.fields[(layer, name)]
        return self.unflatten(S[:, off:off + int(np.prod(shape))], name, shape)

    @staticmethod
    def unflatten(flat, name, shape):
        """(..., size) stored values of one field -> (..., *shape) in the logical orientation."""
        lead = flat.shape[:-1]
        if is_matrix(name):                       # stored as (M, N)
            return flat.reshape(lead + shape[::-1]).swapaxes(-1, -2)
        return flat.reshape(lead + shape)

    def weight_names(self):
        """(layer, field, npz key) of every weight matrix, npz keys W_up_1, W_down_1, ..., W_up_out."""
        out = []
        for i in range(self.n_layers - 1):
            for f in ("W_up", "W_down", "W_pi", "W_ip"):
                out.append((i, f, f"{f}_{i + 1}"))
        out.append((self.n_layers - 1, "W_up", "W_up_out"))
        return out


def make_layout(dims, bias_on):
    dims = tuple(int(d) for d in dims)
    if len(dims) < 3:
        raise ValueError("dims needs an input, at least one hidden and an output layer")
    b = 1 if bias_on else 0
    L = len(dims) - 1
    fields, off = {}, 0
    table = -np.ones((L, len(HIDDEN_FIELDS)), dtype=np.int64)

    def add(layer, name, shape):
        nonlocal off
        fields[(layer, name)] = (off, shape)
        if layer != "run":
            table[layer, FIELD_CODE[name]] = off
        off += int(np.prod(shape))

    for i in range(L):
        N, M = dims[i + 1], dims[i] + b
        if i < L - 1:
            U = dims[i + 2]
            shapes = {"W_up": (N, M), "W_down": (N, U), "W_pi": (N, U), "W_ip": (U, N + b),
                      "Delta_up": (N, M), "Delta_pi": (N, U), "Delta_ip": (U, N + b)}
            for name in HIDDEN_FIELDS:
                add(i, name, shapes.get(name, (U,) if name.startswith("inn") else (N,)))
        else:
            for name in OUTPUT_FIELDS:
                add(i, name, {"W_up": (N, M), "Delta_up": (N, M)}.get(name, (N,)))
    add("run", "r_in", (dims[0],))
    add("run", "u_tgt", (dims[-1],))
    run_off = np.array([fields[("run", "r_in")][0], fields[("run", "u_tgt")][0]], dtype=np.int64)

    rate_off = -np.ones((L, 2), dtype=np.int64)
    roff = 0
    for i in range(L):
        rate_off[i, 0] = roff
        roff += dims[i + 1]
        if i < L - 1:
            rate_off[i, 1] = roff
            roff += dims[i + 2]
    return Layout(dims, b, fields, off, table, rate_off, roff, run_off)
