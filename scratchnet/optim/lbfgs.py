"""L-BFGS with an optional strong-Wolfe line search; closure API and decisions as PyTorch's (after minFunc).

The search direction is d = −H·g, where H, the inverse-Hessian estimate, is never formed: the two-loop recursion
applies it from the last m pairs s_k = x_{k+1} − x_k, y_k = g_{k+1} − g_k (with ρ_k = 1/(y_k·s_k)):
    q ← −g;  for k newest→oldest: α_k = ρ_k s_k·q,  q ← q − α_k y_k
    r ← γq (γ = s·y / y·y of the newest pair);  for k oldest→newest: β = ρ_k y_k·r,  r ← r + (α_k − β) s_k

On a GPU this optimizer syncs, by design: its decisions (the line search's Wolfe tests and interpolation, the
convergence tests, the two-loop's dot products) are taken on the host from device values, a few device->host reads
per iteration (10 for 3 strong-Wolfe iterations on a small problem, counted in tests/test_device_steps.py).
Adam (style transfer's --optimizer adam) keeps its whole step on the device.
"""
from .. import backend
from ..tensor import enable_grad, no_grad
from .optimizer import Optimizer, check_hyperparameters


def _cubic_min(x1, f1, g1, x2, f2, g2, bounds=None):
    """Minimiser of the cubic through (x1, f1, f'=g1) and (x2, f2, f'=g2), clipped to `bounds`."""
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_sq = d1 * d1 - g1 * g2
    if d2_sq < 0:
        return (lo + hi) / 2.0
    d2 = d2_sq ** 0.5
    if x1 <= x2:
        t = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        t = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(t, lo), hi)


def _strong_wolfe(evaluate, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """Find a step t with f(x + td) ≤ f + c1·t·gtd (sufficient decrease) and |g(x + td)·d| ≤ c2·|gtd| (curvature).
    Phase 1 grows t until a bracket is found; phase 2 zooms in by cubic interpolation. Returns (f, g, t, evals)."""
    xp = backend.get_array_module(d)
    d_norm = float(xp.abs(d).max())
    f_new, g_new = evaluate(t)
    evals, gtd_new = 1, float(g_new @ d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done, it = False, 0
    while it < max_ls:
        if f_new > f + c1 * t * gtd or (it > 1 and f_new >= f_prev):
            bracket = [[t_prev, f_prev, g_prev, gtd_prev], [t, f_new, g_new, gtd_new]]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, done = [[t, f_new, g_new, gtd_new]], True
            break
        if gtd_new >= 0:
            bracket = [[t_prev, f_prev, g_prev, gtd_prev], [t, f_new, g_new, gtd_new]]
            break
        t_next = _cubic_min(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(t + 0.01 * (t - t_prev), t * 10))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
        t = t_next
        f_new, g_new = evaluate(t)
        evals, gtd_new, it = evals + 1, float(g_new @ d), it + 1
    if it == max_ls:
        bracket = [[0.0, f, g, gtd], [t, f_new, g_new, gtd_new]]

    insufficient = False
    lo, hi = (0, 1) if bracket[0][1] <= bracket[-1][1] else (1, 0)
    while not done and it < max_ls:
        ta, tb = bracket[0][0], bracket[1][0]
        if abs(tb - ta) * d_norm < tolerance_change:
            break
        t = _cubic_min(ta, bracket[0][1], bracket[0][3], tb, bracket[1][1], bracket[1][3])
        top, bottom = max(ta, tb), min(ta, tb)
        eps = 0.1 * (top - bottom)
        # Stay out of the bracket's ends: if progress stalls there, step eps inside instead
        if min(top - t, t - bottom) < eps:
            if insufficient or t >= top or t <= bottom:
                t = top - eps if abs(t - top) < abs(t - bottom) else bottom + eps
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        f_new, g_new = evaluate(t)
        evals, gtd_new, it = evals + 1, float(g_new @ d), it + 1
        if f_new > f + c1 * t * gtd or f_new >= bracket[lo][1]:
            bracket[hi] = [t, f_new, g_new, gtd_new]
            lo, hi = (0, 1) if bracket[0][1] <= bracket[1][1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[hi][0] - bracket[lo][0]) >= 0:
                bracket[hi] = list(bracket[lo])
            bracket[lo] = [t, f_new, g_new, gtd_new]
    t, f_new, g_new, _ = bracket[lo]
    return f_new, g_new, t, evals


class LBFGS(Optimizer):
    """step(closure) runs up to max_iter L-BFGS iterations; closure() must zero the grads, compute the loss, call
    backward() and return the loss. line_search_fn: None (fixed step lr) or "strong_wolfe"."""

    _per_param_state = False

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None):
        check_hyperparameters("LBFGS", lr=lr, tolerance_grad=tolerance_grad, tolerance_change=tolerance_change)
        for name, v in (("max_iter", max_iter), ("history_size", history_size), ("max_eval", max_eval or 1)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"LBFGS: {name} must be a positive integer, got {v!r}")
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', got {line_search_fn!r}")
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval or max_iter * 5 // 4,
                                      tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                                      history_size=history_size, line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS supports a single parameter group")
        self._params = self.param_groups[0]["params"]

    # ---- the parameters as one flat vector ----
    def _flat_grad(self):
        xp = backend.get_array_module(self._params[0].data)
        return xp.concatenate([(p.grad.data if p.grad is not None else xp.zeros_like(p.data)).reshape(-1)
                               for p in self._params])

    def _add(self, t, d):
        offset = 0
        for p in self._params:
            n = p.data.size
            p.data += (t * d[offset:offset + n]).reshape(p.shape).astype(p.dtype, copy=False)
            offset += n

    def _get(self):
        return [p.data.copy() for p in self._params]

    def _set(self, values):
        for p, v in zip(self._params, values):
            p.data[...] = v

    @no_grad()
    def step(self, closure):
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change, history = group["tolerance_grad"], group["tolerance_change"], group["history_size"]
        xp = backend.get_array_module(self._params[0].data)

        def evaluate():
            with enable_grad():
                return float(closure())

        st = self.state.setdefault(self._params[0], {"func_evals": 0, "n_iter": 0})
        orig_loss = loss = evaluate()
        evals = 1
        st["func_evals"] += 1
        grad = self._flat_grad()
        if float(xp.abs(grad).max()) <= tol_grad:
            return orig_loss
        d, t = st.get("d"), st.get("t")
        dirs, steps, rho = st.get("old_dirs"), st.get("old_stps"), st.get("ro")
        h_diag, prev_grad, prev_loss = st.get("H_diag"), st.get("prev_flat_grad"), st.get("prev_loss")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            st["n_iter"] += 1
            if st["n_iter"] == 1:
                d, dirs, steps, rho, h_diag = -grad, [], [], [], 1.0
            else:
                y, s = grad - prev_grad, d * t
                ys = float(y @ s)
                if ys > 1e-10:  # keep only pairs with positive curvature, so H stays positive definite
                    if len(dirs) == history:
                        dirs.pop(0), steps.pop(0), rho.pop(0)
                    dirs.append(y), steps.append(s), rho.append(1.0 / ys)
                    h_diag = ys / float(y @ y)
                q, alpha = -grad, [0.0] * len(dirs)
                for i in range(len(dirs) - 1, -1, -1):
                    alpha[i] = float(steps[i] @ q) * rho[i]
                    q = q - alpha[i] * dirs[i]
                d = q * h_diag
                for i in range(len(dirs)):
                    beta = float(dirs[i] @ d) * rho[i]
                    d = d + (alpha[i] - beta) * steps[i]
            prev_grad, prev_loss = grad.copy(), loss
            t = min(1.0, 1.0 / float(xp.abs(grad).sum())) * lr if st["n_iter"] == 1 else lr
            gtd = float(grad @ d)
            if gtd > -tol_change:
                break
            if group["line_search_fn"] == "strong_wolfe":
                x0 = self._get()

                def at(step):
                    self._add(step, d)
                    f = evaluate()
                    fg = self._flat_grad()
                    self._set(x0)
                    return f, fg
                loss, grad, t, ls_evals = _strong_wolfe(at, t, d, loss, grad, gtd, max_ls=max_eval - evals)
                self._add(t, d)
                opt_cond = float(xp.abs(grad).max()) <= tol_grad
            else:
                self._add(t, d)
                ls_evals, opt_cond = 0, False
                if n_iter != max_iter:
                    loss = evaluate()
                    grad = self._flat_grad()
                    opt_cond = float(xp.abs(grad).max()) <= tol_grad
                    ls_evals = 1
            evals += ls_evals
            st["func_evals"] += ls_evals
            if n_iter == max_iter or evals >= max_eval or opt_cond:
                break
            if float(xp.abs(d * t).max()) <= tol_change or abs(loss - prev_loss) < tol_change:
                break
        st.update(d=d, t=t, old_dirs=dirs, old_stps=steps, ro=rho, H_diag=h_diag, prev_flat_grad=prev_grad,
                  prev_loss=prev_loss)
        return orig_loss
