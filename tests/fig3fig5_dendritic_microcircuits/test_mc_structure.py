"""docs/model/fig3fig5_dendritic_microcircuits.md §10 tests 1-4 and 12 (static part), configs, weights files, bad configs."""
import numpy as np
import pytest

from common.config import ConfigError
from common.errors import UsageError
from common.sweep import ensemble_key
from fig3fig5_dendritic_microcircuits.src.bars_train import PER_NETWORK
from fig3fig5_dendritic_microcircuits.src import run_bars, run_single_mc
from fig3fig5_dendritic_microcircuits.src.dataset import bars_patterns, one_hot_targets
from fig3fig5_dendritic_microcircuits.src.params import derived
from fig3fig5_dendritic_microcircuits.src.protocol import train_schedule
from fig3fig5_dendritic_microcircuits.src.runfolders import load_weights, save_arrays

from .helpers import CONFIGS, NS, bars_cfg, mimic_cfg, net, params, random_schedule


def test_bars_dataset_is_the_8_patterns_of_spec_4_1():
    x, labels = bars_patterns()
    table = ["000000111", "000111000", "111000000", "001001001", "010010010", "100100100",
             "100010001", "001010100"]
    assert x.dtype == np.float64 and x.shape == (8, 9)
    assert ["".join(str(int(v)) for v in row) for row in x] == table
    assert labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2]
    y = one_hot_targets(labels, 3, 1.0, 0.1)
    assert np.array_equal(y[0], [1.0, 0.1, 0.1]) and np.array_equal(y[7], [0.1, 0.1, 1.0])
    x9, l9 = bars_patterns(drop_last=False)  # docs/model/fig3fig5_dendritic_microcircuits.md Q8: the dropped 9th = main diagonal
    assert x9.shape == (9, 9) and np.array_equal(x9[8], x9[6]) and l9[8] == 2


def test_init_is_bit_exact_legacy_draw_and_permutation_continues_stream():
    m = net([params(True)], [12354], reflect=False)
    np.random.seed(12354)
    expect = {}
    for key, shape in (("W_up_1", (30, 9)), ("W_down_1", (30, 3)), ("W_pi_1", (30, 3)),
                       ("W_ip_1", (3, 30)), ("W_up_out", (3, 30))):
        expect[key] = (np.random.sample(shape).astype(np.float32) - 0.5) * 2 * 1
    perm = np.random.permutation(8)
    w = m.weights(0)
    for key in expect:
        assert w[key].dtype == np.float32
        assert np.array_equal(w[key], expect[key]), key
    x, labels = bars_patterns()
    y = one_hot_targets(labels, 3, 1.0, 0.1)
    sched = train_schedule(m.rngs[0], x, y, x, y, 2, 8)
    assert np.array_equal(sched.X[:8], x[perm])


def test_reflect_makes_the_network_self_predicting():
    m = net([params(True)], [12354])
    w = m.weights(0)
    assert np.array_equal(w["W_pi_1"], -w["W_down_1"])
    assert np.abs(w["W_ip_1"] - w["W_up_out"]).max() <= 1e-7


def test_derived_constants_of_spec_1_2():
    d = derived(params(True))
    for key in ("G_P", "G_I", "G_O", "G_O_notgt"):
        assert d[key] == pytest.approx(0.19, abs=1e-12)
    for key in ("lambda_out", "lambda_inter", "lambda_hidden"):
        assert d[key] == pytest.approx(0.315789, abs=1e-6)
    assert d["alpha_P"] == pytest.approx(0.526316, abs=1e-6)
    assert d["alpha_I"] == pytest.approx(0.769231, abs=1e-6)
    assert d["alpha_O"] == pytest.approx(0.769231, abs=1e-6)
    assert derived(params(True, output_leak="without_gsom"))["G_O_notgt"] == pytest.approx(0.13)


SPEC_TABLE = {  # N: (t_pattern, eta_up hidden, eta_up out, eta_ip, record_dt, out_lag orig)
    3: (0.3, 1.67, 0.3333, 0.67, 0.1, 0.0), 5: (0.5, 1.0, 0.2, 0.4, 0.1, 0.2),
    10: (1, 0.5, 0.1, 0.2, 0.2, 0.5), 20: (2, 0.25, 0.05, 0.1, 0.4, 1),
    50: (5, 0.1, 0.02, 0.04, 1.0, 2), 100: (10, 0.05, 0.01, 0.02, 2.0, 5),
    200: (20, 0.025, 0.005, 0.01, 4.0, 15), 500: (50, 0.01, 0.002, 0.004, 10, 40),
    1000: (100, 0.005, 0.001, 0.002, 20, 80), 2000: (200, 0.0025, 0.0005, 0.001, 40, 80),
    5000: (500, 0.001, 0.0002, 0.0004, 100, 80)}


@pytest.mark.parametrize("N", NS)
def test_bars_configs_match_spec_5_and_keep_eta_times_t_constant(N):
    le, orig = bars_cfg("le", N), bars_cfg("orig", N)
    t, eh, eo, eip, rdt, lag = SPEC_TABLE[N]
    for c in (le, orig):
        nw, tr = c.network, c.training
        assert nw.steps_per_pattern == N and nw.t_pattern == t
        assert (nw.eta.up, nw.eta.ip, nw.eta.pi) == ([eh, eo], [eip, 0.0], [0.0, 0.0])
        assert tr.record_dt == rdt and tr.seed == 12354 and tr.n_epochs == 1000
        assert nw.dims == [9, 30, 3] and (nw.gl, nw.gb, nw.ga, nw.gsom, nw.gd) == (
            0.03, 0.1, 0.06, 0.06, 0.1)
        assert tr.bars_drop_last_pattern and nw.output_leak == "with_gsom"
        # docs/model/fig3fig5_dendritic_microcircuits.md §10 test 12: eta * t_pattern is the same in every config (N = 3 rounded)
        assert eh * t == pytest.approx(0.5, abs=2e-3)
        assert eo * t == pytest.approx(0.1, abs=1e-4)
        assert eip * t == pytest.approx(0.2, abs=2e-3)
    assert le.network.latent_eq and not orig.network.latent_eq
    assert le.network.out_lag == 0.0 and orig.network.out_lag == lag
    a, b = le.network.__dict__.copy(), orig.network.__dict__.copy()
    for key in ("latent_eq", "out_lag"):
        a.pop(key), b.pop(key)
    assert a == b
    rq = [["inn_soma", "W_up", "W_ip"], ["pyr_soma", "W_up"]] if N == 500 else [
        ["inn_soma", "pyr_apical"], ["pyr_soma"]]
    assert orig.training.recorded_quants == rq


def test_mimic_config_matches_spec_5():
    c = mimic_cfg()
    nw, tr = c.network, c.training
    assert nw.dims == [1, 1, 1] and nw.dt == 0.01 and nw.steps_per_pattern == 100
    assert (nw.eta.up, nw.eta.ip, nw.eta.pi) == ([50, 10], [20, 0], [0, 0])
    sp = nw.eta_selfpred
    assert (sp.up, sp.ip, sp.pi) == ([0, 0], [40, 0], [50, 0])
    assert (tr.n_epochs, tr.n_epochs_selfpred, tr.seed, tr.teacher_seed) == (500, 3, 12345, 42)
    assert nw.latent_eq and not tr.init_selfpred and tr.mimic_freeze_w_pi


def test_all_22_bars_configs_exist():
    names = sorted(p.name for p in CONFIGS.glob("bars_*_tpres_*.yaml"))
    assert len(names) == 22


def test_paper_configs_form_one_ensemble_per_step_count():
    """LE and orig of one N differ only in keys each network sets for itself (bars_jobs.sh relies on
    it); different N never share an ensemble."""
    keys = {N: {ensemble_key(bars_cfg(v, N, "training.seed=1"), PER_NETWORK) for v in ("le", "orig")}
            for N in NS}
    assert all(len(k) == 1 for k in keys.values()) and len(set().union(*keys.values())) == len(NS)
    other_seed = ensemble_key(bars_cfg("le", 10, "training.seed=2"), PER_NETWORK)
    assert other_seed in keys[10]
    assert ensemble_key(bars_cfg("le", 10, "training.n_epochs=5"), PER_NETWORK) not in keys[10]


def test_save_and_load_weights_npz(tmp_path):
    m = net([params(True), params(False)], [1, 2])
    save_arrays(tmp_path / "w.npz", m.weights(1))
    with np.load(tmp_path / "w.npz", allow_pickle=False) as z:
        assert sorted(z.files) == sorted(["W_up_1", "W_down_1", "W_pi_1", "W_ip_1", "W_up_out"])
    other = net([params(False)], [7])
    load_weights(other, tmp_path / "w.npz")
    for key, v in m.weights(1).items():
        assert np.array_equal(other.weights(0)[key], v)


@pytest.mark.parametrize("override, key", [
    ("network.dt=-0.1", "network.dt"), ("network.gl=-1", "network.gl"),
    ("network.tau_0=0", "network.tau_0"), ("network.output_leak=sideways", "network.output_leak"),
    ("network.eta.up=[1.0]", "network.eta.up"), ("training.n_epochs=0", "training.n_epochs"),
    ("network.bogus=1", "network.bogus"), ("network.out_lag=5", "network.out_lag"),
    ("training.recorded_quants=[[pyr_x], []]", "training.recorded_quants")])
def test_bad_config_exits_2_with_one_line(override, key, capsys, tmp_path):
    code = run_bars.main(["train", str(CONFIGS / "smoke_bars.yaml"), override, "--out",
                          str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and key in err
    assert not (tmp_path / "r").exists()


# Numbers beyond what the model can hold (model §5 ranges; config.py MAX_*): huge, tiny or negative
# times, sizes, epoch counts, rates, voltages and seeds.
BARS_OUT_OF_RANGE = [
    ("network.dt=1e308", "network.dt"), ("network.dt=1e-320", "network.dt"),
    ("network.tau_0=1e308", "network.tau_0"), ("network.t_pattern=1e308", "network.t_pattern"),
    ("network.dt=1e-9", "network.t_pattern"),                 # 1e9 steps per pattern
    ("network.out_lag=1e6", "network.out_lag"), ("network.gsom=1e300", "network.gsom"),
    ("network.dims=[9,1000000000,3]", "network.dims[1]"), ("network.dims=[9,0,3]", "network.dims[1]"),
    ("network.eta.ip=[1e308,0.0]", "network.eta.ip[0]"), ("network.eta.up=[-1.0,0.1]", "network.eta.up[0]"),
    ("network.init_weights.down=1e300", "network.init_weights.down"),
    ("network.bias.val=1e308", "network.bias.val"),
    ("training.n_epochs=1000000000000000", "training.n_epochs"),
    ("training.n_val_samples=-3", "training.n_val_samples"),
    ("training.record_dt=1e308", "training.record_dt"), ("training.u_tgt_low=-1e308", "training.u_tgt_low"),
    ("training.snapshot_epochs=[100000000000]", "training.snapshot_epochs[0]"),
    ("training.seed=-1", "training.seed"), ("training.seed=4294967296", "training.seed"),
    ("training.seed=100000000000000000000000", "training.seed"), ("training.seed=1e23", "training.seed")]


@pytest.mark.parametrize("override, key", BARS_OUT_OF_RANGE)
def test_out_of_range_bars_value_exits_2_with_one_line(override, key, capsys, tmp_path):
    code = run_bars.main(["train", str(CONFIGS / "smoke_bars.yaml"), override, "--out",
                          str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and f"'{key}'" in err, err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("override, key", [
    ("training.teacher_seed=-5", "training.teacher_seed"), ("training.seed=4294967296", "training.seed"),
    ("training.n_epochs_selfpred=-1", "training.n_epochs_selfpred"),
    ("training.n_patterns=100000000", "training.n_patterns"),
    ("network.eta_selfpred.pi=[1e308,0.0]", "network.eta_selfpred.pi[0]")])
def test_out_of_range_mimic_value_exits_2_with_one_line(override, key, capsys, tmp_path):
    code = run_single_mc.main(["train", str(CONFIGS / "mimic_tpres_100.yaml"), override, "--out",
                               str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and f"'{key}'" in err, err


def test_bad_mimic_config_exits_2(capsys, tmp_path):
    code = run_single_mc.main(["train", str(CONFIGS / "mimic_tpres_100.yaml"), "network.dt=0",
                               "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "network.dt" in err


@pytest.mark.skipif(not __import__("importlib").util.find_spec("numba"), reason="numba not importable")
def test_a_kernel_that_fails_to_compile_at_its_first_call_falls_back_to_numpy(monkeypatch, capsys):
    """The compiled kernels are typed at their first call; a numba that refuses them there: 'auto'
    goes on with the numpy engine (its numbers, untouched state, one note line), 'numba' exits 2."""
    import numba
    from fig3fig5_dendritic_microcircuits.src import engine_numba

    def refuse(*args):
        raise numba.core.errors.TypingError("no implementation for this numba")
    monkeypatch.setattr(engine_numba, "_run_blocks", refuse)
    monkeypatch.setattr(engine_numba, "AVAILABLE", engine_numba.AVAILABLE)  # restored afterwards
    monkeypatch.setattr(engine_numba, "UNAVAILABLE_MSG", engine_numba.UNAVAILABLE_MSG)
    if not engine_numba.AVAILABLE:
        pytest.skip("the compiled engine is not available here")
    X, T, learn = random_schedule(2, 4, (9, 30, 3), seed=3)
    with pytest.raises(UsageError, match="engine 'numba': the compiled engine cannot be built"):
        net([params(True)], [5], engine="numba").run(X[:1], T[:1], n=20)
    assert not engine_numba.AVAILABLE  # networks made later start on numpy
    monkeypatch.setattr(engine_numba, "AVAILABLE", True)
    reference = net([params(True), params(False)], [5, 6], engine="numpy").run(X, T, learn=learn, n=20)
    auto = net([params(True), params(False)], [5, 6], engine="auto")
    assert auto.engine == "numba"
    capsys.readouterr()
    got = auto.run(X, T, learn=learn, n=20)
    assert auto.engine == "numpy" and "TypingError" in auto.engine_note
    assert capsys.readouterr().out.count("note: the compiled engine cannot be built") == 1
    assert np.array_equal(got.out, reference.out)


def test_unknown_variant_key_rejected():
    with pytest.raises(ConfigError, match="training.engine"):
        bars_cfg("le", 10, "training.engine=gpu")


def test_engine_falls_back_to_numpy_with_a_message_when_numba_is_missing(monkeypatch):
    from fig3fig5_dendritic_microcircuits.src import engine_numba
    from fig3fig5_dendritic_microcircuits.src.network import Microcircuits
    monkeypatch.setattr(engine_numba, "AVAILABLE", False)
    m = Microcircuits([9, 30, 3], [params(True)], [1], engine="auto")
    assert m.engine == "numpy" and "numba" in m.engine_note
    with pytest.raises(UsageError, match="engine 'numba': numba is not importable"):
        Microcircuits([9, 30, 3], [params(True)], [1], engine="numba")
