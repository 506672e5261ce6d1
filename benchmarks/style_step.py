"""One style-transfer loss evaluation (forward + gradient to the image): scratchnet vs the same network in PyTorch
CPU (and scratchnet on CuPy when a GPU is present), at 128 and 256 px.

Networks: the random filter bank (4-level pyramid × kernels 3/5/7/9 × 64 filters, reflect padding, centred Grams on
16 maps, content on L2_k7) and VGG19 to relu5_1 (style relu1_1…relu5_1, content relu4_2, plain Grams, random
weights: speed does not depend on their values). The loss is scratchnet.apps.stylize's: relative Gram error +
relative content error + relative total variation. Each (framework, case) runs in its own process, alternated
over rounds; medians reported.
Run: python benchmarks/style_step.py [--rounds 3] [--sizes 128 256] [--threads 2] [--nets bank vgg19]
"""
import argparse
import json
import statistics
import sys

import numpy

from _harness import alternate, efficiency, have, have_gpu, sgemm_peak, table, time_fn


def _scratchnet_eval(net_name, size, device):
    import scratchnet as sn
    from scratchnet.apps.stylize import StyleLoss, feature_net
    net = feature_net(net_name, device=device)
    rng = numpy.random.default_rng(0)
    style, content, x0 = (sn.tensor(rng.random((1, 3, size, size)), dtype="float32", device=device)
                          for _ in range(3))
    loss = StyleLoss(net, style, content)
    x = x0.clone().requires_grad_(True)
    sync = (lambda: __import__("cupy").cuda.Device().synchronize()) if device == "cuda" else (lambda: None)

    def step():
        x.grad = None
        total, _ = loss(x)
        total.backward()
        sync()
    return step


def _torch_eval(net_name, size):
    import torch
    import torch.nn.functional as F
    torch.manual_seed(0)
    if net_name == "bank":
        rng = numpy.random.default_rng(0)
        weights = {}
        for k in (3, 5, 7, 9):
            w = rng.standard_normal((64, 3, k, k)) / numpy.sqrt(3 * k * k)
            weights[k] = torch.tensor(w - w.mean(axis=(1, 2, 3), keepdims=True), dtype=torch.float32)
        b = torch.tensor([1.0, 4, 6, 4, 1]) / 16

        def blur(x):
            x = F.pad(x, (2, 2, 2, 2), mode="reflect")
            x = F.conv2d(x, b.reshape(1, 1, 1, 5).repeat(3, 1, 1, 1), groups=3)
            return F.conv2d(x, b.reshape(1, 1, 5, 1).repeat(3, 1, 1, 1), groups=3)

        def feats(x):
            out, p = {}, x
            for level in range(4):
                if level:
                    p = blur(p)[:, :, ::2, ::2]
                for k, w in weights.items():
                    out[f"L{level}_k{k}"] = F.relu(F.conv2d(F.pad(p, (k // 2,) * 4, mode="reflect"), w))
            return out
        style_names, content_name, centered = [f"L{lv}_k{k}" for lv in range(4) for k in (3, 5, 7, 9)], "L2_k7", True
    else:
        cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512]
        layers, cin = [], 3
        for v in cfg:
            layers += [torch.nn.AvgPool2d(2, 2)] if v == "M" else [torch.nn.Conv2d(cin, v, 3, padding=1),
                                                                   torch.nn.ReLU()]
            cin = v if v != "M" else cin
        model = torch.nn.Sequential(*layers).requires_grad_(False)
        index = {"relu1_1": 1, "relu2_1": 6, "relu3_1": 11, "relu4_1": 20, "relu4_2": 22, "relu5_1": 29}
        mean = torch.tensor([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1)

        def feats(x):
            h, out = (x - mean) / std, {}
            for i, layer in enumerate(model):
                h = layer(h)
                out.update({n: h for n, j in index.items() if j == i})
            return out
        style_names, content_name, centered = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"], "relu4_2", False

    def gram(f):
        n, c, h, w = f.shape
        f = f.reshape(n, c, h * w)
        if centered:
            mu = f.mean(2, keepdim=True)
            d = f - mu
            return d @ d.transpose(1, 2) / (h * w) + 0.1 * (mu @ mu.transpose(1, 2))
        return f @ f.transpose(1, 2) / (h * w)

    def rel(a, b):
        return ((a - b) ** 2).sum() / ((b * b).sum() + 1e-12)

    def tv(x):
        return ((x[:, :, 1:] - x[:, :, :-1]) ** 2).mean() + ((x[:, :, :, 1:] - x[:, :, :, :-1]) ** 2).mean()

    rng = numpy.random.default_rng(0)
    style, content, x0 = (torch.tensor(rng.random((1, 3, size, size)), dtype=torch.float32) for _ in range(3))
    with torch.no_grad():
        fs, fc = feats(style), feats(content)
        targets, ctarget, tv_scale = [gram(fs[n]) for n in style_names], fc[content_name], float(tv(style))
    x = x0.clone().requires_grad_(True)

    def step():
        x.grad = None
        f = feats(x)
        s = sum(rel(gram(f[n]), t) for n, t in zip(style_names, targets)) / len(style_names)
        total = s + 0.15 * rel(f[content_name], ctarget) + 0.01 * tv(x) / tv_scale
        total.backward()
    return step


def worker(args):
    fw, net, size = args["fw"], args["net"], args["size"]
    if fw == "torch":
        import torch
        torch.set_num_threads(args["threads"])
        step = _torch_eval(net, size)
    else:
        import scratchnet as sn
        sn.set_num_threads(args["threads"])
        step = _scratchnet_eval(net, size, "cuda" if fw == "cupy" else "cpu")
    repeat = 10 if size <= 128 else 5
    print(json.dumps({"seconds": time_fn(step, warmup=2, repeat=repeat)}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--worker")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    p.add_argument("--nets", nargs="+", default=["bank", "vgg19"])
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    if a.worker:
        return worker(json.loads(a.worker))
    fws = ["scratchnet"] + (["torch"] if have("torch") else []) + (["cupy"] if have_gpu() else [])
    jobs = [dict(fw=fw, net=n, size=s, threads=a.threads) for n in a.nets for s in a.sizes for fw in fws]
    res = alternate(__file__, jobs, a.rounds, a.threads)
    med = {(j["fw"], j["net"], j["size"]): statistics.median(r["seconds"] for r in res[json.dumps(j, sort_keys=True)])
           for j in jobs}
    from scratchnet.bench import flops
    peak = sgemm_peak(a.threads)
    rows = []
    for n in a.nets:
        for s in a.sizes:
            sn_t, th_t = med[("scratchnet", n, s)], med.get(("torch", n, s))
            row = [n, s, f"{sn_t * 1000:.0f}", f"{th_t * 1000:.0f}" if th_t else "-",
                   f"{sn_t / th_t:.2f}x" if th_t else "-"]
            if "cupy" in fws:
                row += [f"{med[('cupy', n, s)] * 1000:.1f}"]
            f = flops({"name": "vgg19_style" if n == "vgg19" else f"{n}_style", "size": s})
            rows.append(row + [efficiency(f, sn_t * 1e3, peak), efficiency(f, th_t * 1e3, peak) if th_t else "-"])
    heads = ["net", "px", "scratchnet ms", "torch ms", "ratio"] + (["cupy ms"] if "cupy" in fws else []) + \
        ["scratchnet GFLOP/s (% peak)", "torch GFLOP/s (% peak)"]
    print(f"one style evaluation (forward + gradient to the image), {a.threads} thread(s), median of {a.rounds} "
          f"rounds; GFLOP/s from counted FLOPs (scratchnet/bench.py's flops()) against the measured sgemm peak, "
          f"{peak:.0f} GFLOP/s")
    print(table(heads, rows))


if __name__ == "__main__":
    sys.exit(main())
