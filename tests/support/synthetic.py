"""Synthetic classification data with a known logistic/softmax truth, shared by the tests."""

import numpy as np


def make_classification_data(n=300, d=4, n_classes=2, seed=0, weights=False):
    """Correlated Gaussian features, labels drawn from a true logistic/softmax model."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(d, d)) / np.sqrt(d)
    X = rng.normal(size=(n, d)) @ (np.eye(d) + 0.5 * A)
    W = rng.normal(size=(n_classes if n_classes > 2 else 1, d))
    scores = X @ W.T + rng.normal(size=W.shape[0])
    if n_classes == 2:
        y = (rng.uniform(size=n) < 1 / (1 + np.exp(-scores[:, 0]))).astype(int)
    else:
        P = np.exp(scores - scores.max(1, keepdims=True))
        P /= P.sum(1, keepdims=True)
        y = np.array([rng.choice(n_classes, p=p) for p in P])
    sw = rng.uniform(0.2, 3.0, size=n) if weights else None
    return X, y, sw
