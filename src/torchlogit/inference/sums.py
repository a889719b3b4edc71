"""One pass over the data for inference: log-likelihood, information, score outer products, AMEs.

Everything is accumulated in float64 on the estimator's device, block by block, whatever the dtype
of the data (float32 blocks are converted one at a time, so memory stays bounded).

Parametrisation (what the information matrix is over)
-----------------------------------------------------
* binomial: ``θ = (β_1 .. β_d, β_0)`` (intercept last, as everywhere inside torchlogit);
* multinomial: one block of ``p = d + fit_intercept`` coefficients per *non-reference* class,
  ``θ_k = W_k − W_ref`` (statsmodels ``MNLogit``'s parametrisation, identifiable), blocks in class
  order. The estimator keeps K centred rows; the softmax is unchanged by the shift, so the
  likelihood, the information and the marginal effects are computed from ``W`` directly.

Sample weights are *frequency* weights: every sum is what an unweighted fit on rows repeated
``sᵢ`` times would give (the score outer products carry ``sᵢ``, not ``sᵢ²``).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor
from torch.nn import functional as F

_F64 = torch.float64


@dataclass
class InferenceSums:
    """Sums over rows at fixed coefficients (float64 numpy arrays on the host)."""

    loglik: float
    information: np.ndarray  # (P, P), P = n_params, minus the Hessian of the log-likelihood
    meat: np.ndarray | None  # (P, P): Σ sᵢ gᵢgᵢᵀ (HC) or Σ_g G_g G_gᵀ (cluster); None if nonrobust
    n_groups: int
    weight_sum: float
    class_weights: np.ndarray  # (K,) Σ sᵢ per class (for the null model)
    max_abs_score: float
    ame: np.ndarray  # binomial (d,), multinomial (K, d): average dP/dx
    ame_jacobian: np.ndarray  # (n_ame, P): derivative of ame.ravel() with respect to θ


def _design_blocks(
    X: np.ndarray | sp.csr_matrix, block_rows: int, fit_intercept: bool, device: torch.device,
) -> Iterator[tuple[int, Tensor]]:
    """Float64 row blocks ``X̃ = [X, 1]`` on ``device``, written into one reused buffer.

    The copy converts float32 data to float64 and appends the intercept column in one go, without
    allocating per block; the yielded tensor is only valid until the next block.
    """
    n, d = X.shape
    dense = None
    if not sp.issparse(X):
        with warnings.catch_warnings():  # a read-only array: we only read from the view
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            dense = torch.from_numpy(np.ascontiguousarray(X))
    buffer = torch.empty(min(block_rows, max(n, 1)), d + int(fit_intercept), dtype=_F64, device=device)
    if fit_intercept:
        buffer[:, d] = 1.0
    for start in range(0, n, block_rows):
        stop = min(start + block_rows, n)
        block = torch.from_numpy(X[start:stop].toarray()) if dense is None else dense[start:stop]
        out = buffer[: stop - start]
        out[:, :d].copy_(block)
        yield start, out


def _gram(out: Tensor, Xt: Tensor, h: Tensor, nonnegative: bool) -> None:
    """``out += X̃ᵀ diag(h) X̃`` (the square-root form is faster and exactly symmetric)."""
    if nonnegative:
        Xs = Xt * h.sqrt()[:, None]
        out.addmm_(Xs.T, Xs)
    else:
        out.addmm_(Xt.T, Xt * h[:, None])


@dataclass(frozen=True)
class SumsLayout:
    """What one inference pass accumulates, and where.

    Attributes
    ----------
    n_classes : number of classes (2: binomial)
    fit_intercept : whether ``coef`` ends with an intercept column
    device : where the sums are accumulated (float64)
    meat : None, 'hc' (Σ sᵢ gᵢgᵢᵀ) or 'cluster' (Σ_g G_g G_gᵀ, needs ``groups``)
    block_rows : rows per block; None: 4096 on the CPU (cache-friendly Gram products), 262144 on CUDA
    """

    n_classes: int
    fit_intercept: bool
    device: torch.device
    meat: str | None = None
    block_rows: int | None = None


def inference_sums(
    X: np.ndarray | sp.csr_matrix, y: np.ndarray, sample_weight: np.ndarray, coef: np.ndarray,
    layout: SumsLayout, groups: np.ndarray | None = None,
) -> InferenceSums:
    """Accumulate everything inference needs in one pass.

    Parameters
    ----------
    X : (n, d) dense array (float32/64) or CSR matrix
    y : (n,) class indices
    sample_weight : (n,) frequency weights
    coef : (n_outputs, d + fit_intercept) float64, intercept last (estimator layout)
    layout : the number of classes, the intercept, the device, the meat and the block size
    groups : (n,) cluster indices 0..G-1 when ``layout.meat == 'cluster'``
    """
    device, clustered = layout.device, layout.meat == "cluster"
    block_rows = layout.block_rows
    if block_rows is None:
        block_rows = 4096 if device.type == "cpu" else 1 << 18
    y_t = torch.as_tensor(np.asarray(y, dtype=np.int64), device=device)
    w_t = torch.as_tensor(np.asarray(sample_weight, dtype=np.float64), device=device)
    g_t = torch.as_tensor(np.asarray(groups, dtype=np.int64), device=device) if clustered else None
    n_groups = int(groups.max()) + 1 if clustered else 0
    W = torch.as_tensor(np.asarray(coef, dtype=np.float64), device=device)
    kernel = _BinomialKernel if layout.n_classes == 2 else _MultinomialKernel
    acc = kernel(W, layout, n_groups)
    for start, Xt in _design_blocks(X, block_rows, layout.fit_intercept, device):
        stop = start + Xt.shape[0]
        acc.add(Xt, y_t[start:stop], w_t[start:stop],
                None if g_t is None else g_t[start:stop])
    class_weights = torch.zeros(layout.n_classes, dtype=_F64, device=device).index_add_(0, y_t, w_t)
    return acc.finish(class_weights.cpu().numpy(), n_groups)


class _BinomialKernel:
    def __init__(self, W: Tensor, layout: SumsLayout, n_groups: int):
        self.theta = W[0]
        self.d = W.shape[1] - int(layout.fit_intercept)
        p, meat = W.shape[1], layout.meat
        zeros = lambda *shape: torch.zeros(*shape, dtype=_F64, device=layout.device)  # noqa: E731
        self.loglik, self.max_abs = zeros(()), zeros(())
        self.info = zeros(p, p)
        self.meat = zeros(p, p) if meat == "hc" else None
        self.cluster = zeros(n_groups, p) if meat == "cluster" else None
        self.pdf_sum, self.pdf_slope = zeros(()), zeros(p)  # Σ s·f(η), Σ s·f'(η)·x̃
        self.weight_sum = zeros(())

    def add(self, Xt: Tensor, y: Tensor, w: Tensor, g: Tensor | None) -> None:
        eta = Xt @ self.theta
        yf = y.to(_F64)
        # log-likelihood Σ s (y η − log(1 + e^η)) = −Σ s ((1 − y) η − log σ(η)), stable for any η
        self.loglik -= torch.dot(w, (1 - yf) * eta - F.logsigmoid(eta))
        self.max_abs = torch.maximum(self.max_abs, eta.abs().max())
        p = torch.sigmoid(eta)
        pdf = p * (1 - p)
        h = w * pdf
        _gram(self.info, Xt, h, nonnegative=True)
        resid = yf - p
        if self.meat is not None:
            _gram(self.meat, Xt, w * resid * resid, nonnegative=True)
        if self.cluster is not None:
            self.cluster.index_add_(0, g, Xt * (w * resid)[:, None])
        self.pdf_sum += h.sum()
        self.pdf_slope.addmv_(Xt.T, h * (1 - 2 * p))
        self.weight_sum += w.sum()

    def finish(self, class_weights: np.ndarray, n_groups: int) -> InferenceSums:
        S = float(self.weight_sum)
        beta = self.theta[: self.d]
        mean_pdf = self.pdf_sum / S
        # AME_j = β_j · mean f(η);  ∂AME_j/∂θ_c = δ_jc · mean f(η) + β_j · mean f'(η) x̃_c
        jac = torch.outer(beta, self.pdf_slope / S)
        jac[:, : self.d] += mean_pdf * torch.eye(self.d, dtype=_F64, device=beta.device)
        return InferenceSums(
            loglik=float(self.loglik), information=self.info.cpu().numpy(),
            meat=_meat(self.meat, self.cluster), n_groups=n_groups, weight_sum=S,
            class_weights=class_weights, max_abs_score=float(self.max_abs),
            ame=(beta * mean_pdf).cpu().numpy(), ame_jacobian=jac.cpu().numpy(),
        )


class _MultinomialKernel:
    """Reference class: index 0 (``classes_[0]``), as statsmodels ``MNLogit``."""

    def __init__(self, W: Tensor, layout: SumsLayout, n_groups: int):
        self.W = W  # (K, p) centred rows; the shift does not change the softmax
        self.K = layout.n_classes
        self.p = W.shape[1]
        self.d = self.p - int(layout.fit_intercept)
        K, p, d, meat = self.K, self.p, self.d, layout.meat
        zeros = lambda *shape: torch.zeros(*shape, dtype=_F64, device=layout.device)  # noqa: E731
        self.loglik, self.max_abs, self.weight_sum = zeros(()), zeros(()), zeros(())
        self.info = zeros(K - 1, K - 1, p, p)  # block (a, b) contiguous; permuted in finish()
        self.meat = zeros(K - 1, K - 1, p, p) if meat == "hc" else None
        self.cluster = zeros(n_groups, (K - 1) * p) if meat == "cluster" else None
        self.me_sum = zeros(K, d)
        self.jac = zeros(K, K - 1, d, p)  # (k, m) blocks contiguous; permuted in finish()
        self.p_sum, self.pp_sum = zeros(K), zeros(K, K)

    def add(self, Xt: Tensor, y: Tensor, w: Tensor, g: Tensor | None) -> None:
        K, d = self.K, self.d
        scores = Xt @ self.W.T
        log_p = torch.log_softmax(scores, dim=1)
        self.loglik += torch.dot(w, log_p.gather(1, y[:, None])[:, 0])
        self.max_abs = torch.maximum(self.max_abs, (scores - scores.mean(1, keepdim=True)).abs().max())
        P = log_p.exp()
        wP = w[:, None] * P
        resid = F.one_hot(y, K).to(_F64) - P  # score of θ_k: resid_k · x̃
        for a in range(1, K):
            for b in range(a, K):
                h = wP[:, a] * ((1.0 if a == b else 0.0) - P[:, b])
                _gram(self.info[a - 1, b - 1], Xt, h, nonnegative=a == b)
                if self.meat is not None:
                    _gram(self.meat[a - 1, b - 1], Xt, w * resid[:, a] * resid[:, b], nonnegative=a == b)
        if self.cluster is not None:
            scores_obs = (Xt[:, None, :] * (w[:, None] * resid[:, 1:])[:, :, None]).reshape(len(w), -1)
            self.cluster.index_add_(0, g, scores_obs)
        # dP_k/dx = P_k (W_k − Σ_l P_l W_l) =: P_k D_k (features only)
        Wf = self.W[:, :d]
        D = Wf[None, :, :] - (P @ Wf)[:, None, :]  # (B, K, d)
        self.me_sum += torch.einsum("bk,bkd->kd", wP, D)
        for k in range(K):
            for m in range(1, K):
                C = (wP[:, k] * ((1.0 if k == m else 0.0) - P[:, m]))[:, None] * D[:, k] \
                    - (wP[:, k] * P[:, m])[:, None] * D[:, m]
                self.jac[k, m - 1].addmm_(C.T, Xt)
        self.p_sum += wP.sum(0)
        self.pp_sum += wP.T @ P
        self.weight_sum += w.sum()

    def finish(self, class_weights: np.ndarray, n_groups: int) -> InferenceSums:
        K, p, d = self.K, self.p, self.d
        S = float(self.weight_sum)
        blocks = [self.info] if self.meat is None else [self.info, self.meat]
        for M in blocks:  # fill the lower block triangle
            for a in range(K - 1):
                for b in range(a + 1, K - 1):
                    M[b, a] = M[a, b].T
        P = (K - 1) * p
        info = self.info.permute(0, 2, 1, 3).reshape(P, P)
        meat = None if self.meat is None else self.meat.permute(0, 2, 1, 3).reshape(P, P)
        jac = (self.jac / S).permute(0, 2, 1, 3)  # (K, d, K-1, p)
        eye = torch.eye(d, dtype=_F64, device=jac.device)
        for k in range(K):
            for m in range(1, K):
                jac[k, :, m - 1, :d] += ((self.p_sum[k] if k == m else 0.0) - self.pp_sum[k, m]) / S * eye
        return InferenceSums(
            loglik=float(self.loglik), information=info.cpu().numpy(),
            meat=_meat(meat, self.cluster), n_groups=n_groups, weight_sum=S,
            class_weights=class_weights, max_abs_score=float(self.max_abs),
            ame=(self.me_sum / S).cpu().numpy(), ame_jacobian=jac.reshape(K * d, (K - 1) * p).cpu().numpy(),
        )


def _meat(hc: Tensor | None, cluster: Tensor | None) -> np.ndarray | None:
    if cluster is not None:
        return (cluster.T @ cluster).cpu().numpy()
    return None if hc is None else hc.cpu().numpy()
