"""RunGroup: the K run folders of one ensemble each end with the outcome of their own network; a
folder that cannot be entered closes those already entered; stop requests (SIGTERM/SIGUSR1, Ctrl-C
where asked) raise Interrupted; completed runs are left out. run_ensembles: one ensemble per key."""
import json
from contextlib import nullcontext
import os
import signal
import time

import pytest

from common.errors import Diverged, Interrupted, UsageError
from common.runfolder import RunFolder
from common.rungroup import Restart, RunGroup, run_ensembles
from tests.common.toy_entry import ToyConfig


def cfg(seed):
    return ToyConfig(lr=0.1, epochs=1, batches=1, noise=0.0, optimizer="sgd", seed=seed)


def jobs(tmp_path, names):
    return [(cfg(k), tmp_path / name) for k, name in enumerate(names)]


def summary(folder):
    return json.loads((folder / "summary.json").read_text())


def wait_for_signal(group):
    """The Python-level handler runs between bytecodes of the main thread, soon after the kill."""
    for _ in range(100):
        if group.stop_signal() is not None:
            return
        time.sleep(0.01)


@pytest.mark.parametrize("ending, open_status", [
    (None, "failed"), (Interrupted(signal.SIGTERM), "interrupted"), (RuntimeError("boom"), "failed")])
def test_each_member_ends_with_its_own_outcome(tmp_path, ending, open_status):
    """completed stays completed and a marked run keeps its mark whatever the block ends with; an
    unmarked run ends with the block's exception (failed without one, as it did not complete)."""
    group = RunGroup(jobs(tmp_path, ["done", "div", "open"]))
    with pytest.raises(RuntimeError) if isinstance(ending, RuntimeError) else nullcontext():
        with group:
            done, div, _ = group.entered
            done.complete({"test_error": 1.0})
            group.mark(div, Diverged(3, "loss is nan"))
            group.mark(div, Interrupted(signal.SIGTERM))       # the first outcome counts
            if ending is not None:
                raise ending
    assert summary(tmp_path / "done")["status"] == "completed"
    s = summary(tmp_path / "div")
    assert (s["status"], s["diverged_epoch"], s["diverged_reason"]) == ("diverged", 3, "loss is nan")
    assert summary(tmp_path / "open")["status"] == open_status
    assert group.exit_code == (128 + signal.SIGTERM if open_status == "interrupted" else 0)


def test_a_folder_that_cannot_be_entered_closes_those_entered(tmp_path):
    """The second folder is held by another RunFolder: the first ends `failed` and unlocked, the
    third is never created, and Ctrl-C is handled as before."""
    before = signal.getsignal(signal.SIGINT)
    group = RunGroup(jobs(tmp_path, ["a", "b", "c"]), sigint_stops=True)
    with RunFolder(tmp_path / "b", cfg(1)):
        with pytest.raises(UsageError, match="in use"):
            group.__enter__()
    s = summary(tmp_path / "a")
    assert s["status"] == "failed" and "in use" in s["error"]
    assert not (tmp_path / "c").exists()
    assert signal.getsignal(signal.SIGINT) is before
    with RunFolder(tmp_path / "a", cfg(0)) as again:      # the lock of `a` was dropped
        assert again.resumed_state is None


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGUSR1])
def test_stop_request_raises_interrupted(tmp_path, sig):
    with RunGroup(jobs(tmp_path, ["a", "b"])) as group:
        group.check_stop()                                   # nothing asked yet
        os.kill(os.getpid(), sig)
        wait_for_signal(group)
        assert group.stop_signal() == sig
        with pytest.raises(Interrupted) as stop:
            group.check_stop()
        raise stop.value
    assert group.exit_code == 128 + sig
    assert [summary(tmp_path / n)["status"] for n in "ab"] == ["interrupted"] * 2


def test_ctrl_c_is_a_stop_request_only_where_asked(tmp_path):
    # Python's own Ctrl-C handler, also where the test process was started with SIGINT ignored
    # (a background job)
    outer = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _ctrl_c(tmp_path)
    finally:
        signal.signal(signal.SIGINT, outer)


def _ctrl_c(tmp_path):
    before = signal.getsignal(signal.SIGINT)
    with RunGroup(jobs(tmp_path, ["a"]), sigint_stops=True) as group:
        os.kill(os.getpid(), signal.SIGINT)
        wait_for_signal(group)                               # no KeyboardInterrupt here
        with pytest.raises(Interrupted):
            group.check_stop()
        group.check_stop()
    assert signal.getsignal(signal.SIGINT) is before
    assert group.exit_code == 128 + signal.SIGINT and summary(tmp_path / "a")["status"] == "interrupted"
    with RunGroup(jobs(tmp_path, ["b"]), restart=True) as group:
        os.kill(os.getpid(), signal.SIGINT)
        wait_for_signal(group)                               # KeyboardInterrupt ends the block
        pytest.fail("Ctrl-C did not interrupt the block")
    assert group.exit_code == 130 and summary(tmp_path / "b")["status"] == "interrupted"


def test_completed_runs_are_left_out_and_the_rest_grouped_by_checkpoint(tmp_path):
    with RunGroup(jobs(tmp_path, ["done", "resumed", "fresh"])) as group:
        done, resumed, _ = group.entered
        done.complete()
        resumed.save_checkpoint({"epoch": 2})           # "fresh" is stopped before its first checkpoint
        raise Interrupted(signal.SIGTERM)
    j = jobs(tmp_path, ["done", "resumed", "fresh"])
    with RunGroup(j) as group:
        assert [r.path.name for r in group.entered] == ["resumed", "fresh"]
        assert [(r.path.name, c) for r, c in group.members] == [("resumed", j[1][0]), ("fresh", j[2][0])]
        assert [[r.path.name for r, _ in m] for m in group.by_checkpoint()] == [["fresh"], ["resumed"]]
        assert group.members[0][0].resumed_state["epoch"] == 2
        for run in group.entered:
            run.complete()
    assert group.all[0].already_completed and group.exit_code == 0


def test_run_ensembles_groups_by_key_and_stops_after_an_interrupted_one(tmp_path):
    trained = []

    def train(group_jobs):
        trained.append([c for c, _ in group_jobs])
        return {1: 0, 0: 128 + signal.SIGTERM}[group_jobs[0][0] % 2]

    all_jobs = [(c, tmp_path / str(c)) for c in (1, 2, 3, 4, 5)]
    assert run_ensembles(all_jobs, lambda c: c % 2, train) == 128 + signal.SIGTERM
    assert trained == [[1, 3, 5], [2, 4]]
    trained.clear()
    assert run_ensembles([(2, tmp_path), (1, tmp_path)], lambda c: c % 2, train) == 128 + signal.SIGTERM
    assert trained == [[2]]                                  # the odd ensemble is left for the rerun


def files(folder):
    """Every file of a run folder and its bytes (the lock file is the OS's, not the run's)."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != ".lock"}


def _end(folder, seed, how, restart=False):
    """A run folder that ended `how`: completed, diverged, or interrupted after one checkpoint."""
    with RunGroup([(cfg(seed), folder)], restart=restart) as group:
        run = group.entered[0]
        run.save_checkpoint({"epoch": 0})
        if how == "completed":
            run.complete({"test_error": 1.0})
        elif how == "diverged":
            group.mark(run, Diverged(1, "loss is nan"))
        else:
            raise Interrupted(signal.SIGTERM)


def test_sweep_restart_starts_over_only_the_broken_members(tmp_path):
    """--restart of a sweep (Restart(broken=True)): a completed member keeps every byte, a member
    that can resume resumes, and only the member whose checkpoint is broken starts over."""
    names = ["done", "resumable", "broken"]
    for k, (name, how) in enumerate(zip(names, ["completed", "interrupted", "interrupted"])):
        _end(tmp_path / name, k, how)
    (tmp_path / "broken" / "checkpoint.pt").write_bytes(b"not a checkpoint")
    done = files(tmp_path / "done")
    with pytest.raises(UsageError, match="checkpoint"):        # without --restart: refused, one line
        RunGroup(jobs(tmp_path, names)).__enter__()
    with RunGroup(jobs(tmp_path, names), restart=Restart(broken=True)) as group:
        assert [r.path.name for r, _ in group.members] == ["resumable", "broken"]
        resumable, broken = (r for r, _ in group.members)
        assert resumable.resumed_state["epoch"] == 0 and broken.resumed_state is None
        assert not (tmp_path / "broken" / "checkpoint.pt").exists()
        for run, _ in group.members:
            run.complete()
    assert files(tmp_path / "done") == done


def test_a_folder_of_another_config_is_broken_for_restart_and_a_held_folder_is_not(tmp_path):
    """Another config's run in a member's folder starts over under Restart(broken=True); a folder
    held by another process is refused (an OS reason) and its files stay."""
    _end(tmp_path / "other", 7, "completed")                    # seed 7's run where seed 0 goes
    _end(tmp_path / "held", 1, "interrupted")
    held = files(tmp_path / "held")
    with RunFolder(tmp_path / "held", cfg(1)):                 # writes summary.json and log.txt itself
        with pytest.raises(UsageError, match="in use"):
            RunGroup([(cfg(1), tmp_path / "held")], restart=Restart(broken=True)).__enter__()
        for name in ("checkpoint.pt", "metrics.csv", "config.yaml"):
            assert files(tmp_path / "held").get(name) == held.get(name), name
    with RunGroup(jobs(tmp_path, ["other"]), restart=Restart(broken=True)) as group:
        run = group.members[0][0]
        assert run.resumed_state is None and "metrics.csv" not in files(tmp_path / "other")
        run.complete()


def test_a_config_the_os_will_not_let_us_read_is_no_broken_run(tmp_path, monkeypatch):
    """A config.yaml that cannot be opened (e.g. another user's run, mode 0600) is an OS refusal:
    Restart(broken=True) names it and removes nothing."""
    import common.config
    _end(tmp_path / "theirs", 0, "interrupted")
    before = files(tmp_path / "theirs")
    real_open = open

    def refuse(path, *args, **kwargs):
        if str(path).endswith("theirs/config.yaml"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)
    monkeypatch.setattr(common.config, "open", refuse, raising=False)
    with pytest.raises(UsageError, match="cannot be read"):
        RunGroup(jobs(tmp_path, ["theirs"]), restart=Restart(broken=True)).__enter__()
    assert files(tmp_path / "theirs") == before


def test_a_diverged_run_is_final_unless_named(tmp_path):
    """A rerun leaves a diverged member out (nothing entered, every byte kept, status diverged);
    Restart naming its folder, or True for a single run, starts it over."""
    _end(tmp_path / "div", 0, "diverged")
    _end(tmp_path / "done", 1, "completed")
    before = files(tmp_path / "div")
    name_done = Restart(runs=frozenset({(tmp_path / "done").resolve()}))
    for restart, members in ((False, []), (Restart(broken=True), []), (name_done, ["done"])):
        with RunGroup(jobs(tmp_path, ["div", "done"]), restart=restart) as group:
            assert [r.path.name for r in group.already_diverged] == ["div"]
            assert [r.path.name for r, _ in group.members] == members
            for run, _ in group.members:
                run.complete()
        assert files(tmp_path / "div") == before and summary(tmp_path / "div")["status"] == "diverged"
    for restart in (Restart(runs=frozenset({(tmp_path / "div").resolve()})), True):
        with RunGroup([(cfg(0), tmp_path / "div")], restart=restart) as group:
            assert group.already_diverged == [] and group.members[0][0].resumed_state is None
            group.entered[0].complete()
        assert summary(tmp_path / "div")["status"] == "completed"
        _end(tmp_path / "div", 0, "diverged", restart=True)
