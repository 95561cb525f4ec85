"""Functions whose emitted derivative code is kept in tests/golden/ (see test_golden.py).

Edit with care: the golden files quote these lines by number.
"""

import math

import numpy as np


def lecture_f(x, y):
    return x * x * y + y + 2


def lecture_g(x1, x2):
    return math.log(x1) + x1 * x2 - math.sin(x2)


def mlp(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    logits = h @ W2 + b2
    m = np.max(logits, axis=1, keepdims=True)
    z = logits - m
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.mean(np.sum(logp * Y, axis=1))


def bias_and_reduce(x, b, c):
    y = np.exp(x + b)
    return np.sum(y * c) + np.mean(y, axis=0).max()


def slices(x):
    head = x[0]
    tail = x[1:]
    return np.sum(head * tail ** 2) + x[-1, 0]


def scalar_chain(x, y):
    z = x * y
    w = math.sin(z) + z ** 2
    return w / y


def branch(x, w):
    if x > 0.0:
        y = x * w
    else:
        y = -x
    return y * y


def loop(h, W, xs):
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + xs[t])
    return np.sum(h)


def newton(a):
    x = a
    while abs(x * x - a) > 1e-12:
        x = 0.5 * (x + a / x)
    return x


def fill_buffer(x, w):
    buf = np.zeros((4, 3))
    for i in range(4):
        buf[i] = np.sin(x * i) * w
    return np.sum(buf ** 2)


def newton_break(a, x):
    for i in range(50):
        step = (x * x - a) / (2.0 * x)
        x = x - step
        if abs(step) < 1e-12:
            break
    return x


def grown_list(x, n):
    xs = []
    for i in range(n):
        x = np.sin(x) * 1.1
        xs.append(x)
    return np.sum(np.stack(xs)) + xs[-1][0]
