"""The measuring side of `scratchnet bench`: builds each workload for one framework on one device and times it.

Run as `python -m scratchnet.bench_worker JOB_JSON` in a process of its own (one per framework and device, so no
two BLAS thread pools or GPU contexts share a process); prints one JSON line per workload. The PyTorch twin of this
file is benchmarks/bench_torch.py (scratchnet itself never imports a deep-learning framework); both use time_calls.
"""
import json
import sys
import time

import numpy


def time_calls(fn, repeat, warmup, timer):
    """{'cold_ms', 'ms': [...]}: the first call apart (context creation, compilation, allocation), then `warmup`
    untimed calls, then `repeat` timed ones. `timer(fn)` returns one call's milliseconds, synchronised."""
    cold = timer(fn)
    for _ in range(warmup):
        fn()
    return {"cold_ms": cold, "ms": [timer(fn) for _ in range(repeat)]}


def wall_timer(sync=lambda: None):
    def timer(fn):
        t = time.perf_counter()
        fn()
        sync()
        return (time.perf_counter() - t) * 1e3
    return timer


def cupy_event_timer(cp):
    """GPU time between two CUDA events around the call (synchronised on the end event), never bare wall clock."""
    def timer(fn):
        start, end = cp.cuda.Event(), cp.cuda.Event()
        start.record()
        fn()
        end.record()
        end.synchronize()
        return cp.cuda.get_elapsed_time(start, end)
    return timer


def _scratchnet_case(w, dev):
    import scratchnet as sn
    from scratchnet import optim
    from scratchnet.nn import functional as F
    rng = numpy.random.default_rng(0)

    def t(shape, grad=False):
        return sn.tensor(rng.standard_normal(shape).astype(numpy.float32), device=dev, requires_grad=grad)
    name = w["name"]
    if name == "cnn_step":
        from scratchnet.apps.common import train_step
        from scratchnet.models.cnn import build
        net = build("reference").to(dev)
        opt = optim.Adam(net.parameters(), lr=1e-3)
        x, y = t((w["batch"], 1, 28, 28)), sn.tensor(rng.integers(0, 10, w["batch"]), device=dev)
        return lambda: train_step(net, opt, x, y)
    if name == "dcgan_step":
        from scratchnet.apps.gan import GANRun
        run = GANRun("dcgan", conditional=True, device=dev)
        real = sn.tensor(rng.uniform(-1, 1, (w["batch"], 1, 28, 28)).astype(numpy.float32), device=dev)
        y = sn.tensor(rng.integers(0, 10, w["batch"]), device=dev)
        return lambda: run.step(real, y)
    if name == "vgg19_style":
        from scratchnet.apps.stylize import StyleLoss, feature_net
        net = feature_net("vgg19", device=dev)
        s = w["size"]
        style, content = (sn.tensor(rng.random((1, 3, s, s)).astype(numpy.float32), device=dev) for _ in range(2))
        loss = StyleLoss(net, style, content)
        x = content.clone().requires_grad_(True)

        def step():
            x.grad = None
            loss(x)[0].backward()
        return step
    if name == "matmul":
        a, b = t((w["n"], w["n"])), t((w["n"], w["n"]))
        return lambda: a @ b
    x = t(w["x"], True)
    wt = t(w["w"], True) if "w" in w else None
    c = w["x"][1]
    rm, rv, g, b = sn.zeros(c, device=dev), sn.ones(c, device=dev), t((c,), True), t((c,), True)
    fn = {"conv2d": lambda: F.conv2d(x, wt, padding=1),
          "conv_transpose2d": lambda: F.conv_transpose2d(x, wt, stride=2, padding=1),
          "max_pool2d": lambda: F.max_pool2d(x, 2),
          "batch_norm": lambda: F.batch_norm(x, rm, rv, g, b, training=True),
          "linear": lambda: F.linear(x, wt)}[name]

    def run():
        out = fn()
        out.backward(sn.ones_like(out))
    return run


def main(job):
    dev = job["device"]
    if dev.startswith("cuda"):
        from scratchnet import backend
        cp = backend.cupy()
        backend.set_default_device(dev)
        timer = cupy_event_timer(cp)
        ctx = cp.cuda.Device(int(dev.partition(":")[2] or 0))
    else:
        import contextlib
        timer, ctx = wall_timer(), contextlib.nullcontext()
    import scratchnet as sn
    with ctx:
        for w in job["workloads"]:
            sn.manual_seed(0)
            try:
                res = time_calls(_scratchnet_case(w, dev), job["repeat"], job["warmup"], timer)
            except Exception as e:  # one failing workload (e.g. out of memory) does not hide the others
                res = {"error": f"{type(e).__name__}: {e}"}
            print(json.dumps({"key": w["key"], **res}), flush=True)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
