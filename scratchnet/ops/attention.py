"""Scaled dot-product attention and the multi-head attention forward pass (PyTorch's F.scaled_dot_product_attention
and F.multi_head_attention_forward), composed of matmul, where and softmax, so they are differentiable twice.

    A = softmax(Q Kᵀ · scale + M),  out = A V
    dV = Aᵀ gy,  dA = gy Vᵀ,  dS = A ⊙ (dA − Σ_j dA ⊙ A)  (softmax's backward),  dQ = dS K · scale,  dK = dSᵀ Q · scale
"""
import math

import numpy

from .. import backend
from ..rng import random_uniform
from ..tensor import Tensor
from . import math as M
from .activation import softmax
from .errors import ShapeError
from .linalg import matmul
from .shape import broadcast_to, cat, reshape, transpose


def _dropout(a, p):
    """Inverted dropout of the attention weights: a · m/(1 − p), m ~ Bernoulli(1 − p)."""
    if p <= 0:
        return a
    if p >= 1:
        return a * 0
    keep = random_uniform(a.shape, a.dtype, a.device) >= p
    return a * Tensor((keep * (1.0 / (1 - p))).astype(a.dtype))


def _neg_inf(like):
    return Tensor(backend.get_array_module(like.data).full((), -numpy.inf, dtype=like.dtype))


def _safe_softmax(s):
    """softmax along the last dim, with rows that are wholly −inf (nothing to attend to) giving 0, not NaN (as
    PyTorch's scaled_dot_product_attention); such rows get a zero gradient."""
    xp = backend.get_array_module(s.data)
    dead = xp.isneginf(s.data).all(axis=-1, keepdims=True)
    if xp is numpy and not dead.any():   # the usual case, skipped on the CPU only (on a GPU it would be a sync)
        return softmax(s, -1)
    zero = Tensor(xp.zeros((), dtype=s.dtype))
    return M.where(dead, zero, softmax(M.where(dead, zero, s), -1))


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
    is_causal=False, scale=None, enable_gqa=False): queries (..., L, E), keys (..., S, E), values (..., S, Ev) give
    (..., L, Ev); scale defaults to 1/√E. A bool attn_mask says where attention may go (True = attend), a float one is
    added; is_causal masks j > i (and excludes attn_mask). enable_gqa repeats each key/value head for its group of query
    heads. Dropout (dropout_p) is applied to the attention weights.

    Forward:  A = softmax(Q Kᵀ·scale + M) over S,  out = A V
    Backward: dV = Aᵀ gout,  dA = gout Vᵀ,  dS = A∘(dA - sum(dA∘A, S)),  dQ = dS K·scale,  dK = dSᵀ Q·scale
    """
    q, k, v = query, key, value
    if min(q.ndim, k.ndim, v.ndim) < 2:
        raise ShapeError(f"scaled_dot_product_attention: query, key and value need at least 2 dims, got "
                         f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ShapeError(f"scaled_dot_product_attention: query {tuple(q.shape)} and key {tuple(k.shape)} must share "
                         f"the last dim, key and value {tuple(v.shape)} the sequence dim")
    if enable_gqa and q.ndim >= 3 and k.ndim >= 3 and q.shape[-3] != k.shape[-3]:
        hq, hk = q.shape[-3], k.shape[-3]
        if hq % hk or v.shape[-3] != hk:
            raise ShapeError(f"scaled_dot_product_attention: {hq} query heads cannot be grouped over {hk} key heads "
                             f"(value has {v.shape[-3]})")
        k, v = (reshape(broadcast_to(reshape(t, t.shape[:-2] + (1,) + t.shape[-2:]),
                                     t.shape[:-3] + (hk, hq // hk) + t.shape[-2:]), t.shape[:-3] + (hq,) +
                        t.shape[-2:]) for t in (k, v))
    try:
        numpy.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ShapeError(f"scaled_dot_product_attention: batch dims of query {tuple(q.shape)}, key {tuple(k.shape)} "
                         f"and value {tuple(v.shape)} do not broadcast") from None
    L, S = q.shape[-2], k.shape[-2]
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = matmul(q, transpose(k, -2, -1)) * scale
    xp = backend.get_array_module(s.data)
    if is_causal:
        if attn_mask is not None:   # PyTorch's documented rule (its fused kernels differ among themselves)
            raise ShapeError("scaled_dot_product_attention: an explicit attn_mask should not be set when "
                             "is_causal=True")
        attn_mask = Tensor(xp.tril(xp.ones((L, S), dtype=bool)))
    if attn_mask is not None:
        try:
            numpy.broadcast_shapes(attn_mask.shape, s.shape)
        except ValueError:
            raise ShapeError(f"scaled_dot_product_attention: attn_mask of shape {tuple(attn_mask.shape)} does not "
                             f"broadcast to the attention scores {tuple(s.shape)}") from None
        s = M.where(attn_mask.data, s, _neg_inf(s)) if attn_mask.dtype == bool else s + attn_mask
    a = _dropout(_safe_softmax(s), dropout_p)
    return matmul(a, v)


def _merge_masks(attn_mask, key_padding_mask, like):
    """Bool masks (True = do not attend) turned into additive float ones (−inf), as PyTorch's MHA does."""
    xp = backend.get_array_module(like.data)

    def as_float(m):
        if m is None or m.dtype != bool:
            return m
        return Tensor(xp.where(m.data, -numpy.inf, 0).astype(like.dtype))
    return as_float(attn_mask), as_float(key_padding_mask)


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
                                 bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias,
                                 training=True, key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None, k_proj_weight=None,
                                 v_proj_weight=None, static_k=None, static_v=None, average_attn_weights=True,
                                 is_causal=False):
    """multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads,
    in_proj_weight, in_proj_bias, bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias, ...), as
    PyTorch's: sequence-first (L, N, E) or unbatched (L, E) multi-head attention. Returns (output, the attention weights
    averaged over heads (or per head), or None without need_weights).

    Forward:  Q, K, V = x W_q + b_q, ...; head_h = scaled_dot_product_attention(Q_h, K_h, V_h);
              out = concat(head_1, ..., head_H) W_o + b_o
    Backward: through the same ops: the projections' gradients as linear, each head's as scaled_dot_product_attention
    """
    if static_k is not None or static_v is not None:
        raise NotImplementedError("multi_head_attention_forward: static_k/static_v are not supported")
    if query.shape[-1] != embed_dim_to_check:
        raise ShapeError(f"MultiheadAttention: query of shape {tuple(query.shape)} was expected to have "
                         f"embed_dim {embed_dim_to_check}")
    if use_separate_proj_weight:
        in_proj_weight = None
    batched = query.ndim == 3
    if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
        raise ShapeError(f"MultiheadAttention: query, key and value must all be 3-D (batched) or 2-D (unbatched), "
                         f"got {tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}")
    if not batched:
        query, key, value = (reshape(t, (t.shape[0], 1, t.shape[1])) for t in (query, key, value))
        if key_padding_mask is not None:
            key_padding_mask = Tensor(key_padding_mask.data.reshape(1, -1)) if key_padding_mask.dtype == bool else \
                reshape(key_padding_mask, (1, -1))
    L, n, e = query.shape
    h = num_heads
    hd = e // h
    if key.shape[:2] != value.shape[:2] or key.shape[1] != n:
        raise ShapeError(f"MultiheadAttention: key {tuple(key.shape)} and value {tuple(value.shape)} must match in "
                         f"length and batch, and the batch of query {tuple(query.shape)}")
    if is_causal and attn_mask is None:
        raise ShapeError("MultiheadAttention: is_causal is a hint; it needs attn_mask (the causal mask) as well")
    if in_proj_weight is not None:
        wq, wk, wv = in_proj_weight[:e], in_proj_weight[e:2 * e], in_proj_weight[2 * e:]
    else:
        wq, wk, wv = q_proj_weight, k_proj_weight, v_proj_weight
    bq, bk, bv = (None,) * 3 if in_proj_bias is None else (in_proj_bias[:e], in_proj_bias[e:2 * e],
                                                           in_proj_bias[2 * e:])

    def proj(x, w, b):
        if x.shape[-1] != w.shape[1]:
            raise ShapeError(f"MultiheadAttention: input of shape {tuple(x.shape)} does not fit a projection "
                             f"weight of shape {tuple(w.shape)}")
        y = matmul(x, transpose(w, 0, 1))
        return y if b is None else y + b
    q, k, v = proj(query, wq, bq), proj(key, wk, bk), proj(value, wv, bv)
    attn_mask, key_padding_mask = _merge_masks(attn_mask, key_padding_mask, q)
    if attn_mask is not None:
        if attn_mask.ndim == 2:
            attn_mask = reshape(attn_mask, (1,) + attn_mask.shape)
        if attn_mask.ndim != 3 or attn_mask.shape[0] not in (1, n * h) or attn_mask.shape[1] != L or \
                attn_mask.shape[2] != k.shape[0]:
            raise ShapeError(f"MultiheadAttention: attn_mask of shape {tuple(attn_mask.shape)} must be ({L}, "
                             f"{k.shape[0]}) or ({n * h}, {L}, {k.shape[0]})")
    if key_padding_mask is not None and tuple(key_padding_mask.shape) != (n, k.shape[0]):
        raise ShapeError(f"MultiheadAttention: key_padding_mask of shape {tuple(key_padding_mask.shape)} must be "
                         f"({n}, {k.shape[0]})")

    def pad_col(m):  # one more key (bias_k or the zero key): the masks gain a column of 0 (attend)
        if m is None:
            return None
        xp = backend.get_array_module(m.data)
        return cat([m, Tensor(xp.zeros(m.shape[:-1] + (1,), dtype=m.dtype))], -1)
    if bias_k is not None and bias_v is not None:
        k = cat([k, broadcast_to(bias_k, (1, n, e))], 0)
        v = cat([v, broadcast_to(bias_v, (1, n, e))], 0)
        attn_mask, key_padding_mask = pad_col(attn_mask), pad_col(key_padding_mask)
    q = transpose(reshape(q, (L, n * h, hd)), 0, 1)              # (N·H, L, hd)
    k = transpose(reshape(k, (k.shape[0], n * h, hd)), 0, 1)     # (N·H, S, hd)
    v = transpose(reshape(v, (v.shape[0], n * h, hd)), 0, 1)
    if add_zero_attn:
        xp = backend.get_array_module(k.data)
        k = cat([k, Tensor(xp.zeros((n * h, 1, hd), dtype=k.dtype))], 1)
        v = cat([v, Tensor(xp.zeros((n * h, 1, hd), dtype=v.dtype))], 1)
        attn_mask, key_padding_mask = pad_col(attn_mask), pad_col(key_padding_mask)
    s_len = k.shape[1]
    if key_padding_mask is not None:
        kpm = reshape(broadcast_to(reshape(key_padding_mask, (n, 1, 1, s_len)), (n, h, 1, s_len)), (n * h, 1, s_len))
        attn_mask = kpm if attn_mask is None else attn_mask + kpm
    p = dropout_p if training else 0.0
    if need_weights:   # the plain softmax, as PyTorch's: a wholly masked row is NaN here
        s = matmul(q * (1.0 / math.sqrt(hd)), transpose(k, 1, 2))
        if attn_mask is not None:
            s = s + attn_mask
        weights = _dropout(softmax(s, -1), p)   # PyTorch returns the weights after dropout, as used
        out = matmul(weights, v)
    else:
        mask = None if attn_mask is None else reshape(
            attn_mask, (1, 1) + attn_mask.shape[1:]) if attn_mask.shape[0] == 1 else reshape(
            attn_mask, (n, h) + attn_mask.shape[1:])
        out = reshape(scaled_dot_product_attention(reshape(q, (n, h, L, hd)), reshape(k, (n, h, s_len, hd)),
                                                   reshape(v, (n, h, s_len, hd)), mask, p), (n * h, L, hd))
        weights = None
    out = reshape(transpose(out, 0, 1), (L, n, e))               # heads joined: (L, N, E)
    out = matmul(out, transpose(out_proj_weight, 0, 1))
    if out_proj_bias is not None:
        out = out + out_proj_bias
    if weights is not None:
        weights = reshape(weights, (n, h, L, s_len))
        if average_attn_weights:
            weights = weights.mean(1)
        if not batched:
            weights = reshape(weights, weights.shape[1:])
    if not batched:
        out = reshape(out, (L, e))
    return out, weights
