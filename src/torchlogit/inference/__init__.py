"""Statistics after a fit: covariances (nonrobust, HC*, cluster), tests, marginal effects, tables."""

from torchlogit.inference.hypotheses import lr_test

__all__ = ["lr_test"]
