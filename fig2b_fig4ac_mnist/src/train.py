"""Train and evaluate the continuous-time LE network (Fig. 2b, 4a, 4c).

python fig2b_fig4ac_mnist/src/train.py CONFIG.yaml [key=value ...] [--out DIR] [--restart]
"""
import sys

import torch

from common.cli import entry_point, parse_entry_args
from common.device import resolve_device
from common.divergence import check_finite
from common.runfolder import RunFolder, default_run_dir
from common.seeding import get_rng_state, seed_everything, set_rng_state
from fig2b_fig4ac_mnist.src.config import Config
from fig2b_fig4ac_mnist.src.data import load_splits
from fig2b_fig4ac_mnist.src.network import LENetwork
from fig2b_fig4ac_mnist.src.paths import FOLDER
from fig2b_fig4ac_mnist.src.schedule import adapt_tau, evaluate, train_pass

DTYPES = {"float32": torch.float32, "float64": torch.float64}


@entry_point
def main(argv=None):
    cfg, args = parse_entry_args(Config, argv, description=__doc__)
    out = args.out or default_run_dir(FOLDER, args.config, cfg.seed)
    device, dtype = resolve_device(cfg.device), DTYPES[cfg.dtype]
    with RunFolder(out, cfg, restart=args.restart) as run:
        if run.already_completed:
            return 0
        train, val, test = load_splits(cfg, device, dtype)
        stream_seed = cfg.seed if cfg.reseed_after_init is None else cfg.reseed_after_init
        net = LENetwork(cfg, device=device, dtype=dtype, noise_seed=stream_seed)
        seed_everything(stream_seed)  # spec Q7: every seed shares the noise stream of seed 7
        order_gen = torch.Generator()
        order_gen.manual_seed(stream_seed)

        def hook(n_steps):
            run.add_steps(n_steps)
            run.check_stop()

        state = run.resumed_state
        if state is not None:
            net.load_state_dict(state["net"])
            order_gen.set_state(state["order_gen"])
            set_rng_state(state["rng"])
            start = state["epoch"] + 1
        else:
            start = 0
            if cfg.adapt_tau:
                passes = adapt_tau(net, val, cfg, hook)
                print(f"tau_m adapted with {passes} validation passes per layer")
        last = cfg.epoch_qty - 1
        print(f"{out}: {len(train.x)} train / {len(val.x)} val / {len(test.x)} test images, device {device}")
        for epoch in range(start, cfg.epoch_qty):
            if epoch > 0:  # epoch 0 is evaluation only (spec Q9)
                train_pass(net, train, cfg, order_gen, epoch, hook)
            loss, error, accuracy, _ = evaluate(net, val, cfg, hook=hook)
            check_finite(epoch, val_loss=loss, **{f"W{l + 1}": w for l, w in enumerate(net.W)})
            run.log_metrics(epoch=epoch, split="val", loss=loss, error=error, accuracy=accuracy)
            print(f"epoch {epoch}: val_error {error:.2f}% val_loss {loss:.4f}")
            final = None
            if epoch == last:
                t_loss, t_error, t_accuracy, _ = evaluate(net, test, cfg, hook=hook)
                check_finite(epoch, test_loss=t_loss)
                run.log_metrics(epoch=epoch, split="test", loss=t_loss, error=t_error, accuracy=t_accuracy)
                print(f"test_error {t_error:.2f}% test_loss {t_loss:.4f}")
                final = {"test_error": t_error, "test_loss": t_loss, "test_accuracy": t_accuracy,
                         "val_error": error, "val_loss": loss, "result": t_accuracy / 100.0}
            run.save_checkpoint({"epoch": epoch, "net": net.state_dict(), "order_gen": order_gen.get_state(),
                                 "rng": get_rng_state()})
            if final is not None:
                run.complete(final)
    return run.exit_code


if __name__ == "__main__":
    sys.exit(main())
