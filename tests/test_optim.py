"""Optimizer trajectories equal PyTorch's (20 steps, float64, to 1e-9); schedules, clipping, freezing, resuming."""
import numpy
import pytest

import scratchnet as sn
from scratchnet import optim
from conftest import to_np

CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.9), weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.05, weight_decay=0.1)),
    ("AdamW", dict(lr=0.05, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.01)),
]


def _problem(lib, tensor):
    """A small non-convex loss on two parameters: sum(tanh(A x)²) + 0.1·sum(y⁴) + x·y/2 + 0.3·x² (bounded below)."""
    rng = numpy.random.default_rng(0)
    a = tensor(rng.standard_normal((4, 3)))
    x = tensor(rng.standard_normal(3), True)
    y = tensor(rng.standard_normal(3), True)

    def loss():
        return ((a @ x).tanh() ** 2).sum() + 0.1 * (y ** 4).sum() + (x * y).sum() * 0.5 + 0.3 * (x * x).sum()
    return [x, y], loss


def _run_trajectory(lib, tensor, opt_cls, kw, steps=20, closure_opt=False):
    params, loss = _problem(lib, tensor)
    opt = opt_cls(params, **kw)
    out = []
    for _ in range(steps):
        def closure():
            opt.zero_grad()
            value = loss()
            value.backward()
            return value
        if closure_opt:
            opt.step(closure)
        else:
            closure()
            opt.step()
        out.append(numpy.concatenate([to_np(p) if lib != "sn" else p.numpy() for p in params]))
    return numpy.array(out)


@pytest.mark.parametrize("name, kw", CASES)
def test_trajectory_matches_torch(torch, name, kw):
    ours = _run_trajectory("sn", lambda a, g=False: sn.tensor(a, dtype="float64", requires_grad=g),
                           getattr(optim, name), kw)
    ref = _run_trajectory("torch", lambda a, g=False: torch.tensor(a, requires_grad=g), getattr(torch.optim, name), kw)
    numpy.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("kw", [dict(lr=1, line_search_fn="strong_wolfe", max_iter=5),
                                dict(lr=0.1, max_iter=4, history_size=3)])
def test_lbfgs_trajectory_matches_torch(torch, kw):
    ours = _run_trajectory("sn", lambda a, g=False: sn.tensor(a, dtype="float64", requires_grad=g), optim.LBFGS, kw,
                           closure_opt=True)
    ref = _run_trajectory("torch", lambda a, g=False: torch.tensor(a, requires_grad=g), torch.optim.LBFGS, kw,
                          closure_opt=True)
    numpy.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9)


def test_schedulers_match_torch(torch):
    for ours_cls, ref_cls, kw in [("StepLR", "StepLR", dict(step_size=3, gamma=0.5)),
                                  ("CosineAnnealingLR", "CosineAnnealingLR", dict(T_max=7, eta_min=0.01)),
                                  ("LambdaLR", "LambdaLR", dict(lr_lambda=lambda e: 0.9 ** e))]:
        o1 = optim.SGD([sn.zeros(1, requires_grad=True)], lr=0.1)
        o2 = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        s1 = getattr(optim.lr_scheduler, ours_cls)(o1, **kw)
        s2 = getattr(torch.optim.lr_scheduler, ref_cls)(o2, **kw)
        lrs1, lrs2 = [], []
        for _ in range(12):
            o1.step(), o2.step(), s1.step(), s2.step()
            lrs1.append(s1.get_last_lr()[0]), lrs2.append(s2.get_last_lr()[0])
        numpy.testing.assert_allclose(lrs1, lrs2, rtol=1e-12)


def test_clip_grad_norm_matches_torch(torch):
    rng = numpy.random.default_rng(1)
    gs = [rng.standard_normal((3, 4)) * 5, rng.standard_normal(7)]
    ps = [sn.zeros(g.shape, dtype="float64", requires_grad=True) for g in gs]
    pt = [torch.zeros(g.shape, requires_grad=True) for g in gs]
    for p, q, g in zip(ps, pt, gs):
        p.grad, q.grad = sn.tensor(g, dtype="float64"), torch.tensor(g)
    n1 = optim.clip_grad_norm_(ps, 2.0)
    n2 = torch.nn.utils.clip_grad_norm_(pt, 2.0)
    assert abs(n1.item() - n2.item()) < 1e-9
    for p, q in zip(ps, pt):
        numpy.testing.assert_allclose(p.grad.numpy(), to_np(q.grad), rtol=1e-9)


def test_frozen_parameters_are_skipped():
    w, frozen = sn.ones(3, requires_grad=True), sn.ones(3, requires_grad=True)
    opt = optim.Adam([w, frozen], lr=0.1)
    (w * frozen).sum().backward()
    frozen.requires_grad_(False)
    opt.step()
    assert frozen.tolist() == [1, 1, 1] and w.tolist() != [1, 1, 1]


def test_state_dict_resume_continues_exactly(tmp_path):
    def fresh():
        params, loss = _problem("sn", lambda a, g=False: sn.tensor(a, dtype="float64", requires_grad=g))
        return params, loss, optim.Adam(params, lr=0.05, amsgrad=True)

    def train(params, loss, opt, n):
        for _ in range(n):
            opt.zero_grad()
            loss().backward()
            opt.step()

    p1, l1, o1 = fresh()
    train(p1, l1, o1, 10)
    p2, l2, o2 = fresh()
    train(p2, l2, o2, 5)
    sn.save({"params": p2, "opt": o2.state_dict()}, tmp_path / "ck.npz")
    p3, l3, o3 = fresh()
    ck = sn.load(tmp_path / "ck.npz")
    for p, q in zip(p3, ck["params"]):
        with sn.no_grad():
            p.copy_(q)
    o3.load_state_dict(ck["opt"])
    train(p3, l3, o3, 5)
    for a, b in zip(p1, p3):
        numpy.testing.assert_array_equal(a.numpy(), b.numpy())


def test_optimizer_errors():
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="only floating point"):
        optim.SGD([sn.tensor([1, 2])], lr=0.1)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam([sn.zeros(1, requires_grad=True)], betas=(1.0, 0.9))


@pytest.mark.parametrize("name, kw", [c for c in CASES if c[0].startswith("Adam")] +
                         [("Adam", dict(lr=0.05, maximize=True))])
@pytest.mark.parametrize("threads", [1, 2])
def test_adam_in_cache_blocks_is_the_whole_array_update(torch, monkeypatch, name, kw, threads):
    """A parameter larger than Adam's CPU block (several blocks, a partial last one, split over threads) takes
    exactly the values of the whole-array update, and follows PyTorch's trajectory."""
    from scratchnet.optim import adam
    monkeypatch.setattr(adam, "BLOCK", 64)
    rng = numpy.random.default_rng(1)
    start, grads = rng.standard_normal((5, 67)), rng.standard_normal((6, 5, 67))

    def trajectory(block):
        monkeypatch.setattr(adam, "BLOCK", block)
        p = sn.tensor(start.copy(), requires_grad=True)
        q = sn.tensor(start[0].copy(), requires_grad=True)    # a small one beside it: one block, no split
        opt = getattr(optim, name)([p, q], **kw)
        out = []
        for g in grads:
            p.grad, q.grad = sn.tensor(g), sn.tensor(g[0])
            opt.step()
            out.append(numpy.concatenate([p.numpy().ravel(), q.numpy()]))
        return numpy.array(out)
    from scratchnet import cputune
    monkeypatch.setattr(cputune, "_num_threads", threads)
    blocked, whole = trajectory(64), trajectory(10 ** 9)
    numpy.testing.assert_array_equal(blocked, whole)
    tp, tq = torch.tensor(start.copy(), requires_grad=True), torch.tensor(start[0].copy(), requires_grad=True)
    topt = getattr(torch.optim, name)([tp, tq], **kw)
    ref = []
    for g in grads:
        tp.grad, tq.grad = torch.tensor(g), torch.tensor(g[0])
        topt.step()
        ref.append(numpy.concatenate([tp.detach().numpy().ravel(), tq.detach().numpy()]))
    numpy.testing.assert_allclose(blocked, numpy.array(ref), rtol=1e-9, atol=1e-9)
