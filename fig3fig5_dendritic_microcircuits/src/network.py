"""An ensemble of K independent dendritic cortical microcircuits (model §1-§3) stepping together.

Each network has its own seed (numpy legacy MT19937 stream for weights and later permutations), its own
NetParams (LE or orig, conductances, learning rates, out_lag) and, in `run`, its own input/target
schedule and learning flags. A single run is K = 1.
"""
from dataclasses import dataclass

import numpy as np

from common.errors import UsageError

from . import engine_numba, engine_numpy
from .engine_call import Ensemble, Recording, Schedule
from .layout import make_layout
from .params import pack, P_ETA0

V_MAX = 1e4          # |p(X)| above this (or NaN/inf) marks a network as diverged


@dataclass
class RunResult:
    out: np.ndarray          # (K, P, N_L) float32 per-pattern mean of p(O) over steps >= n_out
    traces: dict             # (layer, quant) -> (K, n_samples, *shape) float32 block means
    diverged_at: np.ndarray  # (K,) pattern index at which a network diverged in this call, or -1


def _resolve_engine(engine):
    """(engine, note or None): the note says why 'auto' runs numpy or the compiled engine runs slower."""
    if engine not in ("numba", "numpy", "auto"):
        raise ValueError(f"unknown engine {engine!r} (numba|numpy|auto)")
    if engine == "auto" and not engine_numba.AVAILABLE:
        return "numpy", engine_numba.UNAVAILABLE_MSG
    if engine == "numpy":
        return engine, None
    if not engine_numba.AVAILABLE:
        raise UsageError(f"engine 'numba': {engine_numba.UNAVAILABLE_MSG}")
    return "numba", "; ".join(engine_numba.NOTES) or None


class Microcircuits:
    """K networks with shared dims/bias. `init_weights`: one dict of half-widths {up, down, pi, ip}
    or one per network. `engine`: 'numba' (compiled), 'numpy' (reference) or 'auto'."""

    def __init__(self, dims, params, seeds, bias_on=False, init_weights=None, engine="auto"):
        if len(params) != len(seeds):
            raise ValueError("one seed per network")
        self.engine_asked = engine
        self.engine, self.engine_note = _resolve_engine(engine)
        self.lay = make_layout(dims, bias_on)
        self.params = list(params)
        self.K = len(params)
        iw = init_weights or {"up": 1.0, "down": 1.0, "pi": 1.0, "ip": 1.0}
        iws = list(iw) if isinstance(iw, (list, tuple)) else [iw] * len(params)   # one per network
        self.S = np.zeros((self.K, self.lay.n_state), dtype=np.float32)    # (K, n_state)
        self.rate = np.zeros((self.K, self.lay.n_rate), dtype=np.float32)  # (K, n_rate) φ(p(X))
        self.rngs = [np.random.RandomState(s) for s in seeds]               # model §1.1 legacy seed
        for k, rng in enumerate(self.rngs):
            for layer, f, _ in self.lay.weight_names():
                shape = self.lay.fields[(layer, f)][1]
                key = "up" if f == "W_up" else f[2:]
                s = rng.random_sample(shape).astype(np.float32)              # model Q13: cast first
                self.lay.view(self.S, layer, f)[k] = (s - 0.5) * 2 * iws[k][key]
        self.par, self.par64, self.ipar = pack(self.params, self.lay.n_layers)
        self.active = np.ones(self.K, dtype=bool)                            # False once diverged
        self._run_state = None

    # ---- weights -------------------------------------------------------------------------------
    def W(self, layer, name):
        """View (K, ...) of a weight or state field of all networks."""
        return self.lay.view(self.S, layer, name)

    def reflect(self, which=None):
        """Self-predicting initialisation (model §1.6) for the networks in `which` (default all)."""
        which = range(self.K) if which is None else which
        L = self.lay.n_layers
        for k in which:
            p = self.params[k]
            for i in range(L - 1):
                ga_next = 0.0 if i + 1 == L - 1 else p.ga      # the output layer stores g_A = 0
                self.W(i, "W_pi")[k] = -self.W(i, "W_down")[k]
                self.W(i, "W_ip")[k] = (self.W(i + 1, "W_up")[k] * (p.gb / (p.gl + ga_next + p.gb))
                                        * ((p.gl + p.gd) / p.gd))

    def set_eta(self, k, eta_up, eta_pi, eta_ip):
        """Replace the learning rates of network k (mimic stages)."""
        p = self.params[k]
        for i in range(self.lay.n_layers):
            self.par[k, P_ETA0 + 3 * i: P_ETA0 + 3 * i + 3] = (
                p.dt * eta_up[i], p.dt * eta_pi[i], p.dt * eta_ip[i])

    def weights(self, k):
        """Dict npz key -> float32 copy of network k's weights (W_up_1, W_down_1, ..., W_up_out)."""
        return {key: self.W(layer, f)[k].copy() for layer, f, key in self.lay.weight_names()}

    def set_weights(self, k, weights):
        for layer, f, key in self.lay.weight_names():
            w = np.asarray(weights[key], dtype=np.float32)
            if w.shape != self.W(layer, f)[k].shape:
                raise ValueError(f"{key}: shape {w.shape}, expected {self.W(layer, f)[k].shape}")
            self.W(layer, f)[k] = w

    # ---- state for checkpoints -----------------------------------------------------------------
    def get_state(self):
        st = {"S": self.S.copy(), "par": self.par.copy(), "active": self.active.copy()}
        if self._run_state is not None:
            st.update({"run_" + key: v.copy() for key, v in self._run_state.items() if v is not None})
        return st

    def get_states(self):
        """One state dict per network (arrays without the K axis), for its own checkpoint."""
        st = self.get_state()
        return [{key: np.array(v[k]) for key, v in st.items()} for k in range(self.K)]

    def set_states(self, states):
        """Inverse of get_states: the ensemble state from one state dict per network."""
        self.set_state({key: np.stack([st[key] for st in states]) for key in states[0]})

    def set_state(self, st):
        self.S[...] = st["S"]
        self.par[...] = st["par"]
        self.active[...] = st["active"]
        run_keys = [key for key in st if key.startswith("run_")]
        self._run_state = {key[4:]: np.array(st[key]) for key in run_keys} or None
        if self._run_state is not None:
            self._run_state.setdefault("acc", None)
        self._refresh_rates()

    def _refresh_rates(self):
        """rate = φ(p(X)) from the stored transmitted voltages (with this engine's φ)."""
        L = self.lay.n_layers
        for i in range(L):
            for pop, f in ((0, "pyr_forw"), (1, "inn_forw")):
                if i == L - 1 and pop == 1:
                    continue
                o = self.lay.rate_off[i, pop]
                x = np.ascontiguousarray(self.lay.view(self.S, i, f))
                if self.engine == "numba":
                    y = np.empty_like(x)
                    engine_numba.phi_array(x, y)
                else:
                    y = engine_numpy.phi(x)
                self.rate[:, o:o + x.shape[1]] = y

    # ---- simulation ----------------------------------------------------------------------------
    def start_run(self, X0, T0):
        """Model §3 setup: zero all potentials (weights kept), r <- X[0], y <- T[0], LE y_last <- 0."""
        keep = self.weights_all()
        self.S[...] = 0.0
        for (layer, f), arr in keep.items():
            self.W(layer, f)[...] = arr
        self._refresh_rates()
        K, NL = self.K, self.lay.dims[-1]
        self._run_state = {
            "rbuf": np.array(X0, dtype=np.float64).reshape(K, -1).copy(),          # (K, N0)
            "ybuf": np.array(T0[:, :NL], dtype=np.float64).copy(),                 # (K, N_L)
            "ylast": np.zeros((K, NL), dtype=np.float64),                          # model Q6
            "flag_last": np.array(T0[:, NL], dtype=np.float64).copy(),             # (K,)
            "acc": None, "cnt": np.zeros(K, dtype=np.int64),
        }

    def weights_all(self):
        return {(layer, f): self.W(layer, f).copy() for layer, f, _ in self.lay.weight_names()}

    def run(self, X, T=None, learn=False, n=1, record=(), record_every=1, reset=True,
            finalize=True, store_delta=False):
        """Simulate patterns X (K, P, N0) for n steps each (model §3).

        T: (K, P, N_L + 1) targets with the nudge flag in the last column (None: no target ever).
        learn: bool or (K, P) per-pattern learning flags (validation patterns: False).
        record: (layer, quant) pairs, layer = 0..L-1 or "run" (r_in, u_tgt); traces are means over
        blocks of record_every steps. reset=False continues the previous run (chunked training, resume);
        finalize=True closes a partial last trace block, as at the end of a run.
        """
        K, lay = self.K, self.lay
        X = np.ascontiguousarray(X, dtype=np.float64)                                # (K, P, N0)
        P = X.shape[1]
        NL = lay.dims[-1]
        if X.shape != (K, P, lay.dims[0]):
            raise ValueError(f"X must have shape (K={K}, P, {lay.dims[0]}), got {X.shape}")
        if T is None:                     # model Q12: an LE run without targets works here
            T = np.zeros((K, P, NL + 1))
        T = np.ascontiguousarray(T, dtype=np.float64)                                # (K, P, NL+1)
        if T.shape != (K, P, NL + 1):
            raise ValueError(f"T must have shape (K={K}, {P}, {NL + 1}), got {T.shape}")
        learn = np.ascontiguousarray(np.broadcast_to(np.asarray(learn, dtype=bool), (K, P)))
        n_out = self.ipar[:, 1]
        if (n_out >= n).any() or (self.ipar[:, 2] >= n).any():
            raise ValueError("out_lag and learning_lag must be shorter than the pattern")
        if reset or self._run_state is None:
            self.start_run(X[:, 0], T[:, 0])
        rs = self._run_state
        rec_idx, rec_shapes = self._record_index(record)
        if rs["acc"] is None or rs["acc"].shape[1] != rec_idx.size:
            rs["acc"] = np.zeros((K, rec_idx.size), dtype=np.float64)
            rs["cnt"][:] = 0
        c = int(record_every)
        n_samples = (int(rs["cnt"].max()) + P * n) // c if rec_idx.size else 0
        trace = np.zeros((K, n_samples, rec_idx.size), dtype=np.float32)
        ens = Ensemble(self.S, self.rate, self.par, self.par64, self.ipar, self.active, rs["rbuf"],
                       rs["ybuf"], rs["ylast"], rs["flag_last"], rs["acc"], rs["cnt"])
        sched = Schedule(X, T, learn, int(n), bool(store_delta), V_MAX)
        recording = Recording(rec_idx, c, trace, np.zeros(K, dtype=np.int64))
        out, div_at = self._engine_run(lay, ens, sched, recording)
        if finalize and rec_idx.size and rs["cnt"].max() > 0:     # final partial block (model §3)
            last = (rs["acc"] / np.maximum(rs["cnt"], 1)[:, None]).astype(np.float32)
            trace = np.concatenate([trace, last[:, None]], axis=1)
            rs["acc"][:] = 0.0
            rs["cnt"][:] = 0
        traces, j = {}, 0
        for key, shape in zip(record, rec_shapes):
            size = int(np.prod(shape))
            traces[tuple(key)] = lay.unflatten(trace[:, :, j:j + size], key[1], shape)
            j += size
        return RunResult(out, traces, div_at)

    def _engine_run(self, *args):
        """The chosen engine's run. Where the compiled one fails to compile at its first call (nothing
        ran), 'auto' goes on with numpy and says so in one line; 'numba' stops with exit 2."""
        if self.engine == "numba":
            try:
                return engine_numba.run(*args)
            except engine_numba.CompileFailure as err:
                if self.engine_asked == "numba":
                    raise UsageError(f"engine 'numba': {err}") from None
                self.engine, self.engine_note = "numpy", str(err)
                print(f"note: {err}")
        return engine_numpy.run(*args)

    def _record_index(self, record):
        idx, shapes = [], []
        for layer, quant in record:
            if (layer, quant) not in self.lay.fields:
                raise ValueError(f"cannot record {quant!r} in layer {layer!r}")
            off, shape = self.lay.fields[(layer, quant)]
            idx.append(np.arange(off, off + int(np.prod(shape))))
            shapes.append(shape)
        idx = np.concatenate(idx).astype(np.int64) if idx else np.zeros(0, dtype=np.int64)
        return idx, shapes
