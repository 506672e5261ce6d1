"""The engine's worked example: a two-layer MLP learns a 3-arm spiral, with its gradients checked first.

Run: python demos/mlp_worked_example.py --out out/worked_example   (writes decision_boundary.png and prints the loss)
"""
import argparse
import os
import time

import numpy
from PIL import Image

import scratchnet as sn


def spiral(n_per_class=100, classes=3, seed=0):
    rng = numpy.random.default_rng(seed)
    xs, ys = [], []
    for c in range(classes):
        r = numpy.linspace(0.05, 1, n_per_class)
        t = numpy.linspace(c * 4, (c + 1) * 4, n_per_class) + rng.normal(0, 0.2, n_per_class)
        xs.append(numpy.stack([r * numpy.sin(t), r * numpy.cos(t)], 1))
        ys.append(numpy.full(n_per_class, c))
    return numpy.concatenate(xs), numpy.concatenate(ys)


def mlp(params, x):
    w1, b1, w2, b2 = params
    h = (x @ w1 + b1).tanh()          # (N, hidden)
    return h @ w2 + b2                # (N, classes): logits


def cross_entropy(logits, y):
    """L = -mean_i log softmax(logits_i)[y_i]"""
    return -logits.log_softmax(1)[sn.arange(len(y)), y].mean()


def save_png_atomic(array, path):
    tmp = path + ".tmp.png"
    Image.fromarray(array).save(tmp)
    os.replace(tmp, path)


def decision_image(params, x, y, size=240):
    g = numpy.linspace(-1.1, 1.1, size)
    gx, gy = numpy.meshgrid(g, -g)
    with sn.no_grad():
        pred = mlp(params, sn.tensor(numpy.stack([gx.ravel(), gy.ravel()], 1))).argmax(1).numpy()
    palette = numpy.array([[250, 200, 200], [200, 235, 200], [200, 210, 250]], numpy.uint8)
    dots = numpy.array([[200, 30, 30], [30, 140, 30], [30, 60, 200]], numpy.uint8)
    img = palette[pred].reshape(size, size, 3)
    px = ((x[:, 0] + 1.1) / 2.2 * (size - 1)).astype(int)
    py = ((1.1 - x[:, 1]) / 2.2 * (size - 1)).astype(int)
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            img[numpy.clip(py + dy, 0, size - 1), numpy.clip(px + dx, 0, size - 1)] = dots[y]
    return img


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", default="out/worked_example")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None)
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    sn.manual_seed(args.seed)
    x_np, y_np = spiral(seed=args.seed)
    x, y = sn.tensor(x_np, device=args.device), sn.tensor(y_np, device=args.device)

    def init(*shape, scale):
        return (sn.randn(*shape, device=args.device) * scale).requires_grad_()
    params = [init(2, args.hidden, scale=1.0), init(args.hidden, scale=0.0),
              init(args.hidden, 3, scale=args.hidden ** -0.5), init(3, scale=0.0)]

    # 1. Check the gradients of the whole model against finite differences (float64, small batch)
    small = [sn.tensor(p_.numpy(), dtype="float64", requires_grad=True) for p_ in params]
    xs, ys = sn.tensor(x_np[:8], dtype="float64"), y[:8].cpu()
    print("gradcheck of the MLP's loss w.r.t. all 4 parameters:",
          sn.gradcheck(lambda *ps: cross_entropy(mlp(ps, xs), ys), small, max_elements=60))

    # 2. Train with plain gradient descent: p <- p - lr * dL/dp
    t0 = time.perf_counter()
    for step in range(1, args.steps + 1):
        loss = cross_entropy(mlp(params, x), y)
        for p_ in params:
            p_.grad = None
        loss.backward()
        with sn.no_grad():
            for p_ in params:
                p_.data -= args.lr * p_.grad.data
        if step % (args.steps // 5) == 0 or step == 1:
            acc = (mlp(params, x).argmax(1) == y).float().mean().item()
            print(f"step {step:5d}  loss {loss.item():.4f}  train accuracy {acc:.1%}")
    print(f"trained in {time.perf_counter() - t0:.1f} s")
    path = os.path.join(args.out, "decision_boundary.png")
    save_png_atomic(decision_image([p_.cpu() for p_ in params], x_np, y_np), path)
    print(f"wrote {path}")
    return acc


if __name__ == "__main__":
    main()
