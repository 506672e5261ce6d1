"""The PyTorch side of `scratchnet bench` (scratchnet/bench.py): the same workloads as scratchnet/bench_worker.py,
built with torch on "cpu" or "cuda", timed the same way (CUDA events on the GPU). Run by the bench command in a
process of its own: python benchmarks/bench_torch.py JOB_JSON -> one JSON line per workload."""
import json
import os
import sys

import numpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from scratchnet.bench_worker import time_calls, wall_timer  # noqa: E402


def _vgg_style(torch, size, dev):
    F = torch.nn.functional
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512]
    layers, cin = [], 3
    for v in cfg:
        layers += [torch.nn.AvgPool2d(2, 2)] if v == "M" else [torch.nn.Conv2d(cin, v, 3, padding=1), torch.nn.ReLU()]
        cin = v if v != "M" else cin
    model = torch.nn.Sequential(*layers).requires_grad_(False).to(dev)
    index = {"relu1_1": 1, "relu2_1": 6, "relu3_1": 11, "relu4_1": 20, "relu4_2": 22, "relu5_1": 29}
    mean = torch.tensor([0.485, 0.456, 0.406], device=dev).reshape(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], device=dev).reshape(1, 3, 1, 1)
    names = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]

    def feats(x):
        h, out = (x - mean) / std, {}
        for i, layer in enumerate(model):
            h = layer(h)
            out.update({n: h for n, j in index.items() if j == i})
        return out

    def gram(f):
        n, c, h, w = f.shape
        f = f.reshape(n, c, h * w)
        return f @ f.transpose(1, 2) / (h * w)

    def rel(a, b):
        return ((a - b) ** 2).sum() / ((b * b).sum() + 1e-12)

    def tv(x):
        return ((x[:, :, 1:] - x[:, :, :-1]) ** 2).mean() + ((x[:, :, :, 1:] - x[:, :, :, :-1]) ** 2).mean()
    rng = numpy.random.default_rng(0)
    style, content = (torch.tensor(rng.random((1, 3, size, size)), dtype=torch.float32, device=dev) for _ in range(2))
    with torch.no_grad():
        fs, fc = feats(style), feats(content)
        targets, ctarget, tv_scale = [gram(fs[n]) for n in names], fc["relu4_2"], float(tv(style))
    x = content.clone().requires_grad_(True)

    def step():
        x.grad = None
        f = feats(x)
        s = sum(rel(gram(f[n]), t) for n, t in zip(names, targets)) / len(names)
        (s + 0.15 * rel(f["relu4_2"], ctarget) + 0.01 * tv(x) / tv_scale).backward()
    return step


def _case(torch, w, dev):
    F, nn = torch.nn.functional, torch.nn
    rng = numpy.random.default_rng(0)

    def t(shape, grad=False):
        return torch.tensor(rng.standard_normal(shape), dtype=torch.float32, device=dev, requires_grad=grad)
    name = w["name"]
    if name == "cnn_step":
        net = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                            nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10)).to(dev)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        x, y = t((w["batch"], 1, 28, 28)), torch.tensor(rng.integers(0, 10, w["batch"]), device=dev)

        def step():
            loss = F.cross_entropy(net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return step
    if name == "dcgan_step":
        from gan_twin import Z, _torch_models
        g, d = (m.to(dev) for m in _torch_models(torch))
        og = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999))
        od = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))
        bce = F.binary_cross_entropy_with_logits
        real = torch.tensor(rng.uniform(-1, 1, (w["batch"], 1, 28, 28)), dtype=torch.float32, device=dev)
        lab = torch.tensor(rng.integers(0, 10, w["batch"]), device=dev)

        def step():   # scratchnet's GANRun.step: D update, then G update with the mode-seeking term (weight 0.1)
            n = len(lab)
            fake = g(torch.randn(n, Z, device=dev), lab).detach()
            dr, df = d(real, lab), d(fake, lab)
            ld = bce(dr, torch.ones_like(dr)) + bce(df, torch.zeros_like(df))
            od.zero_grad(), ld.backward(), od.step()
            h = n // 2
            lab2, z = torch.cat([lab[:h], lab[:h]]), torch.randn(2 * h, Z, device=dev)
            fake = g(z, lab2)
            df = d(fake, lab2)
            ms = (fake[:h] - fake[h:]).abs().mean() / (z[:h] - z[h:]).abs().mean()
            lg = bce(df, torch.ones_like(df)) + 0.1 / (ms + 1e-5)
            og.zero_grad(), lg.backward(), og.step()
        return step
    if name == "vgg19_style":
        return _vgg_style(torch, w["size"], dev)
    if name == "matmul":
        a, b = t((w["n"], w["n"])), t((w["n"], w["n"]))
        return lambda: a @ b
    x = t(w["x"], True)
    wt = t(w["w"], True) if "w" in w else None
    c = w["x"][1]
    rm, rv = torch.zeros(c, device=dev), torch.ones(c, device=dev)
    g, b = t((c,), True), t((c,), True)
    fn = {"conv2d": lambda: F.conv2d(x, wt, padding=1),
          "conv_transpose2d": lambda: F.conv_transpose2d(x, wt, stride=2, padding=1),
          "max_pool2d": lambda: F.max_pool2d(x, 2),
          "batch_norm": lambda: F.batch_norm(x, rm, rv, g, b, training=True),
          "linear": lambda: F.linear(x, wt)}[name]

    def run():
        out = fn()
        out.backward(torch.ones_like(out))
    return run


def main(job):
    import torch
    dev = job["device"]
    torch.set_num_threads(job["threads"])
    if dev.startswith("cuda"):
        def timer(fn):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end)
    else:
        timer = wall_timer()
    for w in job["workloads"]:
        torch.manual_seed(0)
        try:
            res = time_calls(_case(torch, w, dev), job["repeat"], job["warmup"], timer)
        except Exception as e:
            res = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps({"key": w["key"], **res}), flush=True)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
