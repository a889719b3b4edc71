"""The tutorial's model and training loop."""

import numpy as np
import pytest
import torch
from sklearn.model_selection import train_test_split

from torchlogit import LogisticModel, LogisticRegression, predict, predict_proba, train
from torchlogit.tutorial.datasets import make_demo_data


def test_forward_returns_logits_and_probabilities_use_sigmoid():
    model = LogisticModel(2, 1)
    x = torch.tensor([[0.5, -1.0], [2.0, 3.0]])
    logits = model(x)
    expected = x @ model.linear.weight.T + model.linear.bias
    torch.testing.assert_close(logits, expected)
    proba = model.predict_proba(x)
    torch.testing.assert_close(proba[:, 1], torch.sigmoid(expected[:, 0]))
    torch.testing.assert_close(proba.sum(1), torch.ones(2))
    assert predict(model, x).tolist() == (expected[:, 0] > 0).long().tolist()


def test_multiclass_model_uses_softmax():
    model = LogisticModel(3, 4)
    x = torch.randn(5, 3)
    torch.testing.assert_close(predict_proba(model, x), torch.softmax(model(x), dim=1))


def test_demo_data_is_deterministic_and_separable():
    X1, y1 = make_demo_data()
    X2, y2 = make_demo_data()
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert set(np.unique(y1)) == {0, 1}
    side = X1.sum(axis=1) > 4.0  # the generating line x1 + x2 = 4
    np.testing.assert_array_equal(side.astype(int), y1)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_training_on_demo_data_separates_the_groups(optimizer):
    X, y = make_demo_data()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.33, random_state=42)
    model = LogisticModel(2)
    losses = train(model, torch.tensor(X_train, dtype=torch.float32), torch.tensor(y_train),
                   epochs=300, lr=0.5 if optimizer == "sgd" else 0.1, optimizer=optimizer)
    assert len(losses) == 301 and losses[-1] < losses[0]
    accuracy = (predict(model, torch.tensor(X_test, dtype=torch.float32)).numpy() == y_test).mean()
    assert accuracy >= 0.99
    # the learned boundary w·x + b = 0 has every training point on its class's side
    margin = X_train @ model.linear.weight.detach().double().numpy()[0] + float(model.linear.bias.detach()[0])
    np.testing.assert_array_equal((margin > 0).astype(int), y_train)


def test_train_with_l2_reaches_the_estimator_optimum():
    """The tutorial loop on the penalised objective converges to the exact solver's answer."""
    X, y = make_demo_data(n_samples=300)
    X = (X - X.mean(0)) / X.std(0)
    C = 1.0
    exact = LogisticRegression(C=C).fit(X, y)
    model = LogisticModel(2, dtype=torch.float64)
    train(model, torch.tensor(X), torch.tensor(y), epochs=3000, lr=2.0, l2=1 / (C * len(y)))
    np.testing.assert_allclose(model.linear.weight.detach().numpy(), exact.coef_, rtol=1e-4)


def test_train_rejects_bad_shapes():
    model = LogisticModel(2)
    with pytest.raises(ValueError, match="X must have shape"):
        train(model, torch.zeros(4, 3), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="class indices"):
        train(model, torch.zeros(4, 2), torch.tensor([0, 1, 2, 0]))
