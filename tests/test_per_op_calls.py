"""The per-op Python path stays short: Python function calls per op, counted by cProfile (deterministic, unlike
times), on benchmarks/overhead.py's small case (64x64 matmul + tanh, forward and backward). 207 calls per op before
the engine's fast paths, 66 after; the bound leaves room for a NumPy release, not for a slow path coming back."""
import cProfile
import pstats

import scratchnet as sn

BOUND = 90  # calls per op


def _calls_per_op(step, ops, steps=5):
    step()  # first use (imports, BLAS discovery) is not per-op cost
    prof = cProfile.Profile()
    prof.runcall(lambda: [step() for _ in range(steps)])
    return pstats.Stats(prof).total_calls / (steps * ops)


def test_small_mlp_forward_backward_calls_per_op():
    sn.manual_seed(0)
    ws = [(sn.randn(64, 64) / 8).requires_grad_() for _ in range(20)]
    x = sn.randn(64, 64)

    def step():
        h = x
        for w in ws:
            h = (h @ w).tanh()
        h.sum().backward()
        for w in ws:
            w.grad = None

    assert _calls_per_op(step, 2 * len(ws)) <= BOUND


def test_inference_ops_take_few_calls():
    # under no_grad nothing is recorded: an elementwise op with a number is promotion, the Function and the forward
    x = sn.randn(8, 8)

    def step():
        with sn.no_grad():
            y = x
            for _ in range(50):
                y = (y * 0.5 + 1.0).tanh()
    assert _calls_per_op(step, 150) <= 25
