"""A two-layer perceptron learns XOR, trained by five optimisers written in a few lines each.

The parameters are a dict of arrays; `s2sad.grad(loss)(params, X, Y)` returns a dict of
gradients with the same keys and shapes, so every optimiser is a loop over the keys.

Run: python examples/xor_mlp.py
"""

import time

import numpy as np
from _plot import pyplot, save

import s2sad

# The four XOR points and their labels.
X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y = np.array([0.0, 1.0, 1.0, 0.0])
HIDDEN = 8
STEPS = 1500


def forward(params, X):
    h = np.tanh(X @ params["W1"] + params["b1"])          # (4, HIDDEN)
    return h @ params["w2"] + params["b2"]                # (4,) logits


def loss(params, X, Y):
    """Binary cross-entropy of sigmoid(logit): mean log(1 + exp(-s * logit)), s = ±1."""
    s = 2.0 * Y - 1.0
    return np.mean(np.log1p(np.exp(-s * forward(params, X))))


def accuracy(params):
    return np.mean((forward(params, X) > 0) == (Y > 0.5))


def init(seed=0):
    rng = np.random.default_rng(seed)
    return {"W1": rng.normal(0.0, 1.0, (2, HIDDEN)), "b1": rng.normal(0.0, 0.5, HIDDEN),
            "w2": rng.normal(0.0, 1.0, HIDDEN) / np.sqrt(HIDDEN), "b2": 0.0}


grad_loss = s2sad.grad(loss)   # gradient with respect to params (argument 0): a dict


# Each optimiser: make its state from the parameters, then update (params, state) in place.
def gradient_descent(lr=0.5):
    def step(p, g, state):
        for k in p:
            p[k] = p[k] - lr * g[k]
    return dict, step


def momentum(lr=0.1, beta=0.9):
    def step(p, g, v):
        for k in p:
            v[k] = beta * v.get(k, 0.0) + g[k]
            p[k] = p[k] - lr * v[k]
    return dict, step


def nesterov(lr=0.1, beta=0.9):
    # the "look-ahead" form: step along the new velocity and the current gradient
    def step(p, g, v):
        for k in p:
            v[k] = beta * v.get(k, 0.0) + g[k]
            p[k] = p[k] - lr * (g[k] + beta * v[k])
    return dict, step


def adagrad(lr=0.3, eps=1e-8):
    def step(p, g, G):
        for k in p:
            G[k] = G.get(k, 0.0) + g[k] * g[k]
            p[k] = p[k] - lr * g[k] / (np.sqrt(G[k]) + eps)
    return dict, step


def adam(lr=0.05, b1=0.9, b2=0.999, eps=1e-8):
    def step(p, g, s):
        s["t"] = t = s.get("t", 0) + 1
        for k in p:
            s["m" + k] = b1 * s.get("m" + k, 0.0) + (1 - b1) * g[k]
            s["v" + k] = b2 * s.get("v" + k, 0.0) + (1 - b2) * g[k] * g[k]
            m_hat = s["m" + k] / (1 - b1 ** t)
            v_hat = s["v" + k] / (1 - b2 ** t)
            p[k] = p[k] - lr * m_hat / (np.sqrt(v_hat) + eps)
    return dict, step


def train(optimiser, steps=STEPS, seed=0):
    make_state, step = optimiser
    params, state = init(seed), make_state()
    curve = []
    for _ in range(steps):
        curve.append(loss(params, X, Y))
        step(params, grad_loss(params, X, Y), state)
    curve.append(loss(params, X, Y))
    return params, curve


def main():
    # The gradient is a dict shaped like the parameters; check it once against differences.
    p0 = init()
    g0 = grad_loss(p0, X, Y)
    print("gradient keys and shapes:", {k: np.shape(v) for k, v in g0.items()})
    e = 1e-6
    up, down = dict(p0), dict(p0)
    up["W1"], down["W1"] = p0["W1"].copy(), p0["W1"].copy()
    up["W1"][1, 2] += e
    down["W1"][1, 2] -= e
    fd = (loss(up, X, Y) - loss(down, X, Y)) / (2 * e)
    print(f"dL/dW1[1, 2]: s2sad {g0['W1'][1, 2]:.10f}, central difference {fd:.10f}")
    assert abs(g0["W1"][1, 2] - fd) < 1e-7

    optimisers = {"gradient descent": gradient_descent(), "momentum": momentum(),
                  "Nesterov": nesterov(), "Adagrad": adagrad(), "Adam": adam()}
    curves = {}
    print(f"\n{'optimiser':>16}  {'loss@100':>9}  {'final loss':>10}  {'accuracy':>8}  time")
    for name, opt in optimisers.items():
        t0 = time.perf_counter()
        params, curve = train(opt)
        secs = time.perf_counter() - t0
        acc = accuracy(params)
        curves[name] = curve
        print(f"{name:>16}  {curve[100]:9.4f}  {curve[-1]:10.2e}  {acc:8.0%}  {secs:.2f}s")
        assert acc == 1.0, (name, acc)
        assert curve[-1] < 0.05, (name, curve[-1])
    print("all optimisers reach 100% accuracy on XOR")

    plt = pyplot()
    if plt is not None:
        fig, ax = plt.subplots(figsize=(6, 4))
        # momentum and Nesterov nearly coincide on this small problem: dash one of them
        for name, curve in curves.items():
            ax.semilogy(curve, "--" if name == "Nesterov" else "-", label=name)
        ax.set_xlabel("step")
        ax.set_ylabel("cross-entropy loss")
        ax.set_title(f"XOR, 2-{HIDDEN}-1 tanh network, full batch")
        ax.legend()
        save(fig, __file__)


if __name__ == "__main__":
    main()
