"""Bad input of every kind, one table. Each row: the entry script, what it is given (files set up
beforehand, command-line arguments), the exit code, the key words of the one line it must print on
stderr (none for exit code 0), and what must be on disk afterwards. Kinds: configs (bombs, deep
nesting, non-string keys, out-of-range values), data files (IDX headers that overflow or lie),
checkpoints, run folders (foreign files, --restart, the repository root, a lost config.yaml), the
command-line arguments of every entry script, and runs that die (kill -9), run out of disk space or
are interrupted twice at a write point, followed by a rerun of the same command that finishes them.

A new entry script must get a row in ENTRIES (test_every_entry_script_has_rows checks it against the
files with a `__main__` block); a new way of failing gets a row in ROWS.
"""
import errno
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from tests.bad_input_support import (KILLED, REPO, call, ctrl_c_twice, die_at_replace, die_in_append,
                                     entry_main, entry_scripts, in_child, metrics, mnist_root,
                                     no_write_into, status, tree)


@pytest.fixture(autouse=True, scope="module")
def one_math_thread():
    """Runs that die are forked children of this process; a child that enters an OpenMP parallel
    region the parent's thread pool was inherited from hangs for good, so the whole module (children,
    references and reruns alike) computes with one thread."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


TOY = "tests/common/toy_entry.py"
F2B = "fig2b_fig4ac_mnist/src/train.py"
F2B_BP = "fig2b_fig4ac_mnist/src/bp_baseline.py"
F2CDE = "fig2cde_higgs_mnist_cifar10/train.py"
BARS = "fig3fig5_dendritic_microcircuits/src/run_bars.py"
MIMIC = "fig3fig5_dendritic_microcircuits/src/run_single_mc.py"

TOY_CONFIG = "lr: 0.05\nepochs: 3\nbatches: 3\nnoise: 0.5\noptimizer: sgd\nseed: 1\n"
F2B_TINY = ["hidden_sizes=[8]", "lr_factors=[1.0, 0.2]", "lr_factors_tau=[10.0, 10.0]", "n_updates=2"]
# a valid config of each training entry, and the words before CONFIG.yaml on its command line
BASE = {
    TOY: (None, []),
    F2B: (REPO / "fig2b_fig4ac_mnist/configs/smoke.yaml", []),
    F2B_BP: (REPO / "fig2b_fig4ac_mnist/configs/smoke.yaml", []),
    F2CDE: (REPO / "fig2cde_higgs_mnist_cifar10/configs/smoke_higgs_le.yaml", []),
    BARS: (REPO / "fig3fig5_dendritic_microcircuits/experiment_configs/bars_le_tpres_10.yaml", ["train"]),
    MIMIC: (REPO / "fig3fig5_dendritic_microcircuits/experiment_configs/mimic_tpres_100.yaml", ["train"]),
}

# Every entry script: the arguments of a command-line mistake and the words of its error line.
# None: the script reads no arguments (a benchmark or a listing; checked not to read sys.argv).
ENTRIES = {
    TOY: (["--no-such-option"], "required"),
    F2B: (["CONFIG", "--no-such-option"], "unrecognized arguments: --no-such-option"),
    F2B + " sweep": (["sweep", "CONFIG", "--seeds", "5-1"], "empty"),
    F2B_BP: (["CONFIG", "--substeps", "0"], "--substeps"),
    "fig2b_fig4ac_mnist/src/fourier_synthesis.py": (["--steps", "0"], "--steps"),
    "fig2b_fig4ac_mnist/src/relaxation_demo.py": (["--no-such-option"], "--no-such-option"),
    "fig2b_fig4ac_mnist/plot_2b.py": (["--no-such-option"], "--no-such-option"),
    "fig2b_fig4ac_mnist/plot_4a.py": (["--no-such-option"], "--no-such-option"),
    "fig2b_fig4ac_mnist/plot_4c.py": (["--no-such-option"], "--no-such-option"),
    F2CDE: (["CONFIG", "--no-such-option"], "unrecognized arguments: --no-such-option"),
    F2CDE + " sweep": (["sweep", "CONFIG", "--seeds", "x"], "--seeds"),
    "fig2cde_higgs_mnist_cifar10/plot_2cde.py": (["--no-such-option"], "--no-such-option"),
    BARS: (["fly"], "train|eval|sweep"),
    BARS + " train": (["train", "CONFIG", "--seed", "x"], "--seed"),
    MIMIC: (["fly"], "train"),
    MIMIC + " eval": (["eval", "NOWHERE"], "NOWHERE"),
    "fig3fig5_dendritic_microcircuits/plot_fig3.py": (["--no-such-option"], "required"),
    "fig3fig5_dendritic_microcircuits/plot_fig5.py": (["--no-such-option"], "required"),
    "scripts/bench.py": (["fc", "--no-such-option"], "--no-such-option"),
    "scripts/fetch_data.py": (["no_such_data_set"], "no_such_data_set"),
    "scripts/gpu_check.py": (["--no-such-option"], "--no-such-option"),
    "scripts/make_figures.py": (["--no-such-option"], "--no-such-option"),
    "scripts/reproduce.py": (["--no-such-option"], "--no-such-option"),
    "scripts/step_costs.py": (["--no-such-option"], "--no-such-option"),
    "scripts/bench_fc.py": None,
    "scripts/bench_lenet.py": None,
    "scripts/bench_microcircuit.py": None,
    "scripts/plan_paper.py": (["--no-such-option"], "--no-such-option"),
    "scripts/plan_quick.py": (["--calibrate", "--no-such-option"], "--no-such-option"),
}


@dataclass
class Ctx:
    tmp: Path
    capsys: object
    out: Path = None
    saved: dict = field(default_factory=dict)

    def __post_init__(self):
        self.out = self.tmp / "run"
        (self.tmp / "toy.yaml").write_text(TOY_CONFIG)

    def config(self, entry):
        return BASE[entry][0] or self.tmp / "toy.yaml"

    def argv(self, entry, *extra, config=None):
        """The command line of a run of `entry` into ctx.out (the tiny fig2b network for fig2b)."""
        tiny = F2B_TINY if entry in (F2B, F2B_BP) else []
        return [*BASE[entry][1], config or self.config(entry), *tiny, *extra, "--out", self.out]

    def run(self, entry, *extra, config=None):
        return call(entry, self.argv(entry, *extra, config=config), self.capsys)


@dataclass
class Row:
    name: str
    entry: str
    args: Callable = lambda c: []                    # ctx -> extra arguments after the config
    setup: Callable = lambda c: None                 # ctx -> None: files, earlier runs
    code: int = 2
    words: tuple = ()
    left: Callable = lambda c: None                  # ctx -> None: asserts what is on disk
    config: Callable = None                          # ctx -> the config file to pass (default: BASE)
    argv: Callable = None                            # ctx -> the whole command line (no config)


# ------------------------------------------------------------------------------------ row makers
def no_folder(c):
    assert not c.out.exists(), sorted(os.listdir(c.out))


def write_config(text):
    def setup(c):
        (c.tmp / "bad.yaml").write_text(text) if isinstance(text, str) else (c.tmp / "bad.yaml").write_bytes(text)
    return setup


def config_file_row(name, entry, text, *words):
    return Row(name, entry, setup=write_config(text), config=lambda c: c.tmp / "bad.yaml",
               words=("bad.yaml",) + words, left=no_folder)


def value_row(entry, override, *words):
    return Row(f"{Path(entry).stem}:{override[:40]}", entry, args=lambda c: [override],
               words=words, left=no_folder)


LAUGHS = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))
DEEP_FLOW = "lr: " + "[" * 10_000 + "\n"                # 10k levels open (closing them: > 16 KiB)
DEEP_BLOCK = "lr:\n" + "".join("  " * i + "- \n" for i in range(1, 60))
BIG_INT = "seed: " + "9" * 5000 + "\n"


def kept(c, but=()):
    """The files the setup saved in c.saved['tree'] are all there, unchanged (except `but`)."""
    now = tree(c.out)
    for rel, data in c.saved["tree"].items():
        assert rel in but or now.get(rel) == data, rel


def kept_no_lock(c):
    kept(c)
    assert not (c.out / ".lock").exists()


def failed_rest_kept(c):
    """A refused checkpoint: status `failed` with the reason, every other file as it was."""
    assert status(c.out) == "failed"
    kept(c, but=("summary.json",))


def completed_kept(c):
    kept(c)
    assert status(c.out) == "completed"


def save_tree(setup):
    def do(c):
        setup(c)
        c.saved["tree"] = tree(c.out)
    return do


def user_files(*names, sub=None, link=None, fifo=None):
    def setup(c):
        c.out.mkdir()
        for name in names:
            (c.out / name).write_text(f"{name} of the user\n")
        if sub:
            (c.out / sub).mkdir()
            (c.out / sub / "data.txt").write_text("mine")
        if link:
            (c.out / link).symlink_to(c.tmp / "toy.yaml")
        if fifo:
            os.mkfifo(c.out / fifo)
    return save_tree(setup)


def earlier_run(entry, *extra, then=None):
    """Setup: a run of `entry` that completed, then `then(c)` changed its folder."""
    def setup(c):
        assert c.run(entry, *extra)[0] == 0
        if then:
            then(c)
    return save_tree(setup)


def interrupted_toy(then=None):
    """Setup: a toy run stopped by SIGTERM-like Interrupted after epoch 1, then `then(c)`."""
    def setup(c):
        code = in_child(lambda: entry_main(TOY)([str(a) for a in c.argv(TOY)]),
                        ctrl_c_twice("tests.common.toy_entry", "check_finite"))
        assert code == 130 and status(c.out) == "interrupted"
        if then:
            then(c)
    return setup


def reference(entry):
    """Setup part: an uninterrupted run of `entry` in c.tmp/reference."""
    def do(c):
        out = c.out
        c.out = c.tmp / "reference"
        assert c.run(entry)[0] == 0
        c.out = out
    return do


def same_as_reference(c):
    assert status(c.out) == "completed"
    assert metrics(c.out) == metrics(c.tmp / "reference")
    assert not list(c.out.rglob("*.tmp"))


def dies(entry, hook):
    """Setup: the reference run, then a run of `entry` that dies (kill -9) where `hook` says."""
    def setup(c):
        reference(entry)(c)
        code = in_child(lambda: entry_main(entry)([str(a) for a in c.argv(entry)]), hook)
        assert code == KILLED
    return setup


def no_space(name, when):
    """Hook: every atomic write of `name` whose data holds `when` fails with ENOSPC."""
    def hook():
        from common import atomic
        real = atomic.os.write

        def write(fd, data):
            if os.readlink(f"/proc/self/fd/{fd}").split("/")[-1].startswith(name + ".") and \
                    when in bytes(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real(fd, data)
        atomic.os.write = write
    return hook


def full_disk(entry, name, when=b""):
    """Setup: the reference run, then a run that stops with exit code 2 on a full disk."""
    def setup(c):
        reference(entry)(c)
        code = in_child(lambda: entry_main(entry)([str(a) for a in c.argv(entry)]), no_space(name, when))
        assert code == 2
    return setup


def ctrl_c(entry, module, on):
    def setup(c):
        reference(entry)(c)
        code = in_child(lambda: entry_main(entry)([str(a) for a in c.argv(entry)]), ctrl_c_twice(module, on))
        assert code == 130 and status(c.out) == "interrupted"
        log = (c.out / "log.txt").read_text()
        assert "Traceback" not in log and "rerun the same command" in log
    return setup


def then_in_log(*words):
    def left(c):
        same_as_reference(c)
        log = (c.out / "log.txt").read_text()
        assert all(w in log for w in words), log
    return left


def only_the_run(c):
    """A completed run folder that holds nothing but the files every run writes."""
    assert sorted(tree(c.out)) == ["checkpoint.pt", "config.yaml", "log.txt", "metrics.csv", "summary.json"]
    assert status(c.out) == "completed"


def rm(name):
    return lambda c: (c.out / name).unlink()


def plant(name, data):
    return lambda c: (c.out / name).write_bytes(data)


def old_checkpoint(c):
    """A checkpoint in the current format whose bookkeeping predates the stored metrics rows."""
    from common.checkpoint import load_checkpoint, save_checkpoint
    state = load_checkpoint(c.out / "checkpoint.pt")
    state.pop("_metrics")
    save_checkpoint(c.out / "checkpoint.pt", state)


def at_repo(path):
    return Row(f"--out {path}", TOY, setup=lambda c: setattr(c, "out", path), words=("repository root",))


ROWS = [
    # ---------------------------------------------------------------- configs
    config_file_row("billion laughs", TOY, LAUGHS, "anchor or alias"),
    config_file_row("billion laughs (fig2b)", F2B, LAUGHS, "anchor or alias"),
    config_file_row("billion laughs (fig2cde)", F2CDE, LAUGHS, "anchor or alias"),
    config_file_row("billion laughs (bars)", BARS, LAUGHS, "anchor or alias"),
    config_file_row("billion laughs (mimic)", MIMIC, LAUGHS, "anchor or alias"),
    config_file_row("one alias", TOY, TOY_CONFIG.replace("seed: 1", "seed: &s 1\nbatches2: *s"), "alias"),
    config_file_row("10k-deep flow nesting", TOY, DEEP_FLOW, "nested more than 32"),
    config_file_row("deep block nesting", TOY, DEEP_BLOCK, "nested more than 32"),
    config_file_row("deep nesting (fig2cde)", F2CDE, DEEP_FLOW, "nested more than 32"),
    config_file_row("integer key", TOY, TOY_CONFIG + "1: 2\n", "not a string", "line 7"),
    config_file_row("null key", TOY, TOY_CONFIG + "null: 2\n", "not a string"),
    config_file_row("list key", TOY, TOY_CONFIG + "? [a, b]\n: 2\n", "not a string"),
    config_file_row("integer key (bars)", BARS, "training:\n  1: 2\n", "not a string"),
    config_file_row("larger than 16 KiB", TOY, TOY_CONFIG + "#" * 20_000 + "\n", "larger than 16 KiB"),
    config_file_row("5000-digit integer", TOY, BIG_INT, "cannot be read"),
    config_file_row("not UTF-8", TOY, (TOY_CONFIG + "# r\xe9glage\n").encode("latin-1"), "not UTF-8"),
    Row("config is a folder", TOY, setup=lambda c: (c.tmp / "bad.yaml").mkdir(),
        config=lambda c: c.tmp / "bad.yaml", words=("not found",), left=no_folder),
    value_row(TOY, "seed=100000000000000000000000", "'seed'", "out of range"),
    value_row(TOY, "lr=1e308", "'lr'", "out of range"),
    value_row(F2B, "seed=-1", "'seed'", ">= 0"),
    value_row(F2B, "seed=100000000000000000000000", "'seed'", "out of range"),
    value_row(F2B, "seed=1e23", "'seed'", "expected int"),
    value_row(F2B, "reseed_after_init=-7", "'reseed_after_init'", "out of range"),
    value_row(F2B, "dt=1e308", "'dt'", "<= 1000"),
    value_row(F2B, "tau=1e308", "'tau'", "out of range"),
    value_row(F2B, "tau_m=1e308", "'tau_m'", "out of range"),
    value_row(F2B, "tau_clip=[1.0, 1e308]", "'tau_clip[1]'", "out of range"),
    value_row(F2B, "hidden_sizes=[1000000000, 100]", "'hidden_sizes[0]'", "out of range"),
    value_row(F2B, "epoch_qty=1000000000000000", "'epoch_qty'", "out of range"),
    value_row(F2B, "n_updates=0", "'n_updates'", ">= 1"),
    value_row(F2B, "hidden_sizes=" + "[" * 40 + "]" * 40, "hidden_sizes", "nested more than 32"),
    value_row(F2B_BP, "seed=-1", "'seed'", "out of range"),
    value_row(F2CDE, "seed=-1", "'seed'", "out of range"),
    value_row(F2CDE, "epochs=1000000000000000", "'epochs'", "out of range"),
    value_row(F2CDE, "dt=1e308", "'dt'", "out of range"),
    value_row(F2CDE, "batch_size=1000000000", "'batch_size'", "out of range"),
    value_row(F2CDE, "higgs_rows=1000000000000", "'higgs_rows'", "out of range"),
    # ---------------------------------------------------------------- data files
    Row("IDX header 2^31 x 2^31 x 4", TOY,
        setup=lambda c: mnist_root(c.tmp, images_dims=(2**31, 2**31, 4)),
        args=lambda c: ["dataset=mnist", f"data_root={c.tmp / 'data'}"],
        words=("2147483648x2147483648x4", "fetch_data.py mnist")),
    Row("IDX labels header 2^32 - 1", TOY, setup=lambda c: mnist_root(c.tmp, labels_dims=(2**32 - 1,)),
        args=lambda c: ["dataset=mnist", f"data_root={c.tmp / 'data'}"], words=("4294967295", "more than")),
    Row("IDX header of 10^5 images, 10 given", TOY,
        setup=lambda c: mnist_root(c.tmp, images_dims=(10**5, 28, 28)),
        args=lambda c: ["dataset=mnist", f"data_root={c.tmp / 'data'}"], words=("100000x28x28", "truncated")),
    Row("IDX header of 2^20 images of 28 x 28 x 16", TOY,
        setup=lambda c: mnist_root(c.tmp, images_dims=(2**20, 28 * 16, 28)),
        args=lambda c: ["dataset=mnist", f"data_root={c.tmp / 'data'}"], words=("more than",)),
    Row("IDX data after the promised bytes", TOY,
        setup=lambda c: mnist_root(c.tmp, images_dims=(10, 28, 28), images_payload=bytes(7841)),
        args=lambda c: ["dataset=mnist", f"data_root={c.tmp / 'data'}"], words=("more than 7840",)),
    Row("IDX overflow header (fig2b)", F2B,
        setup=lambda c: mnist_root(c.tmp, images_dims=(2**31, 2**31, 4)),
        args=lambda c: ["dataset=mnist", f"data_root={c.tmp / 'data'}", "train_samples=-1",
                        "val_samples=-1", "test_samples=-1"],
        words=("2147483648x2147483648x4",), left=no_folder),
    Row("IDX overflow header (fig2cde)", F2CDE,
        setup=lambda c: mnist_root(c.tmp, images_dims=(2**31, 2**31, 4)),
        config=lambda c: REPO / "fig2cde_higgs_mnist_cifar10/configs/smoke_mnist_le.yaml",
        args=lambda c: ["dataset=mnist", f"data_root={c.tmp / 'data'}"], words=("2147483648x2147483648x4",)),
    # ---------------------------------------------------------------- checkpoints
    Row("checkpoint without the metrics rows", TOY, setup=save_tree(interrupted_toy(old_checkpoint)),
        words=("lacks '_metrics'", "--restart"), left=failed_rest_kept),
    Row("checkpoint replaced by a pickle", TOY,
        setup=save_tree(interrupted_toy(plant("checkpoint.pt", b"\x80\x04K\x01."))),
        words=("not a checkpoint of this project",), left=failed_rest_kept),
    Row("checkpoint cut", TOY, setup=save_tree(interrupted_toy(
        lambda c: (c.out / "checkpoint.pt").write_bytes((c.out / "checkpoint.pt").read_bytes()[:300]))),
        words=("damaged",), left=failed_rest_kept),
    # ---------------------------------------------------------------- run folders
    Row("foreign file", TOY, setup=user_files("notes.txt"), words=("notes.txt", "did not write"),
        left=kept_no_lock),
    Row("foreign file, --restart", TOY, setup=user_files("notes.txt"), args=lambda c: ["--restart"],
        words=("notes.txt", "did not write"), left=kept),
    Row("foreign sub-folder, --restart", TOY, setup=user_files(sub="mine"), args=lambda c: ["--restart"],
        words=("mine/", "did not write"), left=kept),
    Row("link named log.txt", TOY, setup=user_files(link="log.txt"), words=("log.txt",), left=kept),
    Row("pipe named metrics.csv", TOY, setup=user_files(fifo="metrics.csv"), args=lambda c: ["--restart"],
        words=("metrics.csv",), left=kept),
    Row("user's summary/metrics/log, no config.yaml", TOY,
        setup=user_files("summary.json", "metrics.csv", "log.txt"),
        words=("no config.yaml", "--restart"), left=kept),
    Row("completed run, config.yaml lost", TOY, setup=earlier_run(TOY, then=rm("config.yaml")),
        words=("no config.yaml",), left=completed_kept),
    Row("completed run, config.yaml lost, --restart", TOY, setup=earlier_run(TOY, then=rm("config.yaml")),
        args=lambda c: ["--restart"], code=0, left=lambda c: status(c.out) == "completed"),
    Row("config.yaml not UTF-8", TOY, setup=earlier_run(TOY, then=plant("config.yaml", b"lr: \xe9\n")),
        words=("config.yaml", "not UTF-8", "--restart"), left=kept),
    Row("config.yaml a billion laughs", TOY, setup=earlier_run(TOY, then=plant("config.yaml", LAUGHS.encode())),
        words=("config.yaml", "alias"), left=kept),
    Row("run of another config", TOY, setup=earlier_run(TOY), args=lambda c: ["lr=0.01"],
        words=("another config", "'lr'"), left=kept),
    Row("foreign file beside a run, --restart", TOY,
        setup=earlier_run(TOY, then=lambda c: (c.out / "notes.txt").write_text("mine")),
        args=lambda c: ["--restart"], words=("notes.txt",), left=kept),
    Row("--restart removes the project's files, sub-folders included", TOY,
        setup=earlier_run(TOY, then=lambda c: [(c.out / "traces").mkdir(), *[(c.out / n).write_bytes(b"x") for n in (
            "traces/train_epochs_00001-00002.npz", "weights_pre.npz", "metrics.csv.ab12.tmp")]]),
        args=lambda c: ["--restart"], code=0,
        left=only_the_run),
    Row("foreign file (fig2b), --restart", F2B, setup=user_files("notes.txt"), args=lambda c: ["--restart"],
        words=("notes.txt", "did not write"), left=kept),
    Row("foreign file (fig2cde)", F2CDE, setup=user_files("notes.txt"), words=("notes.txt",), left=kept),
    Row("foreign file (bars)", BARS, setup=user_files("notes.txt"), words=("notes.txt",), left=kept),
    Row("--out is a file", TOY, setup=lambda c: c.out.write_text("x"), words=("is a file",)),
    at_repo(REPO),
    at_repo(REPO.parent),
    Row("relaxation demo --out at the repository root", "fig2b_fig4ac_mnist/src/relaxation_demo.py",
        setup=lambda c: setattr(c, "out", REPO), argv=lambda c: ["--out", REPO], words=("repository root",)),
    Row("relaxation demo --out a folder of the user", "fig2b_fig4ac_mnist/src/relaxation_demo.py",
        setup=user_files("notes.txt"), argv=lambda c: ["--out", c.out], words=("notes.txt",), left=kept),
    # ---------------------------------------------------------------- a write that never finished
    Row("kill -9 writing the 2nd checkpoint", TOY, setup=dies(TOY, die_at_replace("checkpoint.pt", 2)),
        code=0, left=same_as_reference),
    Row("kill -9 appending to metrics.csv", TOY, setup=dies(TOY, die_in_append("metrics.csv", 2)),
        code=0, left=same_as_reference),
    Row("kill -9 writing config.yaml", TOY, setup=dies(TOY, die_at_replace("config.yaml")),
        code=0, left=same_as_reference),
    Row("kill -9 writing the completed summary", TOY,
        setup=dies(TOY, die_at_replace("summary.json", when=b'"status": "completed"')),
        code=0, left=then_in_log("ended without recording why", "completed from its final checkpoint")),
    Row("kill -9 writing a checkpoint (fig2b)", F2B, setup=dies(F2B, die_at_replace("checkpoint.pt", 2)),
        code=0, left=same_as_reference),
    Row("kill -9 after the final checkpoint (fig2b)", F2B,
        setup=dies(F2B, die_at_replace("summary.json", when=b'"status": "completed"')),
        code=0, left=then_in_log("completed from its final checkpoint")),
    Row("kill -9 after the final checkpoint (fig2b BP)", F2B_BP,
        setup=dies(F2B_BP, die_at_replace("summary.json", when=b'"status": "completed"')),
        code=0, left=then_in_log("completed from its final checkpoint")),
    Row("kill -9 appending to metrics.csv (fig2cde)", F2CDE, setup=dies(F2CDE, die_in_append("metrics.csv", 3)),
        code=0, left=same_as_reference),
    Row("kill -9 writing the completed summary (fig2cde)", F2CDE,
        setup=dies(F2CDE, die_at_replace("summary.json", when=b'"status": "completed"')), code=0, left=same_as_reference),
    Row("full disk at the completed summary", TOY, setup=full_disk(TOY, "summary.json", b'"status": "completed"'),
        code=0, left=then_in_log("completed from its final checkpoint")),
    Row("full disk at the completed summary (fig2b)", F2B,
        setup=full_disk(F2B, "summary.json", b'"status": "completed"'), code=0,
        left=then_in_log("completed from its final checkpoint")),
    Row("full disk at a checkpoint (fig2b)", F2B, setup=full_disk(F2B, "checkpoint.pt"), code=0,
        left=same_as_reference),
    Row("double Ctrl-C", TOY, setup=ctrl_c(TOY, "tests.common.toy_entry", "check_finite"), code=0,
        left=then_in_log("resuming")),
    Row("double Ctrl-C (fig2b)", F2B, setup=ctrl_c(F2B, "fig2b_fig4ac_mnist.src.ensemble_runs", "check_finite"),
        code=0, left=then_in_log("resuming")),
    Row("metrics.csv deleted after an interruption", TOY,
        setup=lambda c: (reference(TOY)(c), interrupted_toy(rm("metrics.csv"))(c)),
        code=0, left=then_in_log("rebuilt from the checkpoint")),
    Row("metrics.csv cut after an interruption", TOY, setup=lambda c: (reference(TOY)(c), interrupted_toy(
        lambda c: (c.out / "metrics.csv").write_text((c.out / "metrics.csv").read_text()[:40]))(c)),
        code=0, left=then_in_log("rebuilt from the checkpoint")),
    Row("temp files of config.yaml and metrics.csv left", TOY, setup=lambda c: (reference(TOY)(c), interrupted_toy(
        lambda c: [(c.out / n).write_text("x") for n in ("config.yaml.ab12.tmp", "metrics.csv.cd34.tmp")])(c)),
        code=0, left=same_as_reference),
    Row("metrics.csv deleted from a completed fig2b run", F2B, setup=earlier_run(F2B, then=rm("metrics.csv")),
        code=0, left=lambda c: [r["split"] for r in metrics(c.out)] == ["val", "val", "val", "test"]),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_row(row, tmp_path, capsys):
    c = Ctx(tmp_path, capsys)
    row.setup(c)
    config = row.config(c) if row.config else None
    argv = row.argv(c) if row.argv else c.argv(row.entry, *row.args(c), config=config)
    if c.out in (REPO, REPO.parent):
        with no_write_into(c.out):
            code, err = call(row.entry, argv, capsys)
    else:
        code, err = call(row.entry, argv, capsys)
    assert code == row.code, err
    if row.code == 0:
        assert err == [], err
    else:
        assert len(err) == 1 and all(w in err[0] for w in row.words), err
    row.left(c)


@pytest.mark.parametrize("name", sorted(k for k, v in ENTRIES.items() if v is not None))
def test_command_line_mistake(name, tmp_path, capsys):
    entry = name.split(" ")[0]
    argv, words = ENTRIES[name]
    config = BASE.get(entry, (None,))[0] or tmp_path / "toy.yaml"
    (tmp_path / "toy.yaml").write_text(TOY_CONFIG)
    argv = [config if a == "CONFIG" else a for a in argv]
    code, err = call(entry, argv, capsys)
    assert code == 2, err
    assert err and words in err[-1] and not any("Traceback" in line for line in err), err
    assert len(err) == 1, err


def test_every_entry_script_has_rows():
    """Each script with a `__main__` block is in ENTRIES; one that takes no arguments reads none."""
    assert entry_scripts() == {name.split(" ")[0] for name in ENTRIES} - {TOY}
    for name, row in ENTRIES.items():
        if row is None:
            text = (REPO / name).read_text()
            assert "sys.argv" not in text and "parse_args" not in text, name


def test_config_bombs_load_fast(tmp_path):
    """A billion laughs and a 10k-deep nesting are refused by a fresh process long before a
    generous time limit (expanding the laughs would take minutes and gigabytes)."""
    (tmp_path / "laughs.yaml").write_text(LAUGHS)
    (tmp_path / "deep.yaml").write_text(DEEP_FLOW)
    code = ("import sys; from common.config import ConfigError, read_yaml\n"
            "for p in sys.argv[1:]:\n"
            "    try:\n        read_yaml(p)\n    except ConfigError as err:\n        print(err)\n")
    out = subprocess.run([sys.executable, "-c", code, tmp_path / "laughs.yaml", tmp_path / "deep.yaml"],
                         capture_output=True, text=True, timeout=60, cwd=REPO)
    lines = out.stdout.strip().splitlines()
    assert out.returncode == 0 and len(lines) == 2, out.stderr
    assert "alias" in lines[0] and "nested" in lines[1]
