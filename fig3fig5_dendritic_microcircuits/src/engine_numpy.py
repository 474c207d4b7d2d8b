"""Reference engine: the microcircuit step of model §1.3-1.5 and the run loop of model §3, batched over an
ensemble of K networks with numpy (float32).

Matrix-vector products are written as (W * x).sum(-1), a per-row reduction whose result does not depend
on K, so an ensemble reproduces K separate runs bit for bit. The compiled engine (engine_numba.py) runs
the same operations in the same order, except the matvec summation order and the softplus implementation;
tests compare the two.
"""
import numpy as np

from .params import (P_DT, P_GP, P_GI, P_GO, P_GO_NOTGT, P_GB, P_GA, P_GSOM, P_GLB, P_ALPHA_P,
                     P_ALPHA_I, P_ALPHA_O, P_BIAS_VAL, P_CLIP_HID, P_CLIP_OUT, P_GSOM_I, P_ETA0,
                     I_LE, I_N_OUT, I_N_LL, I_RATES_FROM_SOMA)


def phi(x):
    """Softplus with cut-offs (model §1.1), float32; x = -15 exactly returns -15 (model Q15)."""
    x = np.asarray(x, dtype=np.float32)
    mid = (x < 15.0) & (x > -15.0)
    out = np.where(mid, np.log1p(np.exp(np.where(mid, x, 0).astype(np.float32))), x)
    return np.where(x < -15.0, np.float32(0.0), out).astype(np.float32)


def _col(par, j):
    return par[:, j:j + 1]                                  # (K, 1), broadcasts over neurons


def _matvec(W, x):
    return (W * x[:, None, :]).sum(-1)                      # (K, N, M) x (K, M) -> (K, N)


def _with_bias(x, par, bias):
    if not bias:
        return x
    return np.concatenate([x, _col(par, P_BIAS_VAL)], axis=1)   # (K, M + 1)


def step(lay, S, rate, par, ipar, y, nudge, learn, store_delta):
    """One synchronous step of all K networks (model §1.3-1.5), in place on S (K, n_state) and the
    rate rows (K, n_rate) = φ(p(X)) of the previous step. y: (K, N_L) float32 target, nudge/learn: (K,)
    bool. In orig mode the stored pyr_forw/inn_forw hold the soma, so p(X) is always the *_forw field."""
    L = lay.n_layers
    le = (ipar[:, I_LE] == 1)[:, None]                       # (K, 1)
    rfs = (ipar[:, I_RATES_FROM_SOMA] == 1)[:, None]         # (K, 1) ablation: p(X) = u
    dt = _col(par, P_DT)
    gb, ga, gsom = _col(par, P_GB), _col(par, P_GA), _col(par, P_GSOM)
    lrn = learn[:, None, None]                               # (K, 1, 1)
    V = lambda i, f: lay.view(S, i, f)                       # noqa: E731
    R = lambda i, pop: rate[:, lay.rate_off[i, pop]:lay.rate_off[i, pop] + lay.dims[i + 1 + pop]]  # noqa: E731
    rate_new = rate.copy()
    # phase 1: every layer computes from the start-of-step state (reads of upper ν happen before the
    # upper layer writes, because layers are processed in ascending order)
    for i in range(L):
        if i == 0:
            rho_in = V("run", "r_in")                        # (K, N0) input rate r
        else:
            rho_in = R(i - 1, 0)                             # (K, N_{i})
        rho_in = _with_bias(rho_in, par, lay.bias)           # (K, M)
        c_up = _col(par, P_ETA0 + 3 * i)[:, :, None]         # (K, 1, 1)
        if i < L - 1:
            GP, GI = _col(par, P_GP), _col(par, P_GI)
            rho_P = _with_bias(R(i, 0), par, lay.bias)       # (K, N + b)
            rho_I = R(i, 1)                                  # (K, U)
            rho_next = R(i + 1, 0)                           # (K, U)
            nu = V(i + 1, "pyr_forw").copy()                 # (K, U) p(P_{l+1})
            vB = _matvec(V(i, "W_up"), rho_in)               # (K, N)
            vA = _matvec(V(i, "W_down"), rho_next) + _matvec(V(i, "W_pi"), rho_I)   # (K, N)
            vI = _matvec(V(i, "W_ip"), rho_P)                # (K, U)
            sP = (gb * vB + ga * vA) / GP                    # (K, N)
            sI = (gb * vI + _col(par, P_GSOM_I) * nu) / GI   # (K, U)
            dP = GP * (sP - V(i, "pyr_soma"))                # (K, N)
            dI = GI * (sI - V(i, "inn_soma"))                # (K, U)
            unP = V(i, "pyr_soma") + dt * dP                 # (K, N) soma after the Euler step
            unI = V(i, "inn_soma") + dt * dI                 # (K, U)
            uhP = np.where(le, V(i, "pyr_soma") + dP / GP, unP)   # û (model §1.4)
            uhI = np.where(le, V(i, "inn_soma") + dI / GI, unI)
            txP, txI = np.where(rfs, unP, uhP), np.where(rfs, unI, uhI)   # transmitted p(X)
            for f, val in (("pyr_basal", vB), ("pyr_apical", vA), ("pyr_steadystate", sP),
                           ("pyr_udot", dP), ("pyr_forw", txP), ("inn_dendrite", vI),
                           ("inn_steadystate", sI), ("inn_udot", dI), ("inn_forw", txI),
                           ("pyr_soma", unP), ("inn_soma", unI)):
                V(i, f)[...] = val
            rP_new, rI_new = phi(txP), phi(txI)
            rate_new[:, lay.rate_off[i, 0]:lay.rate_off[i, 0] + lay.dims[i + 1]] = rP_new
            rate_new[:, lay.rate_off[i, 1]:lay.rate_off[i, 1] + lay.dims[i + 2]] = rI_new
            if learn.any():                                   # model §1.4, W <- W + dt η ΔW
                c_pi = _col(par, P_ETA0 + 3 * i + 1)[:, :, None]
                c_ip = _col(par, P_ETA0 + 3 * i + 2)[:, :, None]
                clip = _col(par, P_CLIP_HID)[:, :, None]
                postP = np.where(rfs, phi(uhP), rP_new)      # φ(û), model Q5
                postI = np.where(rfs, phi(uhI), rI_new)
                D_up = (postP - phi(_col(par, P_ALPHA_P) * vB))[:, :, None] * rho_in[:, None, :]
                D_ip = (postI - phi(_col(par, P_ALPHA_I) * vI))[:, :, None] * rho_P[:, None, :]
                D_pi = (-vA)[:, :, None] * rho_I[:, None, :]
                for f, D, c in (("W_ip", D_ip, c_ip), ("W_up", D_up, c_up), ("W_pi", D_pi, c_pi)):
                    W = V(i, f)
                    W_new = W + c * D
                    if f == "W_up":
                        W_new = np.minimum(np.maximum(W_new, -clip), clip)
                    W[...] = np.where(lrn, W_new, W)
                if store_delta:
                    for f, D in (("Delta_up", D_up), ("Delta_ip", D_ip), ("Delta_pi", D_pi)):
                        V(i, f)[...] = np.where(lrn, D, V(i, f))
        else:
            GO = _col(par, P_GO)
            G = np.where(nudge[:, None], GO, _col(par, P_GO_NOTGT))   # model Q4
            vO = _matvec(V(i, "W_up"), rho_in)               # (K, N_L)
            sO = np.where(nudge[:, None], (gb * vO + gsom * y) / GO, gb * vO / _col(par, P_GLB))
            u = V(i, "pyr_soma")
            dO = G * (sO - u)                                # (K, N_L)
            unO = u + dt * dO
            uhO = np.where(le, u + dO / G, unO)
            txO = np.where(rfs, unO, uhO)
            for f, val in (("pyr_basal", vO), ("pyr_steadystate", sO), ("pyr_udot", dO),
                           ("pyr_forw", txO), ("pyr_soma", unO)):
                V(i, f)[...] = val
            rO_new = phi(txO)
            rate_new[:, lay.rate_off[i, 0]:lay.rate_off[i, 0] + lay.dims[i + 1]] = rO_new
            if learn.any():
                clip = _col(par, P_CLIP_OUT)[:, :, None]
                postO = np.where(rfs, phi(uhO), rO_new)
                D = (postO - phi(_col(par, P_ALPHA_O) * vO))[:, :, None] * rho_in[:, None, :]
                W = V(i, "W_up")
                W_new = np.minimum(np.maximum(W + c_up * D, -clip), clip)
                W[...] = np.where(lrn, W_new, W)
                if store_delta:
                    V(i, "Delta_up")[...] = np.where(lrn, D, V(i, "Delta_up"))
    rate[...] = rate_new


def run(lay, ens, sched, rec):
    """Model §3 loop over the patterns of `sched` (engine_call.Schedule) for the networks of `ens`
    (engine_call.Ensemble, updated in place), recording into `rec` (engine_call.Recording).
    Returns out (K, P, N_L) float32 per-pattern means of p(O) and div_at (K,) int64, the pattern at
    which a network diverged in this call or -1. Same effects as engine_numba.run."""
    S, rate, par, ipar, active = ens.S, ens.rate, ens.par, ens.ipar, ens.active
    rbuf, ybuf, ylast, flag_last = ens.rbuf, ens.ybuf, ens.ylast, ens.flag_last
    X, T, learn, n = sched.X, sched.T, sched.learn, sched.n
    K, P, N0 = X.shape
    NL = lay.dims[-1]
    out = np.zeros((K, P, NL), dtype=np.float32)
    div_at = np.full(K, -1, dtype=np.int64)
    f = ens.par64[:, 0:1]                                      # (K, 1) dt / tau_0
    le = ipar[:, I_LE] == 1                                    # (K,)
    n_out, n_ll = ipar[:, I_N_OUT], ipar[:, I_N_LL]
    w_out = (n - n_out).astype(np.float32)[:, None]            # (K, 1)
    r_in, u_tgt = lay.view(S, "run", "r_in"), lay.view(S, "run", "u_tgt")
    uhO = lay.view(S, lay.n_layers - 1, "pyr_forw")              # (K, N_L) p(O)
    for q in range(P):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        for i in range(n):
            S_before = S[~active].copy() if not active.all() else None
            rate_before = rate[~active].copy() if S_before is not None else None
            rbuf[...] += f * (X[:, q] - rbuf)                  # step 1 (float64)
            r_in[...] = rbuf.astype(np.float32)
            lrn = (i >= n_ll) & learn[:, q]                    # step 2
            ybuf[...] += f * (T[:, q, :NL] - ybuf)             # step 3
            y = np.where(le[:, None], ylast, ybuf).astype(np.float32)   # model Q6: LE uses y_last
            nudge = np.where(le, flag_last != 0.0, T[:, q, NL] != 0.0)
            u_tgt[...] = y
            step(lay, S, rate, par, ipar, y, nudge, lrn, sched.store_delta)
            if S_before is not None:                           # diverged networks stay frozen
                S[~active], rate[~active] = S_before, rate_before
            on = (i >= n_out) & active
            out[on, q] += uhO[on] / w_out[on]                  # step 5
            flag_last[le] = T[le, q, NL]                       # step 6
            ylast[le] = ybuf[le]
            if rec.idx.size:
                ens.acc[active] += S[active][:, rec.idx]
                ens.cnt[active] += 1
                full = active & (ens.cnt == rec.every)
                for k in np.flatnonzero(full):
                    rec.trace[k, rec.ptr[k]] = ens.acc[k] / rec.every
                    ens.acc[k] = 0.0
                    ens.cnt[k] = 0
                    rec.ptr[k] += 1
        absmax = np.abs(np.concatenate([lay.view(S, li, "pyr_forw") for li in range(lay.n_layers)], 1))
        bad = active & ~(absmax <= sched.v_max).all(1)
        div_at[bad] = q
        active[bad] = False
    return out, div_at
