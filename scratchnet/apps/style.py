"""The losses of neural style transfer and the image tools around them (issue 6 groundwork).

A feature map F (N, C, H, W) is read as C signals over M = H·W positions. Style lives in their correlations:
    Gram:          G = F Fᵀ / M                                     (C × C, per image)
    centred Gram:  G_c = cov(F) + α·μμᵀ,  cov(F) = (F − μ)(F − μ)ᵀ / M,  μ = mean of F over positions
                   (the plain Gram is dominated by the mean colour; centring lets texture show), then divided by
                   sqrt(diag ⊗ diag + eps) so every map counts alike ("normalised per map"; eps inside the root
                   keeps it differentiable where a map is all zero)
    style loss:    Σ_layers w_l · ‖G_l(x) − G_l(s)‖²_F / C_l²
    content loss:  ‖F_l(x) − F_l(c)‖² / (C·H·W)
    total variation: mean over pixels of (x[i+1, j] − x[i, j])² + (x[i, j+1] − x[i, j])²
All are compositions of differentiable ops, so their gradients (and gradients of gradients) come from autograd.
"""
from ..nn import functional as F
from ..models.bank import binomial_blur, pyramid  # noqa: F401  (the image tools live with the bank)


def gram_matrix(features, centered=False, mean_weight=0.1, normalize=False, eps=1e-8):
    """(N, C, H, W) -> (N, C, C): F Fᵀ / M, or cov(F) + mean_weight·μμᵀ when centered; `normalize` divides entry
    (i, j) by sqrt(G_ii·G_jj + eps)."""
    if features.ndim != 4:
        raise ValueError(f"gram_matrix: features must be (N, C, H, W), got shape {features.shape}")
    n, c, h, w = features.shape
    f = features.reshape(n, c, h * w)
    if centered:
        mu = f.mean(2, keepdim=True)                                   # (N, C, 1)
        d = f - mu
        g = d @ d.transpose(1, 2) / (h * w) + mean_weight * (mu @ mu.transpose(1, 2))
    else:
        g = f @ f.transpose(1, 2) / (h * w)
    if normalize:
        diag = (g * _eye_like(g)).sum(2)                               # (N, C)
        g = g / (diag.unsqueeze(2) * diag.unsqueeze(1) + eps).sqrt()
    return g


def _eye_like(g):
    from ..creation import eye
    return eye(g.shape[-1], dtype=g.dtype, device=g.device)


def style_loss(features, targets, weights=None, **gram_options):
    """Σ_l w_l · mean((G(F_l) − G_target_l)²) over lists of feature maps and their target Gram matrices."""
    weights = weights or [1.0] * len(features)
    if not len(features) == len(targets) == len(weights):
        raise ValueError(f"style_loss: got {len(features)} feature maps, {len(targets)} targets and "
                         f"{len(weights)} weights; they must pair up one to one")
    total = 0.0
    for f, target, w in zip(features, targets, weights):
        total = total + w * ((gram_matrix(f, **gram_options) - target) ** 2).mean()
    return total


def content_loss(features, target):
    """mean((F − F_target)²);  dF = 2(F − F_target)/size"""
    return F.mse_loss(features, target)


def total_variation(x):
    """Mean squared difference between vertically and horizontally neighbouring pixels of (N, C, H, W)."""
    dh = x[:, :, 1:, :] - x[:, :, :-1, :]
    dw = x[:, :, :, 1:] - x[:, :, :, :-1]
    return (dh * dh).mean() + (dw * dw).mean()
