"""Small LE networks and batches shared by the fig2cde tests."""
import pytest
import torch

from fig2cde_higgs_mnist_cifar10.model.architectures import INPUT_SHAPES, N_OUT, build_le

N_STAGES = {"higgs": 4, "mnist": 6, "cifar10": 6}


def make_net(task="higgs", beta=0.1, tau=10.0, dt=0.1, eta=1.0, variant="vanilla", seed=0,
             lr_factors=None, conv_bias_lr="mean", dtype=torch.float32, voltage_form="exact"):
    torch.manual_seed(seed)
    return build_le(task, beta=beta, tau=tau, dt=dt, eta=eta,
                    lr_factors=lr_factors or [1.0] + [0.5] * (N_STAGES[task] - 1), variant=variant,
                    conv_bias_lr=conv_bias_lr, voltage_form=voltage_form, dtype=dtype)


def batch(task="higgs", B=8, seed=1, dtype=torch.float32):
    """Inputs in [0, 1] and one-hot (or 0/1) targets."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand((B,) + INPUT_SHAPES[task], generator=g, dtype=dtype)
    labels = torch.randint(0, N_OUT[task] if task != "higgs" else 2, (B,), generator=g)
    if task == "higgs":
        return x, labels.to(dtype).unsqueeze(1)
    return x, torch.nn.functional.one_hot(labels, N_OUT[task]).to(dtype)


def cosine(a, b):
    a, b = a.flatten().double(), b.flatten().double()
    return float(a @ b / (a.norm() * b.norm()))


def flat_tensors(obj, prefix=""):
    """Every tensor of a nested state (dicts, lists, tuples), by its dotted path."""
    if isinstance(obj, torch.Tensor):
        return {prefix: obj}
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, (list, tuple)) else ()
    out = {}
    for k, v in items:
        out.update(flat_tensors(v, f"{prefix}.{k}"))
    return out


@pytest.fixture
def one_math_thread():
    """An ensemble is bitwise its separate runs with one math thread; with
    several, a partial batch can differ at float32 rounding (about 3e-8), as the kernels split the work
    by the member views' strides."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
