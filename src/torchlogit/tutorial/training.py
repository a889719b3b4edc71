"""The tutorial's workflow as functions: ``train`` a :class:`LogisticModel`, then predict.

``train`` is the epoch loop of the tutorial (SGD or Adam on a loss computed from logits) and
returns the loss after every epoch. It runs the same code as the estimator's ``'sgd'``/``'adam'``
solvers, on the same objective; with ``l2=0`` that objective is the tutorial's mean BCE loss.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import torch
from torch import Tensor

from torchlogit._threads import single_thread_if_small
from torchlogit.core.model import LogisticModel
from torchlogit.core.objective import Objective
from torchlogit.core.penalties import L2Penalty, column_strengths
from torchlogit.data import InMemorySource
from torchlogit.solvers.stochastic import Optimizer, StochasticOptions, stochastic


def train(  # noqa: PLR0913 - the tutorial's documented keyword API
    model: LogisticModel, X: Tensor, y: Tensor, *, epochs: int = 1000, lr: float = 0.1,
    optimizer: Optimizer = "sgd", batch_size: int | None = None, l2: float = 0.0,
    sample_weight: Tensor | None = None, seed: int = 0,
    on_epoch: Callable[[int, float, float], None] | None = None,
) -> list[float]:
    """Train ``model`` in place and return the loss at the start and after each epoch.

    Parameters
    ----------
    model : LogisticModel whose ``output_dim`` is 1 (two classes) or the number of classes.
    X : Tensor (n_samples, n_features)
    y : Tensor (n_samples,) of class indices 0..n_classes-1
    epochs, lr, optimizer, batch_size : the tutorial's knobs (full batch when batch_size is None)
    l2 : ridge strength λ on the mean loss (``½ λ ‖W‖²``, bias unpenalised); 0 is the tutorial
    on_epoch : called as ``on_epoch(epoch, loss, max |gradient|)`` after each epoch

    Raises
    ------
    ValueError
        For a bad shape, label, ``lr`` or ``l2``, and when the loss or the parameters stop being
        finite (too large an ``lr``): the model is then left as the diverged steps made it.

    Examples
    --------
    >>> from torchlogit.tutorial.datasets import make_demo_data
    >>> X, y = make_demo_data(n_samples=200)
    >>> model = LogisticModel(2)
    >>> losses = train(model, torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y), epochs=50)
    >>> losses[-1] < losses[0]
    True
    """
    weight = model.linear.weight
    X = torch.as_tensor(X).to(dtype=weight.dtype, device=weight.device)
    y = torch.as_tensor(y).to(device=weight.device).long()
    if X.ndim != 2 or X.shape[1] != model.linear.in_features:
        raise ValueError(f"X must have shape (n, {model.linear.in_features}), got {tuple(X.shape)}")
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},), got {tuple(y.shape)}")
    n_classes = max(2, model.linear.out_features)
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= n_classes):
        raise ValueError(f"y must hold class indices 0..{n_classes - 1}")
    w = torch.ones_like(X[:, 0]) if sample_weight is None else torch.as_tensor(sample_weight).to(X)
    fit_intercept = model.linear.bias is not None
    objective = Objective(
        InMemorySource(X, y, w), n_outputs=model.linear.out_features, fit_intercept=fit_intercept,
        l2=_ridge(l2, X, fit_intercept), dtype=X.dtype, device=X.device,
    )
    with single_thread_if_small(X.shape[0] * objective.coef_shape[0] * objective.coef_shape[1]):
        options = StochasticOptions(optimizer=optimizer, learning_rate=lr, batch_size=batch_size,
                                    generator=torch.Generator().manual_seed(seed))
        result = stochastic(objective, model.coef_matrix(), options, tol=0.0, max_iter=epochs, model=model,
                            callback=on_epoch)
    return [entry["objective"] for entry in result.history]


def _ridge(l2: float, X: Tensor, fit_intercept: bool) -> L2Penalty | None:
    """The ridge term ``½ λ ‖W‖²`` (bias unpenalised) for ``l2 = λ``; None for 0."""
    if isinstance(l2, bool) or not isinstance(l2, numbers.Real) or not 0 <= l2 < math.inf:
        raise ValueError(f"l2 must be a non-negative finite number, got {l2!r}")
    if l2 == 0:
        return None
    return L2Penalty(column_strengths(l2, X.shape[1], fit_intercept, None, dtype=X.dtype, device=X.device))


def predict_proba(model: LogisticModel, X: Tensor) -> Tensor:
    """Class probabilities of new rows, shape (n, n_classes)."""
    return model.predict_proba(torch.as_tensor(X))


def predict(model: LogisticModel, X: Tensor) -> Tensor:
    """Predicted class indices of new rows."""
    return model.predict(torch.as_tensor(X))
