"""Logistic regression on synthetic data, trained by gradient descent with s2sad gradients.

Two Gaussian clouds in 2-D, labels 0 and 1; the model is p(y=1 | x) = sigmoid(x·w + b).
Before training, the s2sad gradient is compared with central differences.

Run: python examples/logistic_regression.py
"""

import numpy as np
from _plot import pyplot, save

import s2sad


def make_data(n=400, seed=1):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.5).astype(float)
    centres = np.where(y[:, None] > 0.5, [1.5, 1.0], [-1.0, -1.5])
    x = centres + rng.normal(0.0, 1.0, (n, 2))
    return x, y


def loss(w, b, x, y, lam):
    """Mean negative log-likelihood plus an L2 penalty on w.

    -log sigmoid(z) = log(1 + exp(-z)) and -log(1 - sigmoid(z)) = log(1 + exp(z)), so with
    s = 2y - 1 the loss of one point is log(1 + exp(-s z)), written stably as
    max(-s z, 0) + log(1 + exp(-|s z|)).
    """
    z = x @ w + b
    sz = (2.0 * y - 1.0) * z
    nll = np.maximum(-sz, 0.0) + np.log1p(np.exp(-np.abs(sz)))
    return np.mean(nll) + 0.5 * lam * np.sum(w * w)


def central_differences(fn, w, b, eps=1e-6):
    gw = np.zeros_like(w)
    for i in range(w.size):
        e = np.zeros_like(w)
        e[i] = eps
        gw[i] = (fn(w + e, b) - fn(w - e, b)) / (2 * eps)
    gb = (fn(w, b + eps) - fn(w, b - eps)) / (2 * eps)
    return gw, gb


def main():
    x_train, y_train = make_data(400, seed=1)
    x_test, y_test = make_data(400, seed=2)
    lam = 1e-3
    value_and_grad = s2sad.value_and_grad(loss, wrt=("w", "b"))

    # Start away from the optimum so the check is not trivial.
    w, b = np.array([-0.5, 0.3]), 0.2
    _, (gw, gb) = value_and_grad(w, b, x_train, y_train, lam)
    fw, fb = central_differences(lambda w_, b_: loss(w_, b_, x_train, y_train, lam), w, b)
    err = max(np.max(np.abs(gw - fw)), abs(gb - fb))
    print(f"gradient at the start: s2sad dw = {gw}, db = {gb:.8f}")
    print(f"                central diffs dw = {fw}, db = {fb:.8f}   max diff {err:.1e}")
    assert err < 1e-8

    lr, steps = 0.5, 300
    history = []
    for step in range(steps):
        value, (gw, gb) = value_and_grad(w, b, x_train, y_train, lam)
        history.append(value)
        w, b = w - lr * gw, b - lr * gb
        if step % 50 == 0:
            print(f"step {step:4d}  loss {value:.5f}")
    final = loss(w, b, x_train, y_train, lam)
    print(f"final loss {final:.5f}, w = {w}, b = {b:.4f}")

    def acc(x, y):
        return np.mean(((x @ w + b) > 0) == (y > 0.5))

    train_acc, test_acc = acc(x_train, y_train), acc(x_test, y_test)
    print(f"train accuracy {train_acc:.3f}, test accuracy {test_acc:.3f}")
    assert history[0] > 2 * final
    assert train_acc > 0.9 and test_acc > 0.9

    plt = pyplot()
    if plt is not None:
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
        ax1.plot(history)
        ax1.set_xlabel("step")
        ax1.set_ylabel("training loss")
        ax2.scatter(x_test[:, 0], x_test[:, 1], c=y_test, cmap="coolwarm", s=8)
        xs = np.linspace(x_test[:, 0].min(), x_test[:, 0].max(), 2)
        ax2.plot(xs, -(w[0] * xs + b) / w[1], "k-", label="decision boundary")
        ax2.set_ylim(x_test[:, 1].min(), x_test[:, 1].max())
        ax2.set_title(f"test accuracy {test_acc:.1%}")
        ax2.legend()
        save(fig, __file__)


if __name__ == "__main__":
    main()
