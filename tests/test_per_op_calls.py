"""The per-op Python path stays short: Python function calls per op, counted by cProfile (deterministic, unlike
times), on benchmarks/overhead.py's small case (50 x (64x64 matmul + tanh), forward and backward). 207 calls per op
before the engine's fast paths, 66 after, 48 once backward formulas ran on raw arrays (autograd.formula); the bound
leaves room for a NumPy release, not for a slow path's return."""
import cProfile
import os
import pstats
import sys

import scratchnet as sn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
import overhead  # noqa: E402


def test_small_mlp_forward_backward_calls_per_op():
    total, rows = overhead.call_profile(steps=3)
    assert total <= 62, f"{total:.1f} Python calls per op; the most frequent: {rows[:8]}"


def test_inference_ops_take_few_calls():
    # under no_grad nothing is recorded: an elementwise op with a number is promotion, the Function and the forward
    x = sn.randn(8, 8, device="cpu")  # host path: the CuPy stand-in is Python, its calls would count

    def step():
        with sn.no_grad():
            y = x
            for _ in range(50):
                y = (y * 0.5 + 1.0).tanh()
    step()
    prof = cProfile.Profile()
    prof.runcall(lambda: [step() for _ in range(5)])
    assert pstats.Stats(prof).total_calls / (5 * 150) <= 25
