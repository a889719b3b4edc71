"""The tutorial's model: one ``torch.nn.Linear`` layer whose outputs are logits.

Probabilities come from a sigmoid (one output) or a softmax (one output per class) applied to the
logits; training uses a loss on the logits (log-sigmoid / log-sum-exp), never ``log(sigmoid)``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class LogisticModel(nn.Module):
    """Logistic regression as a PyTorch module.

    Parameters
    ----------
    input_dim : number of features.
    output_dim : 1 for two classes (sigmoid), the number of classes for three or more (softmax).
    bias : fit an intercept.

    Shape
    -----
    ``forward``: ``(n, input_dim) -> (n, output_dim)`` logits.

    Examples
    --------
    >>> model = LogisticModel(2)
    >>> model.predict_proba(torch.zeros(3, 2)).shape
    torch.Size([3, 2])
    """

    def __init__(
        self, input_dim: int, output_dim: int = 1, *, bias: bool = True,
        dtype: torch.dtype | None = None, device: torch.device | str | None = None,
    ):
        super().__init__()
        if input_dim < 1 or output_dim < 1:
            raise ValueError(f"input_dim and output_dim must be positive, got {input_dim}, {output_dim}")
        self.linear = nn.Linear(input_dim, output_dim, bias=bias, dtype=dtype, device=device)

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``x @ W.T + b``."""
        return self.linear(x)

    @torch.no_grad()
    def predict_proba(self, x: Tensor) -> Tensor:
        """Class probabilities, shape ``(n, n_classes)`` (two columns for the sigmoid model)."""
        logits = self(x.to(self.linear.weight.dtype))
        if logits.shape[-1] == 1:
            p1 = torch.sigmoid(logits)
            return torch.cat([1 - p1, p1], dim=-1)
        return torch.softmax(logits, dim=-1)

    @torch.no_grad()
    def predict(self, x: Tensor) -> Tensor:
        """Predicted class indices (``int64``); for one output, class 1 where the logit is > 0."""
        logits = self(x.to(self.linear.weight.dtype))
        if logits.shape[-1] == 1:
            return (logits[..., 0] > 0).long()
        return logits.argmax(dim=-1)

    def coef_matrix(self) -> Tensor:
        """Coefficients in the solvers' layout: ``[W, b]`` of shape ``(output_dim, input_dim + bias)``."""
        weight = self.linear.weight.detach()
        if self.linear.bias is None:
            return weight.clone()
        return torch.cat([weight, self.linear.bias.detach()[:, None]], dim=1)

    @torch.no_grad()
    def load_coef_matrix(self, coef: Tensor) -> None:
        """Set weights (and bias) from a solver-layout coefficient matrix."""
        n_in = self.linear.in_features
        self.linear.weight.copy_(coef[:, :n_in])
        if self.linear.bias is not None:
            self.linear.bias.copy_(coef[:, n_in])
