"""The paper's panels: the one list that make_figures.py, reproduce.py (both profiles) and the README
table read. Adding a panel means adding one Panel here (and its row to the README, which a test
checks against README_ROWS).

Each panel names its folder, the run folders that belong to it, its plot function and metrics, the
README row, the reduced-size runs of the quick profile (`quick(runs, data)` -> [Step]; `needs` says
which data set each part needs) and the paper sweep (`sweep`, priced by plan_paper.py).
"""
import sys
from dataclasses import dataclass
from pathlib import Path

from step_costs import F2B_CONFIGS, bars_network_steps, fc_core_s, le_bp_core_s, resolve, MEASURED
from step_runner import Step

REPO = Path(__file__).resolve().parents[1]
F2B, F2CDE, F35 = "fig2b_fig4ac_mnist", "fig2cde_higgs_mnist_cifar10", "fig3fig5_dendritic_microcircuits"
PY = sys.executable
STARTUP_S = 6.0               # interpreter, torch import and data loading of one quick step


@dataclass(frozen=True)
class Sweep:
    """The paper's runs of a panel. kind "jobs": a job script with --dry-run; "single": one
    command (`core_s`: its measured seconds on one core); "submit": the Fig. 2c-e sbatch scripts."""
    title: str
    kind: str
    script: str = ""          # relative to the repository root
    argv: tuple = ()
    cpus: int = 1
    core_s: float = 0.0


@dataclass(frozen=True)
class Panel:
    id: str
    title: str
    folder: str
    scripts: tuple            # entry scripts whose runs belong here
    stem_prefix: str          # config stems that belong here ("" = any)
    plot_file: str            # relative to the repository root
    metrics: tuple            # (final-metric key, label) shown in results.md
    paper_seeds: int          # seeds per setting in the paper's sweep
    paper: str                # what the paper shows (qualitative; no number is quoted without a source)
    readme: tuple             # README table: (panel, command at full size, output)
    quick: object             # quick(runs, data) -> [Step]; data: {"vision": mnist|fashion_mnist|None, ...}
    sweep: Sweep
    needs: tuple = ()         # (label, data set) the quick runs need; "mnist" accepts the stand-in
    per_run: bool = False     # the plot function takes one run folder (one figure per run)

    def selects(self, run):
        return (run.folder == self.folder and run.script in self.scripts
                and run.stem.startswith(self.stem_prefix))


def _a(*parts):
    return [str(p) for p in parts]


# ------------------------------------------------------------------ quick runs
def _fig1(runs, data):
    return [Step("fig1", "fig1_relaxation", "relaxation demo (LE vs non-prospective chain)",
                 _a(PY, REPO / F2B / "src" / "relaxation_demo.py", "--out", runs / "fig1_relaxation"), 10,
                 figures=("fig1_relaxation/*.png",))]


def _fig2a(runs, data):
    return [Step("fig2a", "fig2a_fourier", "Fourier synthesis, full 119,999 steps (LE and non-prospective)",
                 _a(PY, REPO / F2B / "src" / "fourier_synthesis.py", "--out", runs / "fig2a_fourier"), 25,
                 figures=("fig2a_fourier/*.png",))]


BARS_SEEDS = "12345-12348"
BARS_N = (500, 200, 100, 50, 20, 10, 5)   # longest first


def _fig3(runs, data):
    cfg = REPO / F35 / "experiment_configs"
    lo, hi = map(int, BARS_SEEDS.split("-"))
    networks = 2 * (hi - lo + 1)  # LE and orig per seed, one ensemble
    return [Step("fig3", f"fig3_bars_N{n}", f"bars N={n}: LE and orig x seeds {BARS_SEEDS}, 1000 epochs",
                 _a(PY, REPO / F35 / "src" / "run_bars.py", "sweep", cfg / f"bars_le_tpres_{n}.yaml",
                    cfg / f"bars_orig_tpres_{n}.yaml", "--seeds", BARS_SEEDS, "--root", runs / "fig3",
                    "training.save_traces=false"),
                 STARTUP_S + networks * bars_network_steps(n) * MEASURED["mc"]["ensemble"])
            for n in BARS_N]


def _fig5(runs, data):
    return [Step("fig5", "fig5_mimic", "mimic task (teacher/student microcircuit)",
                 _a(PY, REPO / F35 / "src" / "run_single_mc.py", "train",
                    REPO / F35 / "experiment_configs" / "mimic_tpres_100.yaml",
                    "--out", runs / "fig5" / "mimic_tpres_100" / "seed12345"), 18)]


# Fig. 2b/4a/4c: 10 batches of 512 for training, 2 each for validation and test.
FC_SIZE = ["train_samples=5120", "val_samples=1024", "test_samples=1024", "device=cpu"]


def _fc_run(panel, cfg, name, overrides, runs, ds):
    """One train.py run in the job scripts' layout <name>/seed69, which the folder's plots read."""
    over = [f"dataset={ds}", *FC_SIZE, *overrides]
    est = STARTUP_S + fc_core_s(Path(cfg).stem, resolve(F2B_CONFIGS / cfg, over))
    return Step(panel, f"{panel}_{name}", f"{name} on {ds} ({' '.join(overrides)})",
                _a(PY, REPO / F2B / "src" / "train.py", F2B_CONFIGS / cfg, *over,
                   "--out", runs / panel / name / "seed69"), est)


def _fig2b(runs, data):
    epochs = ["epoch_qty=4"]   # epoch 0 is evaluation only: 3 training epochs
    return [_fc_run("fig2b", f"{v}.yaml", v, epochs, runs, data["vision"])
            for v in ("2b_le", "2b_fa", "2b_big_tau", "2b_no_prospective")]


# The variants of 4a_jobs.sh (same overrides), at a short and a long presentation time.
FIG4A_VARIANTS = {"exact": ["tau_width=0.0"], "jitter30": ["tau_width=0.3"],
                  # tau_m adaptation capped at 100 validation passes per layer (the paper: until converged)
                  "learned_tau_m": ["adapt_tau=true", "prosp_rate_errors=true", "tau_width=0.2",
                                    "tau_adapt_max_passes=100"]}


def _fig4a(runs, data):
    return [_fc_run("fig4a", "4a_params.yaml", f"4a_{variant}_dt{dt}", ["epoch_qty=3", f"dt={dt}", *over],
                    runs, data["vision"])
            for variant, over in FIG4A_VARIANTS.items() for dt in ("0.01", "1.0")]


def _fig4c(runs, data):
    return [_fc_run("fig4c", "4c_params.yaml", f"4c_dt0.05_taus{tau_s}_n{n}",
                    ["epoch_qty=3", "dt=0.05", f"tau_s={tau_s}", f"n_updates={n}"], runs, data["vision"])
            for tau_s in ("0.0", "2.0") for n in (20, 200)]


# LeNet LE (MNIST, CIFAR-10): 10 update steps per batch instead of 100 / 50, with the multiplier
# that keeps the paper's per-step coefficient 0.125 M f / n (fig2cde README, "Observed stability");
# the update-matched BP baseline takes the same n_updates, multiplier and batches as its LE run.
LENET_SHORT = ["n_updates=10", "batch_learning_multiplier=12.8", "batch_size=128"]
# LE, the update-matched BP baseline it is compared with, and the authors' plain BP beside them
FIG2CDE_MODELS = ("le", "bp_matched", "bp")
# HIGGS and CIFAR-10 smaller than MNIST, so that all three with their update-matched baselines fit
# the quick profile's 10 minutes
FIG2CDE_TASKS = {"mnist": (["train_samples=8192", "eval_samples=1024", "epochs=2"], LENET_SHORT),
                 "higgs": (["higgs_rows=40000", "higgs_test_rows=10000", "val_size=10000", "epochs=2"], []),
                 "cifar10": (["train_samples=4096", "eval_samples=1024", "epochs=2"], LENET_SHORT)}


def _fig2cde(runs, data):
    steps = []
    for task, (over, le_short) in FIG2CDE_TASKS.items():
        ds = data["vision"] if task == "mnist" else task if data.get(task) else None
        if ds is None:
            continue
        for model in FIG2CDE_MODELS:
            stem = f"{task}_{model}"
            words = [f"dataset={ds}", "device=cpu", *over, *(le_short if model != "bp" else [])]
            cfg = resolve(REPO / F2CDE / "configs" / f"{stem}.yaml", words)
            if task == "higgs":  # the reduced table: test rows off the end, 5 % of the rest for validation
                cfg["train_samples"] = cfg["higgs_rows"] - cfg["higgs_test_rows"] - cfg["val_size"]
            steps.append(Step("fig2cde", f"fig2cde_{stem}", f"{stem} on {ds} ({' '.join(over)})",
                              _a(PY, REPO / F2CDE / "train.py", REPO / F2CDE / "configs" / f"{stem}.yaml", *words,
                                 "--out", runs / "fig2cde" / stem / "seed1"), STARTUP_S + le_bp_core_s(cfg)))
    return steps


# ------------------------------------------------------------------ the registry
FC_METRIC = (("test_error", "test error (%)"),)
MNIST_NEED = (("mnist", "mnist"),)

PANELS = (
    Panel("fig1", "Fig. 1 (style): relaxation of a neuron chain, LE vs no prospective rates", F2B,
          ("relaxation_demo.py",), "", f"{F2B}/src/relaxation_demo.py",
          (("le_smooth_lag_tau", "LE: output lag on a smooth input (tau_m)"),
           ("no_prospective_smooth_lag_tau", "no prospective: output lag on a smooth input (tau_m)"),
           ("le_step_lag_tau", "LE: time to within 5 % after a step (tau_m)"),
           ("no_prospective_step_lag_tau", "no prospective: time to within 5 % after a step (tau_m)")),
          1, "LE neurons follow their input without relaxation lag; leaky neurons lag by several tau_m",
          ("Fig. 1-style relaxation (LE vs non-prospective)", f"`python {F2B}/src/relaxation_demo.py`",
           f"`{F2B}/runs/relaxation/`: lag in steps and τ, plot"),
          _fig1, Sweep("relaxation demo", "single", argv=("python", f"{F2B}/src/relaxation_demo.py"), core_s=10),
          per_run=True),
    Panel("fig2a", "Fig. 2a: Fourier synthesis of a sawtooth (LE vs no prospective coding)", F2B,
          ("fourier_synthesis.py",), "", f"{F2B}/src/fourier_synthesis.py",
          (("le_mean_abs_error_after_learning", "LE: mean abs(target - output) after learning"),
           ("no_prospective_mean_abs_error_after_learning", "no prospective: mean abs(target - output) after learning")),
          1, "the LE network reproduces the sawtooth after learning; without prospective rates it lags behind",
          ("Fig. 2a Fourier synthesis", f"`python {F2B}/src/fourier_synthesis.py`",
           f"`{F2B}/runs/fourier/`: trace, target vs output plot"),
          _fig2a, Sweep("Fourier synthesis, full 119,999 steps", "single",
                        argv=("python", f"{F2B}/src/fourier_synthesis.py"), core_s=25),
          per_run=True),
    Panel("fig2b", "Fig. 2b: MNIST error vs epoch", F2B, ("train.py",), "2b_", f"{F2B}/plot_2b.py", FC_METRIC, 10,
          "LE and LE+FA learn MNIST; the non-prospective and big-tau networks do markedly worse",
          ("Fig. 2b MNIST error vs epoch (LE, FA, big τ, no prospective coding)",
           f"`bash {F2B}/2b_jobs.sh`, then `python {F2B}/plot_2b.py`", "40 run folders, error-vs-epoch plot"),
          _fig2b, Sweep("MNIST, 4 variants x 10 seeds", "jobs", script=f"{F2B}/2b_jobs.sh", cpus=2),
          needs=MNIST_NEED),
    Panel("fig2cde", "Fig. 2c-e: LE vs BP on HIGGS, MNIST (LeNet-5), CIFAR-10", F2CDE, ("train.py",), "",
          f"{F2CDE}/plot_2cde.py", (("test_error", "test error (%)"),), 9,
          "LE reaches test errors comparable to BP on all three tasks",
          ("Fig. 2c-e LE vs BP on HIGGS, MNIST, CIFAR-10",
           f"`bash {F2CDE}/submit_python_{{higgs,mnist,cifar10}}_gpu_v100.sh` (submits one SLURM job that "
           f"trains the 9 seeds as an LE, then a BP ensemble; `SEEDS=1,2 bash ...` runs seeds here), then "
           f"`python {F2CDE}/plot_2cde.py`",
           "9 seeds x LE/BP run folders per task, test-error bars"),
          _fig2cde, Sweep("HIGGS, MNIST, CIFAR-10: LE and BP x 9 seeds (GPU)", "submit"),
          needs=(("fig2d (MNIST)", "mnist"), ("fig2c (HIGGS)", "higgs"), ("fig2e (CIFAR-10)", "cifar10"))),
    Panel("fig3", "Fig. 3: bars task vs presentation time, LE vs orig", F35, ("run_bars.py",), "bars_",
          f"{F35}/plot_fig3.py", (("test_accuracy", "test accuracy (%)"), ("test_loss", "test MSE")), 10,
          "LE learns at short presentation times where the original microcircuit does not",
          ("Fig. 3 bars task over presentation times", f"`bash {F35}/bars_jobs.sh`, then "
           f"`python {F35}/plot_fig3.py {F35}/runs --table`", "220 run folders, accuracy and MSE vs N"),
          _fig3, Sweep("bars, 11 presentation times x LE/orig x 10 seeds", "jobs", script=f"{F35}/bars_jobs.sh")),
    Panel("fig4a", "Fig. 4a: tau jitter, tau^r errors, learned tau_m vs dt", F2B, ("train.py",), "4a_",
          f"{F2B}/plot_4a.py", FC_METRIC, 4,
          "jitter hurts at short presentation times; learning tau_m recovers the performance",
          ("Fig. 4a τ jitter, τ^r errors, learned τ_m vs dt", f"`bash {F2B}/4a_jobs.sh`, then "
           f"`python {F2B}/plot_4a.py`", "200 run folders, final error vs dt"),
          _fig4a, Sweep("5 variants x 10 dt x 4 seeds", "jobs", script=f"{F2B}/4a_jobs.sh", cpus=2),
          needs=MNIST_NEED),
    Panel("fig4c", "Fig. 4c: rate noise and synaptic filtering vs presentation time", F2B, ("train.py",),
          "4c_", f"{F2B}/plot_4c.py", FC_METRIC, 3,
          "noise hurts without filtering; filtering helps once the presentation time is long enough",
          ("Fig. 4c noise and synaptic filtering vs presentation time", f"`bash {F2B}/4c_jobs.sh`, then "
           f"`python {F2B}/plot_4c.py`", "90 run folders, final error vs T"),
          _fig4c, Sweep("5 (dt, tau_s) x 6 presentation times x 3 seeds", "jobs", script=f"{F2B}/4c_jobs.sh", cpus=2),
          needs=MNIST_NEED),
    Panel("fig5", "Fig. 5: student microcircuit mimics a teacher", F35, ("run_single_mc.py",), "",
          f"{F35}/plot_fig5.py", (("final_val_loss", "final validation MSE"), ("test_loss", "test MSE"),
                                     ("W_up_out_max_abs_diff", "max abs(W_out - teacher)")), 1,
          "the student's weights converge to the teacher's and the output matches the teacher's",
          ("Fig. 5 student microcircuit mimics a teacher",
           f"`python {F35}/src/run_single_mc.py train {F35}/experiment_configs/mimic_tpres_100.yaml`, then "
           f"`python {F35}/plot_fig5.py {F35}/runs/mimic_tpres_100/seed12345`", "run folder, weight/apical/MSE panels"),
          _fig5, Sweep("mimic task", "single", argv=("python", f"{F35}/src/run_single_mc.py", "train",
                                                     f"{F35}/experiment_configs/mimic_tpres_100.yaml"), core_s=18),
          per_run=True),
)
PANEL_IDS = tuple(p.id for p in PANELS)
BY_ID = {p.id: p for p in PANELS}


def readme_rows():
    """The README's figure table rows, in registry order."""
    return [f"| {label} | `{p.folder}/` | {command} | {output} |" for p in PANELS
            for label, command, output in (p.readme,)]
