"""The bars task of spec §4 for an ensemble of configs (no I/O): data, networks and schedules."""
from .dataset import bars_patterns, one_hot_targets
from .network import Microcircuits
from .protocol import train_schedule


def bars_data(cfg):
    """(x (P, 9), y (P, 3)) target potentials; train = val = test (spec Q8)."""
    t = cfg.training
    x, labels = bars_patterns(drop_last=t.bars_drop_last_pattern)
    return x, one_hot_targets(labels, cfg.network.dims[-1], t.u_tgt_high, t.u_tgt_low)


def build(cfgs):
    """Networks (reflected if init_selfpred) and their schedules; draws follow spec §1.1, §4.2."""
    net0 = cfgs[0].network
    net = Microcircuits(net0.dims, [c.network.net_params() for c in cfgs],
                        [c.training.seed for c in cfgs], bias_on=net0.bias.on,
                        init_weights=[c.network.init_dict() for c in cfgs],
                        engine=cfgs[0].training.engine)
    for k, c in enumerate(cfgs):
        if c.training.init_selfpred:
            net.reflect([k])
    scheds = []
    for k, c in enumerate(cfgs):
        x, y = bars_data(c)
        scheds.append(train_schedule(net.rngs[k], x, y, x, y, c.training.n_epochs,
                                     c.training.n_val_samples))
    return net, scheds
