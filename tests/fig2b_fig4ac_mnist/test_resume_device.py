"""A network state saved on one device type resumed on another (a CPU Mersenne-Twister noise state
cannot load into a CUDA Philox generator, and back): a noiseless network continues exactly, a noisy
one stops with one line. Tested on the CPU with a state recorded as written on CUDA."""
import pytest
import torch

from common.errors import UsageError
from fig2b_fig4ac_mnist.src.network import LENetwork
from tests.fig2b_fig4ac_mnist.helpers import batch, make_cfg


def _net(**over):
    return LENetwork(make_cfg(**over), device="cpu", dtype=torch.float32)


def test_member_state_records_the_device_of_its_noise_stream():
    assert _net().member_state(0)["gen_device"] == "cpu"


def test_noiseless_network_resumes_from_a_cuda_state_exactly():
    """Without noise the stream is never drawn from: the resumed network continues the trajectory of
    the uninterrupted one bitwise (its own generator stays as it is)."""
    x, y = batch(8, dtype=torch.float32)
    run, resumed = _net(), _net()
    run.present(x, y, 5, train=True)
    state = run.member_state(0)
    state["gen"] = torch.zeros(16, dtype=torch.uint8)  # what a CUDA generator's get_state() returns
    state["gen_device"] = "cuda"
    resumed.set_member_state(0, state)
    assert torch.equal(run.present(x, y, 5, train=True), resumed.present(x, y, 5, train=True))


def test_noisy_network_from_a_cuda_state_stops_with_one_line():
    run = _net(noise_width=0.2)
    x, y = batch(8, dtype=torch.float32)
    run.present(x, y, 2, train=True)
    state = run.member_state(0)
    state["gen_device"] = "cuda"
    with pytest.raises(UsageError) as err:
        _net(noise_width=0.2).set_member_state(0, state)
    msg = str(err.value)
    assert "\n" not in msg and "cuda" in msg and "device=cuda" in msg and "--restart" in msg
