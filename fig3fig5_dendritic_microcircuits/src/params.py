"""Per-network model parameters and the constants derived from them (model §1.2, §5)."""
from dataclasses import dataclass
from typing import Literal

import numpy as np

# columns of the float32 per-network constant row handed to the engines
P_DT, P_GP, P_GI, P_GO, P_GO_NOTGT, P_GB, P_GA, P_GSOM, P_GLB = range(9)
P_ALPHA_P, P_ALPHA_I, P_ALPHA_O, P_BIAS_VAL, P_CLIP_HID, P_CLIP_OUT, P_GSOM_I = range(9, 16)
P_ETA0 = 16                       # then (dt*eta_up, dt*eta_pi, dt*eta_ip) per layer
# columns of the int64 row
I_LE, I_N_OUT, I_N_LL, I_RATES_FROM_SOMA = range(4)

CLIP_HIDDEN, CLIP_OUT = 4.0, 5.0  # model §1.1: W_up clipped to ±4 (hidden) and ±5 (output)


def n_steps(t, dt):
    """Number of Euler steps dt in time t: the authors' round(t / dt)."""
    return int(round(t / dt))


@dataclass(frozen=True)
class NetParams:
    """Parameters of one microcircuit network (model §5 network_params, minus dims/bias/init)."""
    latent_eq: bool
    dt: float
    gl: float
    gb: float
    ga: float
    gsom: float
    gd: float
    eta_up: tuple          # one entry per layer (hidden..., output)
    eta_pi: tuple
    eta_ip: tuple
    tau_0: float
    out_lag: float
    learning_lag: float
    bias_val: float = 0.0
    output_leak: Literal["with_gsom", "without_gsom"] = "with_gsom"   # model Q4
    # model §10 test 15 ablations: LE rates/nudging/readout from the soma u instead of ŭ (plasticity
    # post-term and target delay stay LE); interneurons without the g_S ν nudging term
    ablation: Literal["none", "rates_from_soma", "no_interneuron_nudging"] = "none"



def derived(p: NetParams) -> dict:
    """Derived conductances and factors of model §1.2 (float64)."""
    G_P = p.gl + p.gb + p.ga
    G_I = p.gl + p.gb + p.gsom          # model Q3: interneurons use g_B, not g_D
    G_O = p.gl + p.gb + p.gsom
    return {
        "G_P": G_P, "G_I": G_I, "G_O": G_O,
        "G_O_notgt": G_O if p.output_leak == "with_gsom" else p.gl + p.gb,   # model Q4
        "alpha_P": p.gb / G_P, "alpha_I": p.gb / (p.gl + p.gb), "alpha_O": p.gb / (p.gl + p.gb),
        "lambda_out": p.gsom / G_O, "lambda_inter": p.gsom / (p.gl + p.gd + p.gsom),
        "lambda_hidden": p.ga / G_P,
    }


def pack(params, n_layers):
    """Stack per-network constants: float32 (K, P_ETA0 + 3 L), float64 (K, 1) filter factor, int64 (K, 4)."""
    K = len(params)
    par = np.zeros((K, P_ETA0 + 3 * n_layers), dtype=np.float32)
    par64 = np.zeros((K, 1), dtype=np.float64)
    ipar = np.zeros((K, 4), dtype=np.int64)
    for k, p in enumerate(params):
        d = derived(p)
        for j, v in ((P_DT, p.dt), (P_GP, d["G_P"]), (P_GI, d["G_I"]), (P_GO, d["G_O"]),
                     (P_GO_NOTGT, d["G_O_notgt"]), (P_GB, p.gb), (P_GA, p.ga), (P_GSOM, p.gsom),
                     (P_GLB, p.gl + p.gb), (P_ALPHA_P, d["alpha_P"]), (P_ALPHA_I, d["alpha_I"]),
                     (P_ALPHA_O, d["alpha_O"]), (P_BIAS_VAL, p.bias_val),
                     (P_CLIP_HID, CLIP_HIDDEN), (P_CLIP_OUT, CLIP_OUT),
                     (P_GSOM_I, 0.0 if p.ablation == "no_interneuron_nudging" else p.gsom)):
            par[k, j] = v
        for l in range(n_layers):
            par[k, P_ETA0 + 3 * l] = p.dt * p.eta_up[l]
            par[k, P_ETA0 + 3 * l + 1] = p.dt * p.eta_pi[l]
            par[k, P_ETA0 + 3 * l + 2] = p.dt * p.eta_ip[l]
        par64[k, 0] = p.dt / p.tau_0
        ipar[k] = (int(p.latent_eq), n_steps(p.out_lag, p.dt), n_steps(p.learning_lag, p.dt),
                   int(p.ablation == "rates_from_soma"))
    return par, par64, ipar
