"""Compiled engine: the step of engine_numpy.py as one numba loop, vectorised across networks.

Why compiled: one step of the [9, 30, 3] microcircuit is ~1.3k multiply-adds and ~70 softplus calls, so
a per-step numpy loop is bound by call overhead (~25 us CPU per network-step even batched over 20
networks). Why SIMD across networks: inside one network the vectors are short (3-30), but K networks of
an ensemble do the same operations on different numbers. For the duration of a call the ensemble is
packed network-innermost: blocks of LANES networks, each block's state (n_state, LANES) contiguous
and flat (`to_lanes`), so every loop `for k in range(LANES)` is a whole-vector operation. LE/orig,
nudging, learning and the ablation are per-lane selects, not branches. The softplus φ is written out in
float32 arithmetic (no libm call), so it vectorises too. A block costs about the same with 1 or LANES
networks; even one network alone is no slower than in a loop vectorised over its neurons (measured).

Exactness: no fastmath. There is no sum across lanes for reassociation to speed up, FMA contraction
would change the rounding against the reference, and the divergence check needs NaN semantics. Every
lane does the same IEEE float32 operations whatever its block or K, so an ensemble gives bit-identical
results to K single runs. Each matvec is summed in j order (pairwise in numpy) and φ is within 4 ulp of
log1p(exp(x)) (numpy's float32 log1p(exp(x)) too), so the engine agrees with the numpy reference to
float32 rounding, not bitwise.
"""
from collections import namedtuple
from contextlib import contextmanager

import numpy as np

try:
    import numba
except ImportError:   # the caller reports this; the numpy engine still works
    numba = None

from .engine_call import require_disjoint
from .layout import FIELD_CODE
from .params import (P_DT, P_GP, P_GI, P_GO, P_GO_NOTGT, P_GB, P_GA, P_GSOM, P_GLB, P_ALPHA_P,
                     P_ALPHA_I, P_ALPHA_O, P_BIAS_VAL, P_CLIP_HID, P_CLIP_OUT, P_GSOM_I, P_ETA0,
                     I_LE, I_N_OUT, I_N_LL, I_RATES_FROM_SOMA)

AVAILABLE = numba is not None   # False also when the kernels cannot be compiled (see the end)
UNAVAILABLE_MSG = ("numba is not importable; install it (pip install numba, see requirements.txt) "
                   "or choose engine='numpy' (about 10x slower)")
NOTES = []       # one line per optimisation this numba cannot give (same results, slower)

LANES = 8        # networks per SIMD block (8 float32 = one AVX2 register)

F_WUP, F_WDOWN, F_WPI, F_WIP = (FIELD_CODE[f] for f in ("W_up", "W_down", "W_pi", "W_ip"))
F_U, F_UH, F_S, F_D, F_VB, F_VA = (FIELD_CODE[f] for f in (
    "pyr_soma", "pyr_forw", "pyr_steadystate", "pyr_udot", "pyr_basal", "pyr_apical"))
F_UI, F_UHI, F_SI, F_DI, F_VI = (FIELD_CODE[f] for f in (
    "inn_soma", "inn_forw", "inn_steadystate", "inn_udot", "inn_dendrite"))
F_DUP, F_DPI, F_DIP = (FIELD_CODE[f] for f in ("Delta_up", "Delta_pi", "Delta_ip"))

# compiled-call structures: Geometry from the Layout, Lanes/Run from engine_call.Ensemble/Schedule
Geometry = namedtuple("Geometry", "table rate_off run_off dims bias")
Lanes = namedtuple("Lanes", "S rate par f le rfs n_out n_ll active div_at rbuf ybuf ylast flag_last "
                            "acc cnt")
Run = namedtuple("Run", "X T learn out n store_delta v_max rec_idx rec_every trace ptr")

f32 = np.float32
ZERO, ONE, HALF, TWO = f32(0.0), f32(1.0), f32(0.5), f32(2.0)
LOG2E = f32(1.4426950408889634)
LN2_HI, LN2_LO = f32(0.693359375), f32(-2.12194440e-4)      # m * LN2_HI is exact for m < 2^15
E2, E3, E4, E5, E6, E7 = (f32(1.0 / c) for c in (2.0, 6.0, 24.0, 120.0, 720.0, 5040.0))
A3, A5, A7, A9, A11, A13, A15 = (f32(1.0 / c) for c in (3.0, 5.0, 7.0, 9.0, 11.0, 13.0, 15.0))
P16, P8, P4, P2, P1 = (f32(2.0 ** -b) for b in (16, 8, 4, 2, 1))


def _phi(x):
    """Softplus with cut-offs (model §1.1): log1p(exp(x)) for -15 < x < 15, 0 below, x above; x = -15
    exactly returns -15 (model Q15). Branch-free float32, so that lane loops vectorise:
    max(x, 0) + log1p(e) with e = exp(-|x|) = 2^-m exp(-r), r = |x| - m ln2 (degree-7 Taylor), and
    log1p(e) = 2 atanh(s), s = e / (2 + e) <= 1/3 (odd series to s^15)."""
    mid = (x < f32(15.0)) & (x > f32(-15.0))
    a = abs(x) if mid else ZERO
    m = np.floor(a * LOG2E + HALF)                 # 0 .. 22
    w = (m * LN2_HI - a) + m * LN2_LO              # -r, |r| <= ln2 / 2
    p = ((((((E7 * w + E6) * w + E5) * w + E4) * w + E3) * w + E2) * w + ONE) * w + ONE
    big = m >= f32(16.0)                           # p *= 2^-m bit by bit (exact powers of two)
    p, m = p * (P16 if big else ONE), m - (f32(16.0) if big else ZERO)
    big = m >= f32(8.0)
    p, m = p * (P8 if big else ONE), m - (f32(8.0) if big else ZERO)
    big = m >= f32(4.0)
    p, m = p * (P4 if big else ONE), m - (f32(4.0) if big else ZERO)
    big = m >= TWO
    p, m = p * (P2 if big else ONE), m - (TWO if big else ZERO)
    p = p * (P1 if m >= ONE else ONE)
    s = p / (TWO + p)
    z = s * s
    q = ((((((A15 * z + A13) * z + A11) * z + A9) * z + A7) * z + A5) * z + A3) * z + ONE
    sp = (ZERO if ZERO > x else x) + TWO * s * q   # max(x, 0) as a select (max does not vectorise)
    out = sp if mid else x
    return ZERO if x < f32(-15.0) else out


def _matvec(S, o, N, M, x, x0, v):
    """v[a] = sum_j W[a, j] x[x0 + j] per lane, summed in j order, for W (N, M) stored transposed at
    row o of S (W[a, j] = row o + j N + a). Rows of a block array are LANES consecutive floats."""
    for a in range(N):
        for k in range(LANES):
            v[a * LANES + k] = ZERO
    for j in range(M):
        rw = (o + j * N) * LANES
        rx = (x0 + j) * LANES
        for a in range(N):
            for k in range(LANES):
                v[a * LANES + k] += S[rw + a * LANES + k] * x[rx + k]


def _seg(A, start, n):
    return A[start:start + n]


def _update(S, o, N, M, err, x, x0, cc, ic, lrn):
    """W += c (err ⊗ x) (model §1.4) in the lanes that learn, c = row ic of cc. Same transposed
    storage as _matvec."""
    for j in range(M):
        rw = (o + j * N) * LANES
        rx = (x0 + j) * LANES
        for a in range(N):
            for k in range(LANES):
                w0 = S[rw + a * LANES + k]
                w = w0 + cc[ic * LANES + k] * (err[a * LANES + k] * x[rx + k])
                S[rw + a * LANES + k] = w if lrn[k] else w0


def _update_clipped(S, o, N, M, err, x, x0, cc, ic, lrn):
    """_update followed by clipping W to ± row ic + 1 of cc (W_up, model §1.1)."""
    for j in range(M):
        rw = (o + j * N) * LANES
        rx = (x0 + j) * LANES
        for a in range(N):
            for k in range(LANES):
                w0 = S[rw + a * LANES + k]
                w = w0 + cc[ic * LANES + k] * (err[a * LANES + k] * x[rx + k])
                lo, hi = -cc[(ic + 1) * LANES + k], cc[(ic + 1) * LANES + k]
                w = lo if lo > w else w                # = min(max(w, lo), hi) as selects (NaN
                w = hi if hi < w else w                # stays NaN): min/max do not vectorise
                S[rw + a * LANES + k] = w if lrn[k] else w0


def _delta(S, od, N, M, err, x, x0, lrn):
    """Δ = err ⊗ x kept at row od (store_delta) in the lanes that learn."""
    for j in range(M):
        rd = (od + j * N) * LANES
        rx = (x0 + j) * LANES
        for a in range(N):
            for k in range(LANES):
                d0 = S[rd + a * LANES + k]
                d = err[a * LANES + k] * x[rx + k]
                S[rd + a * LANES + k] = d if lrn[k] else d0


def _phi_flat(x, i0, out, o0, n):
    """out[o0 + t] = φ(x[i0 + t]) for t < n: consecutive rows of a block are one flat range."""
    xs, os_ = x[i0:i0 + n], out[o0:o0 + n]    # index t >= 0: no negative-index fix-up, which
    for t in range(n):                        # would turn the vector loads into gathers
        os_[t] = _phi(xs[t])


def _err(Rn, r0, N, rrfs, any_rfs, uh, rp, col, v, pa, pu):
    """uh <- φ(û) - φ(α v) for N neurons (model §1.4), α = row col of par. φ(û) is the new rate
    φ(p(X)) at row r0 of Rn, or φ(û) itself where the rates come from the soma (model Q5, ablation
    rates_from_soma). rp, rrfs: per-lane constants repeated along the rows (see _block)."""
    Wd = rrfs.shape[0]
    half = pa.shape[0] // 2                        # α v in the first half of pa, φ(α v) in the second
    if any_rfs:
        _phi_flat(uh, 0, pu, 0, N * LANES)
    n = N * LANES
    alpha, rn_ = rp[col * Wd:col * Wd + n], Rn[r0 * LANES:r0 * LANES + n]
    for t in range(n):
        pa[t] = alpha[t] * v[t]
    _phi_flat(pa, 0, pa, half, n)             # not in place: that would fail the vector overlap check
    for t in range(n):
        p, rn = pu[t], rn_[t]
        uh[t] = (p if rrfs[t] else rn) - pa[half + t]


def _hidden(g, S, R, Rn, pre, par, i, rp, rle, rrfs, lrn, any_lrn, any_rfs, store_delta, vb, va,
            vtmp, err, cc, pa, pu):
    """Compute and apply hidden layer i of a block (reads rates of the previous step only). The
    neuron updates run over rows x lanes as one flat loop, with the per-lane constants repeated along
    the rows (rp, rle, rrfs, see _block)."""
    Wd = rle.shape[0]
    tab, dims, bias = g.table, g.dims, g.bias
    N = dims[i + 1]
    U = dims[i + 2]
    M = dims[i] + bias
    Mp = N + bias
    rP, rI, rN = g.rate_off[i, 0], g.rate_off[i, 1], g.rate_off[i + 1, 0]
    o_nu = tab[i + 1, F_UH]            # transmitted voltage of the next layer's pyramids
    # pre rows 0..M-1 hold ρ_in; ρ_P (+bias) goes to rows M..M + Mp - 1
    for j in range(N):
        for k in range(LANES):
            pre[(M + j) * LANES + k] = R[(rP + j) * LANES + k]
    if bias == 1:
        for k in range(LANES):
            pre[(M + N) * LANES + k] = par[P_BIAS_VAL * LANES + k]
    # interneurons: v^I = W_ip ρ_P, nudged by ν with g_S (always, model §1.3)
    _matvec(S, tab[i, F_WIP], U, Mp, pre, M, vtmp)
    o_ui, o_uhi, o_vi, o_si, o_di = (tab[i, F_UI], tab[i, F_UHI], tab[i, F_VI], tab[i, F_SI],
                                     tab[i, F_DI])
    n = U * LANES                      # slices: indices t >= 0 need no negative-index fix-up
    GI_, DT_, GB_, GS_ = (_seg(rp, P_GI * Wd, n), _seg(rp, P_DT * Wd, n), _seg(rp, P_GB * Wd, n),
                          _seg(rp, P_GSOM_I * Wd, n))
    nu_, ui_, vi_, si_, di_, uhi_ = (_seg(S, o_nu * LANES, n), _seg(S, o_ui * LANES, n),
                                     _seg(S, o_vi * LANES, n), _seg(S, o_si * LANES, n),
                                     _seg(S, o_di * LANES, n), _seg(S, o_uhi * LANES, n))
    for t in range(n):
        GI = GI_[t]
        v = vtmp[t]
        si = (GB_[t] * v + GS_[t] * nu_[t]) / GI
        ui = ui_[t]
        di = GI * (si - ui)
        un = ui + DT_[t] * di
        uh_le = ui + di / GI                           # both arms computed: a select, no branch
        uh = uh_le if rle[t] else un
        tx = un if rrfs[t] else uh                     # transmitted voltage p(X)
        vi_[t] = v
        si_[t] = si
        di_[t] = di
        uhi_[t] = tx
        ui_[t] = un
        err[t] = uh                                    # kept for the plasticity term
    _phi_flat(S, o_uhi * LANES, Rn, rI * LANES, U * LANES)
    if any_lrn:
        _err(Rn, rI, U, rrfs, any_rfs, err, rp, P_ALPHA_I, vtmp, pa, pu)
    # pyramids: v^B = W_up ρ_in, v^A = W_down φ(ν) + W_pi ρ_I
    _matvec(S, tab[i, F_WUP], N, M, pre, 0, vb)
    _matvec(S, tab[i, F_WDOWN], N, U, R, rN, va)
    _matvec(S, tab[i, F_WPI], N, U, R, rI, vtmp)
    o_u, o_uh, o_vb, o_va, o_s, o_d = (tab[i, F_U], tab[i, F_UH], tab[i, F_VB], tab[i, F_VA],
                                       tab[i, F_S], tab[i, F_D])
    n = N * LANES
    GP_, DT_, GB_, GA_ = (_seg(rp, P_GP * Wd, n), _seg(rp, P_DT * Wd, n), _seg(rp, P_GB * Wd, n),
                          _seg(rp, P_GA * Wd, n))
    u_, vb_, va_, s_, d_, uh_ = (_seg(S, o_u * LANES, n), _seg(S, o_vb * LANES, n),
                                 _seg(S, o_va * LANES, n), _seg(S, o_s * LANES, n),
                                 _seg(S, o_d * LANES, n), _seg(S, o_uh * LANES, n))
    for t in range(n):
        GP = GP_[t]
        vba = vb[t]
        vaa = va[t] + vtmp[t]
        va[t] = vaa
        sp = (GB_[t] * vba + GA_[t] * vaa) / GP
        u = u_[t]
        d = GP * (sp - u)
        un = u + DT_[t] * d
        uh_le = u + d / GP
        uh = uh_le if rle[t] else un
        tx = un if rrfs[t] else uh
        vb_[t] = vba
        va_[t] = vaa
        s_[t] = sp
        d_[t] = d
        uh_[t] = tx
        u_[t] = un
        vtmp[t] = uh
    _phi_flat(S, o_uh * LANES, Rn, rP * LANES, N * LANES)
    if any_lrn:
        _err(Rn, rP, N, rrfs, any_rfs, vtmp, rp, P_ALPHA_P, vb, pa, pu)
        for k in range(LANES):             # rows: η_up, clip, η_pi, η_ip (dt included)
            cc[k] = par[(P_ETA0 + 3 * i) * LANES + k]
            cc[LANES + k] = par[P_CLIP_HID * LANES + k]
            cc[2 * LANES + k] = par[(P_ETA0 + 3 * i + 1) * LANES + k]
            cc[3 * LANES + k] = par[(P_ETA0 + 3 * i + 2) * LANES + k]
        _update(S, tab[i, F_WIP], U, Mp, err, pre, M, cc, 3, lrn)
        _update_clipped(S, tab[i, F_WUP], N, M, vtmp, pre, 0, cc, 0, lrn)
        if store_delta:
            _delta(S, tab[i, F_DIP], U, Mp, err, pre, M, lrn)
            _delta(S, tab[i, F_DUP], N, M, vtmp, pre, 0, lrn)
        for a in range(N):
            for k in range(LANES):
                err[a * LANES + k] = -va[a * LANES + k]
        _update(S, tab[i, F_WPI], N, U, err, R, rI, cc, 2, lrn)
        if store_delta:
            _delta(S, tab[i, F_DPI], N, U, err, R, rI, lrn)


def _output(g, S, R, Rn, pre, par, i, rp, rle, rrfs, lrn, any_lrn, any_rfs, store_delta, y, rnudge,
            vb, err, cc, pa, pu):
    Wd = rle.shape[0]
    tab, dims, bias = g.table, g.dims, g.bias
    N = dims[i + 1]
    M = dims[i] + bias
    rIn = g.rate_off[i - 1, 0]
    for j in range(dims[i]):
        for k in range(LANES):
            pre[j * LANES + k] = R[(rIn + j) * LANES + k]
    if bias == 1:
        for k in range(LANES):
            pre[dims[i] * LANES + k] = par[P_BIAS_VAL * LANES + k]
    _matvec(S, tab[i, F_WUP], N, M, pre, 0, vb)
    o_u, o_uh, o_vb, o_s, o_d = tab[i, F_U], tab[i, F_UH], tab[i, F_VB], tab[i, F_S], tab[i, F_D]
    rO = g.rate_off[i, 0]
    n = N * LANES
    GB_, GO_, DT_, GS_, GLB_, GF_ = (_seg(rp, P_GB * Wd, n), _seg(rp, P_GO * Wd, n),
                                     _seg(rp, P_DT * Wd, n), _seg(rp, P_GSOM * Wd, n),
                                     _seg(rp, P_GLB * Wd, n), _seg(rp, P_GO_NOTGT * Wd, n))
    u_, vb_, s_, d_, uh_ = (_seg(S, o_u * LANES, n), _seg(S, o_vb * LANES, n),
                            _seg(S, o_s * LANES, n), _seg(S, o_d * LANES, n), _seg(S, o_uh * LANES, n))
    for t in range(n):
        gb, GO = GB_[t], GO_[t]
        v = vb[t]
        s_n = (gb * v + GS_[t] * y[t]) / GO
        s_f = gb * v / GLB_[t]
        so = s_n if rnudge[t] else s_f
        G_f = GF_[t]                                   # model Q4: G_O = 0.19 also without target
        G = GO if rnudge[t] else G_f
        u = u_[t]
        d = G * (so - u)
        un = u + DT_[t] * d
        uh_le = u + d / G
        uh = uh_le if rle[t] else un
        tx = un if rrfs[t] else uh
        vb_[t] = v
        s_[t] = so
        d_[t] = d
        uh_[t] = tx
        u_[t] = un
        err[t] = uh
    _phi_flat(S, o_uh * LANES, Rn, rO * LANES, N * LANES)
    if any_lrn:
        _err(Rn, rO, N, rrfs, any_rfs, err, rp, P_ALPHA_O, vb, pa, pu)
        for k in range(LANES):
            cc[k] = par[(P_ETA0 + 3 * i) * LANES + k]
            cc[LANES + k] = par[P_CLIP_OUT * LANES + k]
        _update_clipped(S, tab[i, F_WUP], N, M, err, pre, 0, cc, 0, lrn)
        if store_delta:
            _delta(S, tab[i, F_DUP], N, M, err, pre, 0, lrn)


def _block(g, e, r, b):
    """Model §3 loop for block b of LANES networks. Block arrays are flat: row j, lane k at j LANES + k."""
    S, R, par, f = e.S[b], e.rate[b], e.par[b], e.f[b]
    le, rfs, n_out, n_ll, act = e.le[b], e.rfs[b], e.n_out[b], e.n_ll[b], e.active[b]
    rbuf, ybuf, ylast, flag_last, acc, cnt = (e.rbuf[b], e.ybuf[b], e.ylast[b], e.flag_last[b],
                                              e.acc[b], e.cnt[b])
    X, T, learn, out, div_at = r.X[b], r.T[b], r.learn[b], r.out[b], e.div_at[b]
    n, store_delta, every = r.n, r.store_delta, r.rec_every
    dims, bias, run_off = g.dims, g.bias, g.run_off
    L = dims.shape[0] - 1
    N0, NL = dims[0], dims[L]
    P = learn.shape[0] // LANES
    n_state = S.shape[0] // LANES
    n_rate = R.shape[0] // LANES
    n_rec = r.rec_idx.shape[0]
    nmax = (int(dims.max()) + 1) * LANES
    pre = np.zeros(2 * nmax, dtype=np.float32)
    vb = np.zeros(nmax, dtype=np.float32)
    va = np.zeros(nmax, dtype=np.float32)
    vtmp = np.zeros(nmax, dtype=np.float32)
    err = np.zeros(nmax, dtype=np.float32)
    cc = np.zeros(5 * LANES, dtype=np.float32)
    pa = np.zeros(2 * nmax, dtype=np.float32)
    pu = np.zeros(nmax, dtype=np.float32)
    y = np.zeros(NL * LANES, dtype=np.float32)
    Rn = np.empty_like(R)
    lrn = np.zeros(LANES, dtype=np.bool_)
    nudge = np.zeros(LANES, dtype=np.bool_)
    w_out = np.empty(LANES, dtype=np.float32)
    for k in range(LANES):
        w_out[k] = f32(n - n_out[k])
    S_keep, R_keep = S.copy(), R.copy()            # frozen state of networks that are not active
    # per-lane constants repeated along nmax rows: element t of a row range belongs to lane t % LANES
    n_par = par.shape[0] // LANES
    rp = np.empty(n_par * nmax, dtype=np.float32)
    rle = np.empty(nmax, dtype=np.bool_)
    rrfs = np.empty(nmax, dtype=np.bool_)
    rnudge = np.empty(NL * LANES, dtype=np.bool_)
    for t in range(nmax):
        rle[t], rrfs[t] = le[t % LANES], rfs[t % LANES]
        for c in range(n_par):
            rp[c * nmax + t] = par[c * LANES + t % LANES]
    any_rfs = False
    for k in range(LANES):
        any_rfs |= act[k] and rfs[k]
    o_out = g.table[L - 1, F_UH]
    for q in range(P):
        if not act.any():
            break
        for i in range(n):
            for j in range(N0):                                  # step 1: input filter (float64)
                for k in range(LANES):
                    rb = rbuf[j * LANES + k]
                    rb += f[k] * (X[(q * N0 + j) * LANES + k] - rb)
                    rbuf[j * LANES + k] = rb
                    S[(run_off[0] + j) * LANES + k] = f32(rb)
                    pre[j * LANES + k] = f32(rb)
            if bias == 1:
                for k in range(LANES):
                    pre[N0 * LANES + k] = par[P_BIAS_VAL * LANES + k]
            any_lrn = False
            for k in range(LANES):                               # step 2
                lrn[k] = (i >= n_ll[k]) and learn[q * LANES + k]
                any_lrn |= lrn[k] and act[k]
            for j in range(NL):                                  # step 3: target filter
                for k in range(LANES):
                    yb = ybuf[j * LANES + k]
                    ybuf[j * LANES + k] = yb + f[k] * (T[(q * (NL + 1) + j) * LANES + k] - yb)
            for k in range(LANES):                               # model Q6: LE target one step late
                nudge_le, nudge_now = flag_last[k] != 0.0, T[(q * (NL + 1) + NL) * LANES + k] != 0.0
                nudge[k] = nudge_le if le[k] else nudge_now
            for j in range(NL):
                for k in range(LANES):
                    y_le, y_now = f32(ylast[j * LANES + k]), f32(ybuf[j * LANES + k])
                    yj = y_le if le[k] else y_now
                    y[j * LANES + k] = yj
                    S[(run_off[1] + j) * LANES + k] = yj
            for li in range(L - 1):                              # step 4: ascending order keeps
                if li > 0:                                       # reads of ν on the previous step
                    r0 = g.rate_off[li - 1, 0]
                    for j in range(dims[li]):
                        for k in range(LANES):
                            pre[j * LANES + k] = R[(r0 + j) * LANES + k]
                    if bias == 1:
                        for k in range(LANES):
                            pre[dims[li] * LANES + k] = par[P_BIAS_VAL * LANES + k]
                _hidden(g, S, R, Rn, pre, par, li, rp, rle, rrfs, lrn, any_lrn, any_rfs,
                        store_delta, vb, va, vtmp, err, cc, pa, pu)
            for t in range(NL * LANES):
                rnudge[t] = nudge[t % LANES]
            _output(g, S, R, Rn, pre, par, L - 1, rp, rle, rrfs, lrn, any_lrn, any_rfs, store_delta,
                    y, rnudge, vb, err, cc, pa, pu)
            for j in range(n_rate * LANES):
                R[j] = Rn[j]
            for j in range(NL):                                  # step 5
                for k in range(LANES):
                    o0 = out[(q * NL + j) * LANES + k]
                    o1 = o0 + S[(o_out + j) * LANES + k] / w_out[k]
                    out[(q * NL + j) * LANES + k] = o1 if act[k] & (i >= n_out[k]) else o0
            for k in range(LANES):                               # step 6
                if le[k]:
                    flag_last[k] = T[(q * (NL + 1) + NL) * LANES + k]
                    for j in range(NL):
                        ylast[j * LANES + k] = ybuf[j * LANES + k]
            if n_rec > 0:
                for k in range(LANES):
                    if not act[k]:
                        continue
                    for j in range(n_rec):
                        acc[j * LANES + k] += S[r.rec_idx[j] * LANES + k]
                    cnt[k] += 1
                    if cnt[k] == every:
                        kk = b * LANES + k
                        for j in range(n_rec):
                            r.trace[kk, r.ptr[kk], j] = acc[j * LANES + k] / every
                            acc[j * LANES + k] = 0.0
                        cnt[k] = 0
                        r.ptr[kk] += 1
        for k in range(LANES):                                   # divergence check per pattern
            if not act[k]:
                continue
            bad = False
            for li in range(L):
                o = g.table[li, F_UH]
                for j in range(dims[li + 1]):
                    if not (abs(S[(o + j) * LANES + k]) <= r.v_max):
                        bad = True
            if bad:
                act[k] = False
                div_at[k] = q
                for j in range(n_state):
                    S_keep[j * LANES + k] = S[j * LANES + k]
                for j in range(n_rate):
                    R_keep[j * LANES + k] = R[j * LANES + k]
    for k in range(LANES):
        if not act[k]:
            for j in range(n_state):
                S[j * LANES + k] = S_keep[j * LANES + k]
            for j in range(n_rate):
                R[j * LANES + k] = R_keep[j * LANES + k]


def _run_blocks(g, e, r):
    for b in range(e.S.shape[0]):
        _block(g, e, r, b)


def to_lanes(a, pad="zero"):
    """(K, *rest) -> (B, *rest, LANES) contiguous, K padded to B LANES with zeros or (pad="edge")
    copies of the last network (finite constants for the unused lanes)."""
    K = a.shape[0]
    B = -(-K // LANES)
    p = np.zeros((B * LANES,) + a.shape[1:], dtype=a.dtype)
    p[:K] = a
    if pad == "edge":
        p[K:] = a[K - 1]
    return np.ascontiguousarray(np.moveaxis(p.reshape((B, LANES) + a.shape[1:]), 1, -1))


def from_lanes(p, K):
    """Inverse of to_lanes: (B, *rest, LANES) -> (K, *rest)."""
    return np.moveaxis(p, -1, 1).reshape((p.shape[0] * LANES,) + p.shape[1:-1])[:K]


@contextmanager
def _vectorisers(loop):
    """numba runs LLVM's loop vectoriser but not its SLP vectoriser by default. The short lane loops
    `for k in range(LANES)` of _matvec/_update/_delta are fully unrolled (LANES is a constant) and need
    the SLP vectoriser; the loop vectoriser would instead vectorise the neuron loops around them with
    shuffles (measured 5-8x slower), so those are compiled with it off (loop=False), ahead of time.
    Everything else (flat loops over rows x lanes, the softplus) is compiled with both on. numba reads
    these settings when it compiles, so they are set around each call (a cache hit compiles nothing).
    Where this numba has no such settings (_SWITCH False) its defaults apply."""
    if not _SWITCH:
        yield
        return
    old = numba.core.config.SLP_VECTORIZE, numba.core.config.LOOP_VECTORIZE
    numba.core.config.SLP_VECTORIZE, numba.core.config.LOOP_VECTORIZE = 1, int(loop)
    try:
        yield
    finally:
        numba.core.config.SLP_VECTORIZE, numba.core.config.LOOP_VECTORIZE = old


def run(lay, ens, sched, rec):
    """Model §3 loop; same arguments and effects as engine_numpy.run (see Microcircuits.run)."""
    if not AVAILABLE:
        raise RuntimeError(UNAVAILABLE_MSG)
    K = ens.S.shape[0]
    g = Geometry(lay.table, lay.rate_off, lay.run_off, np.array(lay.dims, dtype=np.int64), lay.bias)
    ipar = ens.ipar
    state = {name: to_lanes(getattr(ens, name)) for name in (
        "S", "rate", "active", "rbuf", "ybuf", "ylast", "flag_last", "acc", "cnt")}
    div_at = to_lanes(np.full(K, -1, dtype=np.int64))
    out = np.zeros((div_at.shape[0], sched.X.shape[1], lay.dims[-1], LANES), dtype=np.float32)
    flat = lambda a: a.reshape(a.shape[0], -1)    # noqa: E731  a view: block b is row b
    e = Lanes(flat(state["S"]), flat(state["rate"]), flat(to_lanes(ens.par, "edge")),
              to_lanes(ens.par64[:, 0], "edge"), to_lanes(ipar[:, I_LE] == 1),
              to_lanes(ipar[:, I_RATES_FROM_SOMA] == 1), to_lanes(ipar[:, I_N_OUT]),
              to_lanes(ipar[:, I_N_LL]), state["active"], div_at, flat(state["rbuf"]),
              flat(state["ybuf"]), flat(state["ylast"]), state["flag_last"], flat(state["acc"]),
              state["cnt"])
    r = Run(flat(to_lanes(sched.X)), flat(to_lanes(sched.T)), flat(to_lanes(sched.learn)), flat(out),
            int(sched.n), bool(sched.store_delta), float(sched.v_max), rec.idx, int(rec.every),
            rec.trace, rec.ptr)
    require_disjoint(**{f"{name}.{f}": v for name, t in (("Geometry", g), ("Lanes", e), ("Run", r))
                        for f, v in t._asdict().items()})
    with _vectorisers(loop=True):
        try:
            _run_blocks(g, e, r)
        except numba.core.errors.NumbaError as err:
            _compile_failed(err)
    for name, packed in state.items():
        getattr(ens, name)[...] = from_lanes(packed, K)
    return from_lanes(out, K), from_lanes(div_at, K)


class CompileFailure(RuntimeError):
    """The kernels compiled lazily at their first call (_err ... _run_blocks) could not be built;
    nothing ran, and AVAILABLE is now False."""


def _compile_failed(err):
    """numba types and compiles a kernel before it runs a line of it, so a NumbaError from the call is a
    compile failure with every array untouched: from now on this process reports the engine unavailable."""
    global AVAILABLE, UNAVAILABLE_MSG
    AVAILABLE = False
    UNAVAILABLE_MSG = (f"the compiled engine cannot be built with numba {numba.__version__} "
                       f"({type(err).__name__}: {(str(err).splitlines() or [''])[0]}); use a numba of the "
                       "range in requirements.txt, or engine='numpy' (about 10x slower)")
    raise CompileFailure(UNAVAILABLE_MSG) from err


def phi_array(x, out):
    """out = φ(x) elementwise (float32 arrays of one shape) with the engine's φ."""
    if not AVAILABLE:
        raise RuntimeError(UNAVAILABLE_MSG)
    _phi_flat(np.ascontiguousarray(x).reshape(-1), 0, out.reshape(-1), 0, x.size)


def _vectoriser_switch():
    """Whether this numba has the compile-time vectoriser settings _vectorisers switches."""
    config = getattr(getattr(numba, "core", None), "config", None)
    return all(isinstance(getattr(config, name, None), int)
               for name in ("SLP_VECTORIZE", "LOOP_VECTORIZE"))


def _noalias_option():
    """{"noalias": True} as jit options where this numba can take them, else {}. The arrays handed to
    the kernels never overlap (require_disjoint checks it in `run`); telling LLVM so lets the SLP
    vectoriser reorder the loads and stores of a lane loop. numba keeps this compiler flag internal
    (parfors sets it); it is exposed as a jit option here."""
    try:
        from numba.core import compiler, cpu, options
        if "noalias" in compiler.Flags.options and not hasattr(cpu.CPUTargetOptions, "noalias"):
            cpu.CPUTargetOptions.noalias = options.TargetOptions.Mapping("noalias")
        return {"noalias": True} if hasattr(cpu.CPUTargetOptions, "noalias") else {}
    except Exception:       # numba's internals changed: compile without the flag
        return {}


def _compile(noalias):
    """Compile the kernels in place of their Python definitions (kept in _PY); numba resolves the
    calls between them by module global name."""
    global _phi, _phi_flat, _matvec, _update, _update_clipped, _delta, _seg, _err, _hidden, _output
    global _block, _run_blocks
    py = _PY
    _phi = numba.njit(cache=True, error_model="numpy", inline="always")(py["_phi"])
    # never with noalias: _err calls _phi_flat with x and out in the same array (pa)
    with _vectorisers(loop=True):      # one long loop: the loop vectoriser's job, compiled now
        _phi_flat = numba.njit("void(float32[::1], int64, float32[::1], int64, int64)", cache=True,
                               error_model="numpy")(py["_phi_flat"])
    jit = numba.njit(cache=True, error_model="numpy", **noalias)
    with _vectorisers(loop=False):     # short lane loops, unrolled: the SLP vectoriser's job
        _matvec = numba.njit("void(float32[::1], int64, int64, int64, float32[::1], int64, "
                             "float32[::1])", cache=True, error_model="numpy", **noalias)(py["_matvec"])
        sig = "void(float32[::1], int64, int64, int64, float32[::1], float32[::1], int64, {}boolean[::1])"
        _update, _update_clipped = (
            numba.njit(sig.format("float32[::1], int64, "), cache=True, error_model="numpy",
                       **noalias)(py[f]) for f in ("_update", "_update_clipped"))
        _delta = numba.njit(sig.format(""), cache=True, error_model="numpy", **noalias)(py["_delta"])
    _seg = numba.njit(cache=True, inline="always")(py["_seg"])
    _err, _hidden, _output = jit(py["_err"]), jit(py["_hidden"]), jit(py["_output"])
    _block, _run_blocks = jit(py["_block"]), jit(py["_run_blocks"])


_PY = {f.__name__: f for f in (_phi, _phi_flat, _matvec, _update, _update_clipped, _delta, _seg, _err,
                               _hidden, _output, _block, _run_blocks)}
_SWITCH = AVAILABLE and _vectoriser_switch()
if AVAILABLE:
    # numba internals that may change between versions fail soft: default settings and a note, then
    # the numpy engine (AVAILABLE False) if nothing compiles
    if not _SWITCH:
        NOTES.append(f"numba {numba.__version__} has no numba.core.config.SLP_VECTORIZE/LOOP_VECTORIZE: "
                     "the compiled engine uses numba's default vectorisers (same results, slower)")
    _NOALIAS = _noalias_option()
    if not _NOALIAS:
        NOTES.append(f"numba {numba.__version__} has no internal noalias compiler flag: the compiled "
                     "engine runs without it (same results, slower)")
    try:
        try:
            _compile(_NOALIAS)
        except Exception:
            if not _NOALIAS:
                raise
            NOTES.append(f"numba {numba.__version__} refused the noalias compiler flag: the compiled "
                         "engine runs without it (same results, slower)")
            _NOALIAS = {}
            _compile(_NOALIAS)
    except Exception as err:
        AVAILABLE = False
        UNAVAILABLE_MSG = (f"the compiled engine cannot be built with numba {numba.__version__} "
                           f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}); "
                           "use a numba of the range in requirements.txt, or engine='numpy' (about 10x "
                           "slower)")
