"""Mimic task of model §6 (Fig. 5) as a computation without I/O: teacher pairs, student self-prediction
phase, pre-training evaluation, task training, post-training evaluation."""
import numpy as np

from common.errors import Diverged

from .dataset import mimic_teacher_data
from .network import Microcircuits
from .protocol import (RUNAWAY, epoch_metrics, epochs_before_divergence, evaluate, named_traces,
                       record_list, run_in_sub_blocks, time_axis, train_schedule, with_flag)


def _require_alive(net, epoch, stage):
    """Diverged (the run's status) once the network's voltages ran away: no result is valid after."""
    if not net.active[0]:
        raise Diverged(epoch, f"{RUNAWAY} {stage}")


def _traces(res, c, dt):
    out = named_traces(res.traces, 0)
    return dict(out, time=time_axis(len(out["layer_run_u_tgt"]), c, dt))


def run_mimic(cfg, on_epoch_block=None, check_stop=None):
    """Whole mimic protocol. Returns a dict of arrays and metrics (see keys below).
    on_epoch_block(epoch_end, rows) is called after each block of task epochs (for logging);
    check_stop() runs between engine calls and may raise to end the task early. Raises
    common.errors.Diverged when the teacher's or the student's voltages run away."""
    nw, tr = cfg.network, cfg.training
    n, c = nw.steps_per_pattern, cfg.record_every
    params = nw.net_params()
    x, y, w_teacher = mimic_teacher_data(nw.dims, params, tr.teacher_seed, tr.n_patterns, n,
                                         nw.bias.on, nw.init_dict(), tr.engine)
    student = Microcircuits(nw.dims, [params], [tr.seed], bias_on=nw.bias.on,
                            init_weights=nw.init_dict(), engine=tr.engine)
    if tr.init_selfpred:
        student.reflect()
    rng = student.rngs[0]
    out = {"teacher_x": x, "teacher_y": y, "teacher_weights": w_teacher,
           "weights_init": student.weights(0), "engine": student.engine,
           "engine_note": student.engine_note}
    rec = record_list(cfg)

    # stage 1: self-prediction, no nudging, learning on (model §6.3)
    sp = nw.eta_selfpred
    student.set_eta(0, sp.up, sp.pi, sp.ip)
    if tr.n_epochs_selfpred > 0:
        perms = [rng.permutation(len(x)) for _ in range(tr.n_epochs_selfpred)]
        X = np.concatenate([x[p] for p in perms])[None]                      # (1, P, N0)
        T = np.concatenate([with_flag(y[p], 0) for p in perms])[None]        # (1, P, N_L + 1)
        r = run_in_sub_blocks(student, X, T, True, n, check_stop, record=rec, record_every=c)
        _require_alive(student, 0, "in the self-prediction phase")
        out["selfpred_traces"] = _traces(r, c, nw.dt)
    out["weights_post_selfpred"] = student.weights(0)       # W_up unchanged if eta_selfpred.up = 0
    eta_pi = nw.eta.pi if tr.mimic_freeze_w_pi else sp.pi                    # model Q14
    student.set_eta(0, nw.eta.up, eta_pi, nw.eta.ip)

    # pre-training evaluation on the same pairs (model §6.4)
    out["eval_pretrain"] = evaluate(student, [(x, y)], n, c, [False], check_stop)[0]
    _require_alive(student, 0, "in the evaluation before training")

    # stage 2: task training with validation blocks (model §6.5)
    sched = train_schedule(rng, x, y, x, y, tr.n_epochs, tr.n_val_samples)
    learn = (sched.T[:, -1] == 1.0)[None]
    r = run_in_sub_blocks(student, sched.X[None], sched.T[None], learn, n, check_stop, record=rec,
                          record_every=c)
    rows, bad = epochs_before_divergence(
        epoch_metrics(r.out[0], sched.T, sched.per_epoch, tr.n_val_samples, classify=False),
        r.diverged_at[0], sched.per_epoch)
    if on_epoch_block is not None:
        on_epoch_block(tr.n_epochs, rows)
    if bad is not None:
        raise Diverged(bad, RUNAWAY)
    out["val_mse"] = np.array([m for m, _ in rows])
    out["train_traces"] = _traces(r, c, nw.dt)
    out["weights_post"] = student.weights(0)
    out["eval"] = evaluate(student, [(x, y)], n, c, [False], check_stop)[0]
    _require_alive(student, tr.n_epochs, "in the final evaluation")
    return out
