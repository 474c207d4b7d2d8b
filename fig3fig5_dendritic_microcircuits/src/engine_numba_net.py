"""Compiled engine for small ensembles: the same step as engine_numba.py, one network after the other,
vectorised over the neurons of a network instead of across networks.

A block of engine_numba.LANES = 8 networks costs about as much as 2 networks stepped here (the
vectors inside one network are short, but no lanes are idle), so Microcircuits.run picks this loop
for K below LANES_FROM. Every expression is the one of engine_numba.py in the same order, with the
same φ and no fastmath, so both loops give bit-identical results (tested through ensembles against
single runs).
"""
import numpy as np

from collections import namedtuple

from .engine_numba import (AVAILABLE, F_DIP, F_DPI, F_DUP, F_DI, F_D, F_S, F_SI, F_U, F_UH, F_UHI,
                           F_UI, F_VA, F_VB, F_VI, F_WDOWN, F_WIP, F_WPI, F_WUP, Geometry, Run, _phi)
from .params import (P_DT, P_GP, P_GI, P_GO, P_GO_NOTGT, P_GB, P_GA, P_GSOM, P_GLB, P_ALPHA_P,
                     P_ALPHA_I, P_ALPHA_O, P_BIAS_VAL, P_CLIP_HID, P_CLIP_OUT, P_GSOM_I, P_ETA0,
                     I_LE, I_N_OUT, I_N_LL, I_RATES_FROM_SOMA)

if AVAILABLE:
    import numba

LANES_FROM = 3     # K from which engine_numba's blocks are cheaper per network (measured)

Networks = namedtuple("Networks", "S rate par f ipar active div_at rbuf ybuf ylast flag_last acc cnt")


def _matvec(sk, o, N, M, x, x0, v):
    """v[a] = sum_j W[a, j] x[x0 + j], summed in j order, for W (N, M) stored transposed at sk[o:]
    (W[a, j] = sk[o + j N + a]): the inner loop runs over contiguous memory and vectorizes."""
    for a in range(N):
        v[a] = np.float32(0.0)
    for j in range(M):
        xj = x[x0 + j]
        base = o + j * N
        for a in range(N):
            v[a] += sk[base + a] * xj


def _update(sk, o, N, M, err, x, x0, c, clip, do_clip, dk, od, store_delta):
    """W += c * (err ⊗ x) (spec §1.4), then optional elementwise clipping; Δ kept if store_delta.
    Same transposed storage as _matvec."""
    for j in range(M):
        xj = x[x0 + j]
        base = o + j * N
        if do_clip:
            for a in range(N):
                w = sk[base + a] + c * (err[a] * xj)
                w = -clip if -clip > w else w          # = min(max(w, -clip), clip), as in
                sk[base + a] = clip if clip < w else w  # engine_numba.py
        else:
            for a in range(N):
                sk[base + a] += c * (err[a] * xj)
        if store_delta:
            for a in range(N):
                dk[od + j * N + a] = err[a] * xj


def _hidden(sk, rk, rnk, pre, pk, i, tab, roff, dims, bias, le, rfs, learn, store_delta, vb, va,
            vtmp, err):
    """Compute and apply hidden layer i of one network (reads rates of the previous step only)."""
    N = dims[i + 1]
    U = dims[i + 2]
    M = dims[i] + bias
    Mp = N + bias
    gb, ga, gsom_i = pk[P_GB], pk[P_GA], pk[P_GSOM_I]
    GP, GI, dt = pk[P_GP], pk[P_GI], pk[P_DT]
    rP = roff[i, 0]
    rI = roff[i, 1]
    rN = roff[i + 1, 0]
    o_nu = tab[i + 1, F_UH]            # transmitted voltage of the next layer's pyramids
    # pre[0:M] holds ρ_in; ρ_P (+bias) goes to pre[M:M + Mp]
    for j in range(N):
        pre[M + j] = rk[rP + j]
    if bias == 1:
        pre[M + N] = pk[P_BIAS_VAL]
    # interneurons: v^I = W_ip ρ_P, nudged by ν with g_S (always, spec §1.3)
    _matvec(sk, tab[i, F_WIP], U, Mp, pre, M, vtmp)
    o_ui, o_uhi = tab[i, F_UI], tab[i, F_UHI]
    for a in range(U):
        v = vtmp[a]
        si = (gb * v + gsom_i * sk[o_nu + a]) / GI
        ui = sk[o_ui + a]
        di = GI * (si - ui)
        un = ui + dt * di
        if le:
            uh = ui + di / GI
        else:
            uh = un
        tx = un if rfs else uh                               # transmitted voltage p(X)
        sk[tab[i, F_VI] + a] = v
        sk[tab[i, F_SI] + a] = si
        sk[tab[i, F_DI] + a] = di
        sk[o_uhi + a] = tx
        sk[o_ui + a] = un
        rn = _phi(tx)
        rnk[rI + a] = rn
        if learn:
            post = _phi(uh) if rfs else rn                  # φ(û), spec §1.4 / Q5
            err[a] = post - _phi(pk[P_ALPHA_I] * v)
    # pyramids: v^B = W_up ρ_in, v^A = W_down φ(ν) + W_pi ρ_I
    _matvec(sk, tab[i, F_WUP], N, M, pre, 0, vb)
    _matvec(sk, tab[i, F_WDOWN], N, U, rk, rN, va)
    _matvec(sk, tab[i, F_WPI], N, U, rk, rI, vtmp)
    for a in range(N):
        va[a] = va[a] + vtmp[a]
    o_u, o_uh = tab[i, F_U], tab[i, F_UH]
    for a in range(N):
        sp = (gb * vb[a] + ga * va[a]) / GP
        u = sk[o_u + a]
        d = GP * (sp - u)
        un = u + dt * d
        if le:
            uh = u + d / GP
        else:
            uh = un
        tx = un if rfs else uh
        sk[tab[i, F_VB] + a] = vb[a]
        sk[tab[i, F_VA] + a] = va[a]
        sk[tab[i, F_S] + a] = sp
        sk[tab[i, F_D] + a] = d
        sk[o_uh + a] = tx
        sk[o_u + a] = un
        rn = _phi(tx)
        rnk[rP + a] = rn
        if learn:
            post = _phi(uh) if rfs else rn
            vtmp[a] = post - _phi(pk[P_ALPHA_P] * vb[a])   # pyramidal error (vtmp is free now)
    if learn:
        c_up = pk[P_ETA0 + 3 * i]
        c_pi = pk[P_ETA0 + 3 * i + 1]
        c_ip = pk[P_ETA0 + 3 * i + 2]
        _update(sk, tab[i, F_WIP], U, Mp, err, pre, M, c_ip, c_ip, False, sk, tab[i, F_DIP],
                store_delta)
        _update(sk, tab[i, F_WUP], N, M, vtmp, pre, 0, c_up, pk[P_CLIP_HID], True, sk,
                tab[i, F_DUP], store_delta)
        for a in range(N):
            err[a] = -va[a]
        _update(sk, tab[i, F_WPI], N, U, err, rk, rI, c_pi, c_pi, False, sk, tab[i, F_DPI],
                store_delta)


def _output(sk, rk, rnk, pre, pk, i, tab, roff, dims, bias, le, rfs, learn, store_delta, y, nudge,
            vb, err):
    N = dims[i + 1]
    M = dims[i] + bias
    gb, gsom, dt = pk[P_GB], pk[P_GSOM], pk[P_DT]
    rIn = roff[i - 1, 0]
    for j in range(dims[i]):
        pre[j] = rk[rIn + j]
    if bias == 1:
        pre[dims[i]] = pk[P_BIAS_VAL]
    _matvec(sk, tab[i, F_WUP], N, M, pre, 0, vb)
    if nudge:
        G = pk[P_GO]
    else:
        G = pk[P_GO_NOTGT]             # spec Q4: G_O = 0.19 also without a target
    for a in range(N):
        v = vb[a]
        if nudge:
            so = (gb * v + gsom * y[a]) / pk[P_GO]
        else:
            so = gb * v / pk[P_GLB]
        u = sk[tab[i, F_U] + a]
        d = G * (so - u)
        un = u + dt * d
        if le:
            uh = u + d / G
        else:
            uh = un
        tx = un if rfs else uh
        sk[tab[i, F_VB] + a] = v
        sk[tab[i, F_S] + a] = so
        sk[tab[i, F_D] + a] = d
        sk[tab[i, F_UH] + a] = tx
        sk[tab[i, F_U] + a] = un
        rn = _phi(tx)
        rnk[roff[i, 0] + a] = rn
        if learn:
            post = _phi(uh) if rfs else rn
            err[a] = post - _phi(pk[P_ALPHA_O] * v)
    if learn:
        _update(sk, tab[i, F_WUP], N, M, err, pre, 0, pk[P_ETA0 + 3 * i], pk[P_CLIP_OUT], True, sk,
                tab[i, F_DUP], store_delta)


def _run(g, e, r):
    """Spec §3 loop, one network after the other; g, e, r as in engine_numba (network-major arrays)."""
    s, rate, par, par64, ipar, active, div_at = e.S, e.rate, e.par, e.f, e.ipar, e.active, e.div_at
    rbuf, ybuf, ylast, flag_last, acc, cnt = e.rbuf, e.ybuf, e.ylast, e.flag_last, e.acc, e.cnt
    tab, roff, run_off, dims, bias = g.table, g.rate_off, g.run_off, g.dims, g.bias
    X, T, learn, out, n, store_delta, v_max = r.X, r.T, r.learn, r.out, r.n, r.store_delta, r.v_max
    rec_idx, c, trace, ptr = r.rec_idx, r.rec_every, r.trace, r.ptr
    K, P = X.shape[0], X.shape[1]
    L = dims.shape[0] - 1
    N0, NL = dims[0], dims[L]
    n_rate = rate.shape[1]
    rate_new = np.empty_like(rate)
    nmax = int(dims.max()) + 1
    pre = np.zeros(2 * nmax, dtype=np.float32)
    vb = np.zeros(nmax, dtype=np.float32)
    va = np.zeros(nmax, dtype=np.float32)
    vtmp = np.zeros(nmax, dtype=np.float32)
    err = np.zeros(nmax, dtype=np.float32)
    y = np.zeros(NL, dtype=np.float32)
    n_rec = rec_idx.shape[0]
    for k in range(K):
        if not active[k]:
            continue
        le = ipar[k, I_LE] == 1
        rfs = ipar[k, I_RATES_FROM_SOMA] == 1
        n_out, n_ll = ipar[k, I_N_OUT], ipar[k, I_N_LL]
        f = par64[k]
        w_out = np.float32(n - n_out)
        sk, rk, rnk, pk = s[k], rate[k], rate_new[k], par[k]
        for q in range(P):
            for i in range(n):
                for j in range(N0):                           # step 1: input filter (float64)
                    rbuf[k, j] += f * (X[k, q, j] - rbuf[k, j])
                    s[k, run_off[0] + j] = np.float32(rbuf[k, j])
                    pre[j] = np.float32(rbuf[k, j])
                if bias == 1:
                    pre[N0] = par[k, P_BIAS_VAL]
                lrn = (i >= n_ll) and learn[k, q]             # step 2
                for j in range(NL):                           # step 3: target filter
                    ybuf[k, j] += f * (T[k, q, j] - ybuf[k, j])
                if le:                                        # spec Q6: target delayed by one step
                    nudge = flag_last[k] != 0.0
                    for j in range(NL):
                        y[j] = np.float32(ylast[k, j])
                else:
                    nudge = T[k, q, NL] != 0.0
                    for j in range(NL):
                        y[j] = np.float32(ybuf[k, j])
                for j in range(NL):
                    s[k, run_off[1] + j] = y[j]
                for li in range(L - 1):                       # step 4: ascending order keeps
                    if li > 0:                                # reads of ν on the previous step
                        for j in range(dims[li]):
                            pre[j] = rate[k, roff[li - 1, 0] + j]
                        if bias == 1:
                            pre[dims[li]] = par[k, P_BIAS_VAL]
                    _hidden(sk, rk, rnk, pre, pk, li, tab, roff, dims, bias, le, rfs, lrn,
                            store_delta, vb, va, vtmp, err)
                _output(sk, rk, rnk, pre, pk, L - 1, tab, roff, dims, bias, le, rfs, lrn,
                        store_delta, y, nudge, vb, err)
                for j in range(n_rate):
                    rate[k, j] = rate_new[k, j]
                if i >= n_out:                                # step 5
                    for j in range(NL):
                        out[k, q, j] += s[k, tab[L - 1, F_UH] + j] / w_out
                if le:                                        # step 6
                    flag_last[k] = T[k, q, NL]
                    for j in range(NL):
                        ylast[k, j] = ybuf[k, j]
                if n_rec > 0:
                    for j in range(n_rec):
                        acc[k, j] += s[k, rec_idx[j]]
                    cnt[k] += 1
                    if cnt[k] == c:
                        for j in range(n_rec):
                            trace[k, ptr[k], j] = acc[k, j] / c
                            acc[k, j] = 0.0
                        cnt[k] = 0
                        ptr[k] += 1
            bad = False                                       # divergence check once per pattern
            for li in range(L):
                o = tab[li, F_UH]
                for j in range(dims[li + 1]):
                    x = s[k, o + j]
                    if not (abs(x) <= v_max):
                        bad = True
            if bad:
                active[k] = False
                div_at[k] = q
                break



def run(lay, ens, sched, rec):
    """Spec §3 loop; same arguments and effects as engine_numpy.run (see Microcircuits.run)."""
    K, P = sched.X.shape[:2]
    out = np.zeros((K, P, lay.dims[-1]), dtype=np.float32)
    div_at = np.full(K, -1, dtype=np.int64)
    g = Geometry(lay.table, lay.rate_off, lay.run_off, np.array(lay.dims, dtype=np.int64), lay.bias)
    e = Networks(ens.S, ens.rate, ens.par, ens.par64[:, 0].copy(), ens.ipar, ens.active, div_at,
                 ens.rbuf, ens.ybuf, ens.ylast, ens.flag_last, ens.acc, ens.cnt)
    r = Run(sched.X, sched.T, sched.learn, out, int(sched.n), bool(sched.store_delta),
            float(sched.v_max), rec.idx, int(rec.every), rec.trace, rec.ptr)
    _run(g, e, r)
    return out, div_at

if AVAILABLE:
    _jit = numba.njit(cache=True, error_model="numpy")
    _matvec = _jit(_matvec)
    _update = _jit(_update)
    _hidden = _jit(_hidden)
    _output = _jit(_output)
    _run = _jit(_run)
