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

Besides the one pass, :func:`binomial_rows` is a second pass over the same blocks that needs the
information's inverse: the hat values ``hᵢ = wᵢ x̃ᵢᵀ I⁻¹ x̃ᵢ`` (``wᵢ = pᵢ(1 − pᵢ)``), one block at
a time, so HC2/HC3 (:func:`leverage_meat`) and the influence measures never form an n × n matrix.
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
    meat: np.ndarray | None  # (P, P): Σ sᵢ gᵢgᵢᵀ (HC), or Σ_m ±c_m Σ_g G_g G_gᵀ (cluster); None if nonrobust
    n_groups: tuple[int, ...]  # clusters in every grouping (cluster), else ()
    weight_sum: float
    class_weights: np.ndarray  # (K,) Σ sᵢ per class (for the null model)
    max_abs_score: float
    score: np.ndarray  # (P,): gradient of the log-likelihood
    ame: np.ndarray | None  # binomial (d,), multinomial (K, d): average dP/dx (None: not asked for)
    ame_jacobian: np.ndarray | None  # (n_ame, P): derivative of ame.ravel() with respect to θ


@dataclass(frozen=True, eq=False)
class FitData:
    """The fitting data and the fitted model, kept by the results for statistics that need the rows.

    ``X`` is a reference (the validated array the summary read, not a copy of it), so the data
    stay in memory as long as the results do. ``coef`` is the estimator's layout (rows of
    ``d + fit_intercept``, intercept last), ``order`` takes the internal flat parameters to the
    displayed ones (``const`` first), ``bread`` is the (penalised) information's inverse over the
    internal parameters.
    """

    X: np.ndarray | sp.csr_matrix
    y_index: np.ndarray
    weights: np.ndarray
    coef: np.ndarray
    layout: SumsLayout
    order: np.ndarray
    penalised: bool
    bread: np.ndarray

    @property
    def n_classes(self) -> int:
        return self.layout.n_classes

    @property
    def theta(self) -> np.ndarray:
        """The internal flat parameters: contrasts against class 0 for 3+ classes, intercept last."""
        return self.coef[0] if self.n_classes == 2 else (self.coef[1:] - self.coef[0]).ravel()


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
    meat : None, 'hc' (Σ sᵢ gᵢgᵢᵀ) or 'cluster' (Σ_g G_g G_gᵀ per grouping, needs ``groups``)
    block_rows : rows per block; None: 4096 on the CPU (cache-friendly Gram products), 262144 on CUDA
    cluster_signs : the sign of every grouping's term (``meat='cluster'``): ``(1,)`` one-way,
        ``(1, 1, -1)`` two-way with the columns A, B and A∩B (Cameron, Gelbach & Miller)
    margins : whether to accumulate the average marginal effects and their Jacobian
    """

    n_classes: int
    fit_intercept: bool
    device: torch.device
    meat: str | None = None
    block_rows: int | None = None
    cluster_signs: tuple[int, ...] = (1,)
    margins: bool = True

    @property
    def rows(self) -> int:
        """Rows per block (the default depends on the device)."""
        if self.block_rows is not None:
            return self.block_rows
        return 4096 if self.device.type == "cpu" else 1 << 18


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
    groups : (n,) or (n, m) cluster indices 0..G-1 (one column per grouping, signs in
        ``layout.cluster_signs``) when ``layout.meat == 'cluster'``

    With ``meat='cluster'`` the meat is ``Σ_m sign_m G_m/(G_m − 1) Σ_g G_g G_gᵀ`` (each grouping's
    score sums ``G_g`` with its small-sample factor, as R's ``sandwich::vcovCL(cadjust=TRUE)``).
    """
    device, clustered = layout.device, layout.meat == "cluster"
    y_t = torch.as_tensor(np.asarray(y, dtype=np.int64), device=device)
    w_t = torch.as_tensor(np.asarray(sample_weight, dtype=np.float64), device=device)
    g_t, n_groups = None, ()
    if clustered:
        g_np = np.asarray(groups, dtype=np.int64).reshape(len(y_t), -1)
        g_t = torch.as_tensor(g_np, device=device)
        n_groups = tuple(int(c.max()) + 1 for c in g_np.T)
    W = torch.as_tensor(np.asarray(coef, dtype=np.float64), device=device)
    kernel = _BinomialKernel if layout.n_classes == 2 else _MultinomialKernel
    acc = kernel(W, layout, n_groups)
    for start, Xt in _design_blocks(X, layout.rows, layout.fit_intercept, device):
        stop = start + Xt.shape[0]
        acc.add(Xt, y_t[start:stop], w_t[start:stop],
                None if g_t is None else g_t[start:stop])
    class_weights = torch.zeros(layout.n_classes, dtype=_F64, device=device).index_add_(0, y_t, w_t)
    return acc.finish(class_weights.cpu().numpy(), n_groups, layout.cluster_signs)


class _BinomialKernel:
    def __init__(self, W: Tensor, layout: SumsLayout, n_groups: tuple[int, ...]):
        self.theta = W[0]
        self.d = W.shape[1] - int(layout.fit_intercept)
        p, meat = W.shape[1], layout.meat
        zeros = lambda *shape: torch.zeros(*shape, dtype=_F64, device=layout.device)  # noqa: E731
        self.loglik, self.max_abs = zeros(()), zeros(())
        self.info, self.score = zeros(p, p), zeros(p)
        self.meat = zeros(p, p) if meat == "hc" else None
        self.cluster = [zeros(g, p) for g in n_groups] if meat == "cluster" else None
        self.margins = layout.margins
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
        self.score.addmv_(Xt.T, w * resid)
        if self.meat is not None:
            _gram(self.meat, Xt, w * resid * resid, nonnegative=True)
        if self.cluster is not None:
            for m, sums in enumerate(self.cluster):
                sums.index_add_(0, g[:, m], Xt * (w * resid)[:, None])
        if self.margins:
            self.pdf_sum += h.sum()
            self.pdf_slope.addmv_(Xt.T, h * (1 - 2 * p))
        self.weight_sum += w.sum()

    def finish(self, class_weights: np.ndarray, n_groups: tuple[int, ...],
               signs: tuple[int, ...]) -> InferenceSums:
        S = float(self.weight_sum)
        ame = jac = None
        if self.margins:
            beta = self.theta[: self.d]
            mean_pdf = self.pdf_sum / S
            # AME_j = β_j · mean f(η);  ∂AME_j/∂θ_c = δ_jc · mean f(η) + β_j · mean f'(η) x̃_c
            jac = torch.outer(beta, self.pdf_slope / S)
            jac[:, : self.d] += mean_pdf * torch.eye(self.d, dtype=_F64, device=beta.device)
            ame, jac = (beta * mean_pdf).cpu().numpy(), jac.cpu().numpy()
        return InferenceSums(
            loglik=float(self.loglik), information=self.info.cpu().numpy(),
            meat=_meat(self.meat, self.cluster, signs), n_groups=n_groups, weight_sum=S,
            class_weights=class_weights, max_abs_score=float(self.max_abs),
            score=self.score.cpu().numpy(), ame=ame, ame_jacobian=jac,
        )


class _MultinomialKernel:
    """Reference class: index 0 (``classes_[0]``), as statsmodels ``MNLogit``."""

    def __init__(self, W: Tensor, layout: SumsLayout, n_groups: tuple[int, ...]):
        self.W = W  # (K, p) centred rows; the shift does not change the softmax
        self.K = layout.n_classes
        self.p = W.shape[1]
        self.d = self.p - int(layout.fit_intercept)
        K, p, d, meat = self.K, self.p, self.d, layout.meat
        zeros = lambda *shape: torch.zeros(*shape, dtype=_F64, device=layout.device)  # noqa: E731
        self.loglik, self.max_abs, self.weight_sum = zeros(()), zeros(()), zeros(())
        self.info = zeros(K - 1, K - 1, p, p)  # block (a, b) contiguous; permuted in finish()
        self.score = zeros(K - 1, p)
        self.meat = zeros(K - 1, K - 1, p, p) if meat == "hc" else None
        self.cluster = [zeros(g, (K - 1) * p) for g in n_groups] if meat == "cluster" else None
        self.margins = layout.margins
        self.me_sum = zeros(K, d)
        self.jac = zeros(K, K - 1, d, p)  # (k, m) blocks contiguous; permuted in finish()
        self.p_sum, self.pp_sum = zeros(K), zeros(K, K)

    def add(self, Xt: Tensor, y: Tensor, w: Tensor, g: Tensor | None) -> None:
        K = self.K
        scores = Xt @ self.W.T
        log_p = torch.log_softmax(scores, dim=1)
        self.loglik += torch.dot(w, log_p.gather(1, y[:, None])[:, 0])
        self.max_abs = torch.maximum(self.max_abs, (scores - scores.mean(1, keepdim=True)).abs().max())
        P = log_p.exp()
        wP = w[:, None] * P
        resid = F.one_hot(y, K).to(_F64) - P  # score of θ_k: resid_k · x̃
        self.score.addmm_((w[:, None] * resid[:, 1:]).T, Xt)
        for a in range(1, K):
            for b in range(a, K):
                h = wP[:, a] * ((1.0 if a == b else 0.0) - P[:, b])
                _gram(self.info[a - 1, b - 1], Xt, h, nonnegative=a == b)
                if self.meat is not None:
                    _gram(self.meat[a - 1, b - 1], Xt, w * resid[:, a] * resid[:, b], nonnegative=a == b)
        if self.cluster is not None:
            scores_obs = (Xt[:, None, :] * (w[:, None] * resid[:, 1:])[:, :, None]).reshape(len(w), -1)
            for m, sums in enumerate(self.cluster):
                sums.index_add_(0, g[:, m], scores_obs)
        if self.margins:
            self._add_margins(Xt, P, wP)
        self.weight_sum += w.sum()

    def _add_margins(self, Xt: Tensor, P: Tensor, wP: Tensor) -> None:
        """Σ s dP_k/dx and its derivative over θ, for the average marginal effects."""
        K, d = self.K, self.d
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

    def _ame(self, S: float) -> tuple[np.ndarray, np.ndarray]:
        K, p, d = self.K, self.p, self.d
        jac = (self.jac / S).permute(0, 2, 1, 3)  # (K, d, K-1, p)
        eye = torch.eye(d, dtype=_F64, device=jac.device)
        for k in range(K):
            for m in range(1, K):
                jac[k, :, m - 1, :d] += ((self.p_sum[k] if k == m else 0.0) - self.pp_sum[k, m]) / S * eye
        return (self.me_sum / S).cpu().numpy(), jac.reshape(K * d, (K - 1) * p).cpu().numpy()

    def finish(self, class_weights: np.ndarray, n_groups: tuple[int, ...],
               signs: tuple[int, ...]) -> InferenceSums:
        K, p = self.K, self.p
        S = float(self.weight_sum)
        blocks = [self.info] if self.meat is None else [self.info, self.meat]
        for M in blocks:  # fill the lower block triangle
            for a in range(K - 1):
                for b in range(a + 1, K - 1):
                    M[b, a] = M[a, b].T
        P = (K - 1) * p
        info = self.info.permute(0, 2, 1, 3).reshape(P, P)
        meat = None if self.meat is None else self.meat.permute(0, 2, 1, 3).reshape(P, P)
        ame, jac = self._ame(S) if self.margins else (None, None)
        return InferenceSums(
            loglik=float(self.loglik), information=info.cpu().numpy(),
            meat=_meat(meat, self.cluster, signs), n_groups=n_groups, weight_sum=S,
            class_weights=class_weights, max_abs_score=float(self.max_abs),
            score=self.score.reshape(-1).cpu().numpy(), ame=ame, ame_jacobian=jac,
        )


def _meat(hc: Tensor | None, cluster: list[Tensor] | None, signs: tuple[int, ...]) -> np.ndarray | None:
    """The HC meat, or the clusters' ``Σ_m sign_m G_m/(G_m − 1) Σ_g G_g G_gᵀ``."""
    if cluster is not None:
        if len(signs) != len(cluster):
            raise ValueError(f"{len(cluster)} cluster groupings but {len(signs)} signs")
        total = sum(sign * len(sums) / (len(sums) - 1.0) * (sums.T @ sums)
                    for sign, sums in zip(signs, cluster, strict=True))
        return total.cpu().numpy()
    return None if hc is None else hc.cpu().numpy()


@dataclass(frozen=True)
class RowBlock:
    """Per-row quantities of one block of a binomial fit, from :func:`binomial_rows`.

    ``Xt`` is the block's design ``[X, 1]`` (valid until the next block), ``eta`` ``X̃θ``, ``p`` the fitted
    probabilities, ``w`` the weights, ``resid`` ``y − p``, ``leverage`` ``pᵢ(1 − pᵢ) x̃ᵢᵀ B x̃ᵢ``
    (the hat value of one copy of the row when ``B = I⁻¹``) and ``XB`` the rows of ``X̃ B``.
    """

    start: int
    Xt: Tensor
    eta: Tensor
    p: Tensor
    w: Tensor
    resid: Tensor
    leverage: Tensor
    XB: Tensor


def binomial_rows(X: np.ndarray | sp.csr_matrix, y: np.ndarray, sample_weight: np.ndarray, theta: np.ndarray,
                  bread: np.ndarray, layout: SumsLayout) -> Iterator[RowBlock]:
    """A second pass over a binomial fit's rows: probabilities, residuals and leverages, block by block.

    ``theta`` and ``bread`` (usually ``I⁻¹``) are in the internal order, intercept last. Memory is
    one block of ``n_params`` columns: no n × n hat matrix is formed.
    """
    device = layout.device
    theta_t = torch.as_tensor(np.asarray(theta, dtype=np.float64), device=device)
    bread_t = torch.as_tensor(np.asarray(bread, dtype=np.float64), device=device)
    y_t = torch.as_tensor(np.asarray(y, dtype=np.float64), device=device)
    w_t = torch.as_tensor(np.asarray(sample_weight, dtype=np.float64), device=device)
    for start, Xt in _design_blocks(X, layout.rows, layout.fit_intercept, device):
        stop = start + Xt.shape[0]
        eta = Xt @ theta_t
        p = torch.sigmoid(eta)
        XB = Xt @ bread_t
        leverage = p * (1 - p) * (XB * Xt).sum(1)
        yield RowBlock(start, Xt, eta, p, w_t[start:stop], y_t[start:stop] - p, leverage, XB)


def leverage_meat(X: np.ndarray | sp.csr_matrix, y: np.ndarray, sample_weight: np.ndarray, theta: np.ndarray,
                  bread: np.ndarray, layout: SumsLayout, power: int) -> np.ndarray:
    """HC2 (``power=1``) or HC3 (``power=2``) meat ``Σ sᵢ (yᵢ − pᵢ)² x̃ᵢx̃ᵢᵀ / (1 − hᵢ)^power``.

    ``hᵢ = pᵢ(1 − pᵢ) x̃ᵢᵀ I⁻¹ x̃ᵢ`` is the hat value of one copy of row i (frequency weights: the
    meat equals that of the rows repeated ``sᵢ`` times); unweighted, it is R's ``hatvalues(glm)``.
    """
    p = theta.shape[0]
    meat = torch.zeros(p, p, dtype=_F64, device=layout.device)
    for rows in binomial_rows(X, y, sample_weight, theta, bread, layout):
        scale = rows.w * rows.resid ** 2 / (1 - rows.leverage) ** power
        _gram(meat, rows.Xt, scale, nonnegative=True)
    return meat.cpu().numpy()
