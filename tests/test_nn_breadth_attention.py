"""scaled_dot_product_attention and MultiheadAttention: values and gradients against PyTorch on random
configurations (masks, causal, scale, grouped heads, kdim/vdim, bias_kv, zero attention, batch_first, unbatched),
finite differences to second order, PyTorch's state_dict layout and initialisation, and errors."""
import numpy
import pytest
from hypothesis import given, strategies as st

import scratchnet as sn
import scratchnet.nn as nn
import scratchnet.nn.functional as F
from breadth_helpers import compare, gradchecks, on_device
from conftest import load_torch, to_np


@st.composite
def sdpa_case(draw):
    r = numpy.random.default_rng(draw(st.integers(0, 2**31)))
    batch = tuple(int(v) for v in r.integers(1, 3, draw(st.integers(0, 2))))
    L, S, E, Ev = (int(v) for v in r.integers(1, 4, 4))
    gqa = draw(st.booleans()) and len(batch) >= 1
    hk = batch[-1] if batch else 1
    qb = batch[:-1] + (hk * 2,) if gqa else batch
    q, k, v = r.standard_normal(qb + (L, E)), r.standard_normal(batch + (S, E)), r.standard_normal(batch + (S, Ev))
    mask_kind = draw(st.sampled_from([None, "bool", "float"]))
    causal = draw(st.booleans()) and mask_kind is None   # together they are an error (tested below)
    mask = None
    if mask_kind == "bool":
        mask = r.random((L, S)) > 0.3
    elif mask_kind == "float":
        mask = r.standard_normal((L, S))
    scale = draw(st.sampled_from([None, 0.3]))
    return q, k, v, mask, causal, scale, gqa


@given(case=sdpa_case())
def test_sdpa_matches_torch(case):
    t = load_torch()
    q, k, v, mask, causal, scale, gqa = case
    ms = None if mask is None else sn.tensor(mask, dtype=mask.dtype, device=sn.get_default_device())
    mt = None if mask is None else t.tensor(mask)
    compare(t, lambda a, b, c: F.scaled_dot_product_attention(a, b, c, ms, is_causal=causal, scale=scale,
                                                               enable_gqa=gqa),
            lambda a, b, c: t.nn.functional.scaled_dot_product_attention(a, b, c, mt, is_causal=causal, scale=scale,
                                                                         enable_gqa=gqa), [q, k, v])


@given(case=sdpa_case())
def test_sdpa_gradcheck_to_second_order(case):
    q, k, v, mask, causal, scale, gqa = case
    ms = None if mask is None else sn.tensor(mask, dtype=mask.dtype, device=sn.get_default_device())
    gradchecks(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, ms, is_causal=causal, scale=scale,
                                                              enable_gqa=gqa), q, k, v, max_elements=40)


def test_sdpa_rows_with_nothing_to_attend_are_zero_with_zero_gradient(torch):
    r = numpy.random.default_rng(0)
    q, k, v = r.standard_normal((2, 3, 4)), r.standard_normal((2, 5, 4)), r.standard_normal((2, 5, 4))
    mask = numpy.ones((3, 5), bool)
    mask[1] = False
    fmask = numpy.where(mask, 0.0, -numpy.inf)
    for m in (mask, fmask):
        ms = sn.tensor(m, dtype=m.dtype, device=sn.get_default_device())
        compare(torch, lambda a, b, c: F.scaled_dot_product_attention(a, b, c, ms),
                lambda a, b, c: torch.nn.functional.scaled_dot_product_attention(a, b, c, torch.tensor(m)),
                [q, k, v])


def test_sdpa_dropout_one_drops_everything_and_zero_keeps_it():
    q = on_device(numpy.ones((2, 3, 4)))
    y = F.scaled_dot_product_attention(q, q, q, dropout_p=1.0)
    assert numpy.all(to_np(y) == 0)
    y = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5)
    vals = numpy.unique(numpy.round(to_np(y), 6))   # each weight 1/3 kept as 2/3 or dropped: sums of those
    assert set(vals) <= {0.0, round(2 / 3, 6), round(4 / 3, 6), 2.0}


@st.composite
def mha_case(draw):
    e_heads = draw(st.sampled_from([(4, 1), (4, 2), (6, 3)]))
    kw = dict(bias=draw(st.booleans()), add_bias_kv=draw(st.booleans()), add_zero_attn=draw(st.booleans()),
              batch_first=draw(st.booleans()))
    if draw(st.booleans()):
        kw["kdim"], kw["vdim"] = draw(st.integers(2, 5)), draw(st.integers(2, 5))
    fwd = dict(need_weights=draw(st.booleans()), average_attn_weights=draw(st.booleans()))
    return e_heads, kw, fwd, draw(st.booleans()), draw(st.sampled_from([None, "bool", "float"])), \
        draw(st.sampled_from([None, "bool", "float", "bool3d"])), draw(st.integers(0, 2**31))


@given(case=mha_case())
def test_multihead_attention_matches_torch(case):
    t = load_torch()
    (e, h), kw, fwd, batched, kpm_kind, mask_kind, seed = case
    r = numpy.random.default_rng(seed)
    mt = t.nn.MultiheadAttention(e, h, **kw)
    sd = {k: t.tensor(r.standard_normal(tuple(v.shape)) * 0.5) for k, v in mt.state_dict().items()}
    mt.load_state_dict(sd)
    ms = nn.MultiheadAttention(e, h, **kw).double()
    ms.load_state_dict({k: sn.tensor(to_np(v), dtype="float64") for k, v in sd.items()})
    ms.to(sn.get_default_device())
    n, L, S = 2, 3, 4
    seq = lambda m, d: ((n, m, d) if kw["batch_first"] else (m, n, d)) if batched else (m, d)  # noqa: E731
    q = r.standard_normal(seq(L, e))
    k, v = r.standard_normal(seq(S, kw.get("kdim", e))), r.standard_normal(seq(S, kw.get("vdim", e)))
    s_len = S

    def masks(lib):
        out = {}
        if kpm_kind:   # never a wholly masked row: PyTorch's need_weights path gives NaN there, like ours
            m = r.random((n, s_len) if batched else (s_len,)) > 0.5
            m[..., 0] = False
            out["key_padding_mask"] = m if kpm_kind == "bool" else numpy.where(m, -1.5, 0.0)
        if mask_kind:
            m = r.random((L, s_len) if mask_kind != "bool3d" else (n * h if batched else h, L, s_len)) > 0.5
            m[..., 0] = False
            out["attn_mask"] = m if mask_kind != "float" else r.standard_normal((L, s_len))
        return out
    state = r.bit_generator.state
    ms_masks = {key: sn.tensor(val, dtype=val.dtype, device=sn.get_default_device()) for key, val in masks(sn).items()}
    r.bit_generator.state = state
    mt_masks = {key: t.tensor(val) for key, val in masks(t).items()}
    compare(t, lambda a, b, c: ms(a, b, c, **ms_masks, **fwd) if fwd["need_weights"] else ms(a, b, c, **ms_masks,
                                                                                              **fwd)[0],
            lambda a, b, c: mt(a, b, c, **mt_masks, **fwd) if fwd["need_weights"] else mt(a, b, c, **mt_masks,
                                                                                          **fwd)[0], [q, k, v])
    for name, p in mt.named_parameters():   # parameter gradients too
        numpy.testing.assert_allclose(to_np(dict(ms.named_parameters())[name].grad), to_np(p.grad), rtol=1e-7,
                                      atol=1e-9, err_msg=name)


def test_multihead_attention_gradcheck_to_second_order():
    r = numpy.random.default_rng(0)
    m = nn.MultiheadAttention(4, 2, add_bias_kv=True).double().to(sn.get_default_device())
    x = r.standard_normal((3, 2, 4))
    gradchecks(lambda a: m(a, a, a)[0], x, max_elements=40)


def test_multihead_attention_state_dict_and_init_as_torch(torch):
    for kw in ({}, dict(kdim=3, vdim=5, add_bias_kv=True), dict(bias=False)):
        ms, mt = nn.MultiheadAttention(6, 2, **kw), torch.nn.MultiheadAttention(6, 2, **kw)
        assert [(k, tuple(v.shape)) for k, v in ms.state_dict().items()] == \
            [(k, tuple(v.shape)) for k, v in mt.state_dict().items()]
        w = ms.in_proj_weight if ms.in_proj_weight is not None else ms.q_proj_weight
        bound = numpy.sqrt(6 / sum(w.shape))
        assert numpy.abs(to_np(w)).max() <= bound and numpy.abs(to_np(w)).max() > bound / 2
        if kw.get("bias", True):
            assert numpy.all(to_np(ms.in_proj_bias) == 0) and numpy.all(to_np(ms.out_proj.bias) == 0)


def test_attention_errors():
    x = sn.randn(2, 3, 4)
    for call, msg in [(lambda: F.scaled_dot_product_attention(x, sn.randn(2, 3, 5), x), "share the last dim"),
                      (lambda: F.scaled_dot_product_attention(x, x, x, attn_mask=sn.ones(4, 4, dtype="bool")),
                       "attn_mask"),
                      (lambda: nn.MultiheadAttention(4, 2)(x, x, x, attn_mask=sn.zeros(3, 3)), "attn_mask"),  # L=S=2
                      (lambda: F.scaled_dot_product_attention(x, x, x, sn.zeros(3, 3), is_causal=True), "is_causal"),
                      (lambda: nn.MultiheadAttention(4, 2)(x, x, x, is_causal=True), "is_causal"),
                      (lambda: nn.MultiheadAttention(4, 2)(x, sn.randn(2, 3, 3), sn.randn(2, 3, 3)), "projection")]:
        with pytest.raises(RuntimeError, match=msg):
            call()
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiheadAttention(5, 2)


def test_a_view_of_a_view_of_a_parameter_changed_in_place_before_the_forward_backpropagates():
    """MultiheadAttention slices its packed in_proj_weight (initialised in place, so at version 1) and transposes
    the slice: the graph's data-less edge for the slice must share its version counter, or backward sees 0 != 1."""
    w = sn.nn.Parameter(sn.zeros(4, 3).data)
    with sn.no_grad():
        w.uniform_(-1, 1)
    assert w._version == 1
    (w[:2].T * 2).sum().backward()
    numpy.testing.assert_array_equal(to_np(w.grad), [[2.0] * 3] * 2 + [[0.0] * 3] * 2)


def test_functional_multi_head_attention_forward_takes_torchs_positional_arguments(torch):
    mt = torch.nn.MultiheadAttention(4, 2)
    ws = [on_device(to_np(p), False) for p in (mt.in_proj_weight, mt.in_proj_bias, mt.out_proj.weight,
                                                mt.out_proj.bias)]
    x = numpy.random.default_rng(0).standard_normal((3, 2, 4))
    compare(torch, lambda a: F.multi_head_attention_forward(a, a, a, 4, 2, ws[0], ws[1], None, None, False, 0.0,
                                                            ws[2], ws[3]),
            lambda a: torch.nn.functional.multi_head_attention_forward(
                a, a, a, 4, 2, mt.in_proj_weight, mt.in_proj_bias, None, None, False, 0.0, mt.out_proj.weight,
                mt.out_proj.bias), [x])


def test_multihead_attention_returns_the_weights_dropout_was_applied_to():
    sn.manual_seed(0)
    m = nn.MultiheadAttention(4, 1, dropout=0.5).double().to(sn.get_default_device())
    x = on_device(numpy.random.default_rng(0).standard_normal((5, 1, 4)), False)
    out, w = m(x, x, x)
    vals = to_np(w)
    assert (vals == 0).any() and not numpy.allclose(vals.sum(-1), 1)   # dropped and rescaled, as PyTorch returns
    m.eval()
    numpy.testing.assert_allclose(to_np(m(x, x, x)[1]).sum(-1), 1)
