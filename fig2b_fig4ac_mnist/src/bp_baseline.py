"""Backprop MLP equivalent to an LE config: same architecture, init, batches; SGD on 1/2 ||y - r||^2.

Per-batch learning rate of layer l: learning_rate * lr_multiplier * f_l * beta (= 16 f_l beta), the
total update LE applies over one presentation when e_L -> beta (y - r) (model §1.6, T3).

With --substeps K each batch gets K SGD steps of rate 16 f_l beta / K, each with a fresh error: the
discrete counterpart of LE's n_updates small updates per presentation (K = n_updates).

python fig2b_fig4ac_mnist/src/bp_baseline.py CONFIG.yaml [key=value ...] [--out DIR] [--restart] [--substeps K]
"""
import sys

import torch

from common.cli import entry_parser, entry_point, parse_entry_args
from common.device import resolve_device
from common.divergence import check_finite
from common.errors import UsageError
from common.runfolder import RunFolder, default_run_dir
from fig2b_fig4ac_mnist.src.config import DTYPES, Config
from fig2b_fig4ac_mnist.src.data import batch_order, load_splits
from fig2b_fig4ac_mnist.src.network import LENetwork
from fig2b_fig4ac_mnist.src.paths import FOLDER


class MLP:
    """Hard-sigmoid hidden layers, linear output; W_l is n_{l-1} x n_l as in the LE network."""

    def __init__(self, W, b, lr):
        self.W, self.b, self.lr = [w.clone() for w in W], [v.clone() for v in b], lr

    def forward(self, x):
        """Activations h_0 = x, ..., h_L and pre-activations a_1 .. a_L."""
        h, a = [x], []
        for l, (W, b) in enumerate(zip(self.W, self.b)):
            a.append(torch.addmm(b, h[-1], W))  # B x n_l
            h.append(a[-1] if l == len(self.W) - 1 else a[-1].clamp(0.0, 1.0))
        return h, a

    def sgd_step(self, x, y):
        h, a = self.forward(x)
        delta = y - h[-1]  # B x n_L, minus dLoss/dr
        for l in range(len(self.W) - 1, -1, -1):
            below = None
            if l > 0:
                phi = ((a[l - 1] >= 0) & (a[l - 1] <= 1)).to(x.dtype)  # B x n_{l-1}
                below = (delta @ self.W[l].t()) * phi
            c = self.lr[l] / x.shape[0]
            self.W[l].addmm_(h[l].t(), delta, alpha=c)
            self.b[l].add_(delta.sum(0), alpha=c)
            delta = below


def on_device(tensors, device, dtype):
    """Checkpoint tensors, which load on the CPU (common/checkpoint.py), on the run's device: a run
    resumes on a GPU from a checkpoint written on the CPU and the other way round."""
    return [t.to(device, dtype) for t in tensors]


def evaluate(mlp, split, cfg):
    """(loss, error %, accuracy %, n scored) as the LE runs score them."""
    sq, correct, n = 0.0, 0, 0
    for idx in batch_order(len(split.x), cfg.batch_size, False, None, cfg.eval_drop_last):
        out, y = mlp.forward(split.x[idx])[0][-1], split.y[idx]
        sq += float(((out - y) ** 2).sum(dtype=torch.float64))
        correct += int((out.argmax(1) == y.argmax(1)).sum())
        n += len(idx)
    accuracy = 100.0 * correct / n
    return sq / n, 100.0 - accuracy, accuracy, n


@entry_point
def main(argv=None):
    parser = entry_parser(__doc__)
    parser.add_argument("--substeps", type=int, default=1, help="SGD steps per batch (rate divided by it)")
    cfg, args = parse_entry_args(Config, argv, parser=parser)
    if args.substeps < 1:
        raise UsageError("--substeps must be >= 1")
    name = "bp_" + args.config.stem + (f"_sub{args.substeps}" if args.substeps > 1 else "")
    out = args.out or default_run_dir(FOLDER, name, cfg.seed)
    device, dtype = resolve_device(cfg.device), DTYPES[cfg.dtype]
    train, val, test = load_splits(cfg, device, dtype)  # before the run folder: bad data leaves none behind
    with RunFolder(out, cfg, restart=args.restart) as run:
        if run.already_completed:
            return 0
        net = LENetwork(cfg, device=device, dtype=dtype)  # the same initial W, b as the LE run
        lam_m = cfg.learning_rate * cfg.lr_multiplier
        mlp = MLP([w[0] for w in net.W], [v[0, 0] for v in net.b],
                  [lam_m * f * cfg.beta / args.substeps for f in cfg.lr_factors])
        run.update_summary(substeps=args.substeps, dataset=cfg.dataset)
        order_gen = torch.Generator()
        order_gen.manual_seed(cfg.seed if cfg.reseed_after_init is None else cfg.reseed_after_init)
        start = 0
        if run.resumed_state is not None:
            s = run.resumed_state
            mlp.W, mlp.b = on_device(s["W"], device, dtype), on_device(s["b"], device, dtype)
            start = s["epoch"] + 1
            order_gen.set_state(s["order_gen"])
        for epoch in range(start, cfg.epoch_qty):
            if epoch > 0:
                for idx in batch_order(len(train.x), cfg.batch_size, cfg.shuffle, order_gen):
                    x, y = train.x[idx], train.y[idx]
                    for _ in range(args.substeps):
                        mlp.sgd_step(x, y)
                    run.add_steps(args.substeps)
                    run.check_stop()
            loss, error, accuracy, n = evaluate(mlp, val, cfg)
            check_finite(epoch, val_loss=loss)
            run.log_metrics(epoch=epoch, split="val", loss=loss, error=error, accuracy=accuracy, n_scored=n)
            print(f"epoch {epoch}: val_error {error:.2f}% val_loss {loss:.4f} (scored {n} of {len(val.x)})")
            final = None
            if epoch == cfg.epoch_qty - 1:
                t_loss, t_error, t_accuracy, t_n = evaluate(mlp, test, cfg)
                check_finite(epoch, test_loss=t_loss)
                run.log_metrics(epoch=epoch, split="test", loss=t_loss, error=t_error, accuracy=t_accuracy,
                                n_scored=t_n)
                print(f"test_error {t_error:.2f}% test_loss {t_loss:.4f} (scored {t_n} of {len(test.x)})")
                final = {"test_error": t_error, "test_accuracy": t_accuracy, "test_loss": t_loss,
                         "val_error": error, "val_accuracy": accuracy, "val_loss": loss,
                         "n_scored": t_n, "val_n_scored": n, "result": t_accuracy / 100.0}
            run.save_checkpoint({"epoch": epoch, "W": mlp.W, "b": mlp.b, "order_gen": order_gen.get_state()},
                                final=final)  # final: the rerun completes a run killed right after
    return run.exit_code


if __name__ == "__main__":
    sys.exit(main())
