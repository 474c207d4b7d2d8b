"""The relaxation demo's chain: LE output lags L-1 steps, a non-prospective chain lags ~tau_m per layer."""
import numpy as np

from common.config import load_config
from fig2b_fig4ac_mnist.src.config import Config
from fig2b_fig4ac_mnist.src.paths import CONFIGS
from fig2b_fig4ac_mnist.src.relaxation import chain_config, input_signal, simulate, smooth_lag, step_lag


def _lags(tau, L=4, dt=0.5, tau_m=10.0):
    per_tau = int(tau_m / dt)
    x = input_signal(20 * per_tau, 10 * per_tau, [0.2, 0.8], period_steps=10 * per_tau)
    base = load_config(Config, CONFIGS / "2b_le.yaml", ["device=cpu"])
    rates, inst = simulate(chain_config(base, L, tau, tau_m, dt), x)
    out, target = rates[:, -1], inst[:, -1]
    n = 20 * per_tau
    return step_lag(out, target, n + 10 * per_tau, 10 * per_tau), smooth_lag(out[:n], target[:n], 8 * per_tau), per_tau


def test_le_chain_lags_only_the_pipeline():
    k, s, _ = _lags(tau=10.0)
    assert k == 3 and s == 3  # L - 1 steps, independent of tau_m


def test_non_prospective_chain_lags_about_one_tau_m_per_layer():
    k, s, per_tau = _lags(tau=0.0)
    assert 2.5 * per_tau < s < 5 * per_tau
    assert k > 4 * per_tau
    assert np.isfinite(k)
