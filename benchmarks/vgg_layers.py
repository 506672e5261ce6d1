"""VGG19's convolutions to conv5_1 one by one, at one image: the forward and the gradient to the input (the two
a style-loss evaluation runs through frozen weights) in scratchnet, on the route choose_route picks, and in
PyTorch, CPU time on one thread, alternated per layer, medians. `--without winograd` (or any route of
scratchnet.ops.conv.ROUTES' choice rules: winograd, shift, stack, fft) runs the same with that route's choice
turned off, the "before" of an A/B.

CPU time (time.process_time), not wall time: on a shared machine other processes move the wall clock but hardly
the CPU seconds this process spends. OPENBLAS_NUM_THREADS=1 keeps BLAS's idle threads from spinning into it.
Run: OPENBLAS_NUM_THREADS=1 python benchmarks/vgg_layers.py [--size 128] [--rounds 5] [--without winograd]
"""
import argparse
import statistics
import sys
import time

import numpy

from _harness import have, table

CONFIG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512]


def _median_ms(fns, rounds):
    """Each function called `rounds` times, the functions alternated; the median CPU milliseconds of each."""
    times = [[] for _ in fns]
    for _ in range(rounds):
        for i, f in enumerate(fns):
            t0 = time.process_time()
            f()
            times[i].append((time.process_time() - t0) * 1e3)
    return [statistics.median(t) for t in times]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--without", choices=["winograd", "shift", "stack", "fft"])
    a = p.parse_args()
    import scratchnet as sn
    from scratchnet.ops import conv
    sn.set_num_threads(1)
    if a.without:
        setattr(getattr(conv, "conv_" + a.without), "worth_it", lambda *args: False)
    torch = None
    if have("torch"):
        import torch
        torch.set_num_threads(1)
    rng, size, cin, rows, total = numpy.random.default_rng(0), a.size, 3, [], numpy.zeros(4)
    for v in CONFIG:
        if v == "M":
            size //= 2
            continue
        x = rng.standard_normal((1, cin, size, size)).astype(numpy.float32)
        w = (rng.standard_normal((v, cin, 3, 3)) / (9 * cin) ** 0.5).astype(numpy.float32)
        b, gy = numpy.zeros(v, numpy.float32), rng.standard_normal((1, v, size, size)).astype(numpy.float32)
        geom = conv.ConvGeometry(x.shape, w.shape, conv.ConvCfg((1, 1), (1, 1), (1, 1), 1))
        route = conv.choose_route(geom)
        fns = [lambda: route.forward(x, w, geom, b), lambda: route.backward_data(gy, w, geom)]
        if torch is not None:
            tx, tw, tb, tg = map(torch.from_numpy, (x, w, b, gy))
            fns += [lambda: torch.nn.functional.conv2d(tx, tw, tb, padding=1),
                    lambda: torch.ops.aten.convolution_backward(tg, tx, tw, None, [1, 1], [1, 1], [1, 1], False,
                                                                [0, 0], 1, [True, False, False])]
        ms = _median_ms(fns, a.rounds) + [float("nan")] * (4 - len(fns))
        total += ms
        rows.append([f"{cin}->{v}", f"{size}²", route.name] + [f"{t:.2f}" for t in ms] +
                    [f"{(ms[0] + ms[1]) / (ms[2] + ms[3]):.2f}x"])
        cin = v
    ratio = (total[0] + total[1]) / (total[2] + total[3])
    rows.append(["total", "", ""] + [f"{t:.1f}" for t in total] + [f"{ratio:.2f}x"])
    print(f"VGG19 convs to conv5_1 at {a.size} px, one image, 1 thread, CPU ms, median of {a.rounds} alternated rounds"
          + (f", {a.without} route off" if a.without else ""))
    print(table(["conv", "map", "route", "fwd", "dx", "torch fwd", "torch dx", "ratio"], rows))


if __name__ == "__main__":
    sys.exit(main())
