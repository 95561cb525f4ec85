"""Steering smoke: differentiate a 2-D fluid simulation with respect to its initial velocity.

A 32x32 periodic grid carries a smoke density d and a velocity (u, v). Each time step
  1. advects d, u and v along the velocity (semi-Lagrangian: trace back by the velocity,
     at most one cell per step, and interpolate linearly between neighbours, one axis after
     the other; written with np.roll, it is the first-order upwind scheme),
  2. adds buoyancy (smoke rises),
  3. projects the velocity onto a divergence-free field (a few Jacobi iterations for the
     pressure, then subtract its gradient).
All of it, STEPS time steps with JACOBI iterations each, is ONE Python function of the
initial velocity; s2sad differentiates the final loss through the whole simulation (the
reverse sweep replays the loops backwards, from a tape of the values it needs), and gradient
descent (with Adam's step sizes) on the initial velocity pushes the final smoke toward a
target image.

Run: python examples/fluid_simulation.py
"""

import time

import numpy as np
from _plot import pyplot, save

import s2sad

N = 32          # grid cells per side
STEPS = 16      # time steps inside the differentiated function
JACOBI = 10     # pressure iterations per step
MAX_SPEED = 0.9  # cells per step: keeps the semi-Lagrangian trace within one cell
BUOYANCY = 0.02


def shift_x(q, a):
    """q traced back by a (|a| < 1 cells) along axis 1, linear interpolation."""
    return (q - np.maximum(a, 0.0) * (q - np.roll(q, 1, axis=1))
            - np.minimum(a, 0.0) * (np.roll(q, -1, axis=1) - q))


def shift_y(q, a):
    return (q - np.maximum(a, 0.0) * (q - np.roll(q, 1, axis=0))
            - np.minimum(a, 0.0) * (np.roll(q, -1, axis=0) - q))


def advect(q, u, v):
    return shift_y(shift_x(q, u), v)


def ddx(q):
    return 0.5 * (np.roll(q, -1, axis=1) - np.roll(q, 1, axis=1))


def ddy(q):
    return 0.5 * (np.roll(q, -1, axis=0) - np.roll(q, 1, axis=0))


def project(u, v):
    """Remove the divergence: solve lap p = div (u, v) by Jacobi, then (u, v) -= grad p."""
    div = ddx(u) + ddy(v)
    p = np.zeros_like(div)
    for _ in range(JACOBI):
        p = 0.25 * (np.roll(p, 1, axis=0) + np.roll(p, -1, axis=0)
                    + np.roll(p, 1, axis=1) + np.roll(p, -1, axis=1) - div)
    return u - ddx(p), v - ddy(p)


def simulate(u0, v0, d0):
    """The density after STEPS steps, starting from velocity (u0, v0) and density d0."""
    # squash the free parameters into |velocity| < MAX_SPEED cells per step
    u = MAX_SPEED * np.tanh(u0)
    v = MAX_SPEED * np.tanh(v0)
    u, v = project(u, v)
    d = d0
    for _ in range(STEPS):
        d_new = advect(d, u, v)
        u_new = advect(u, u, v)
        v_new = advect(v, u, v) + BUOYANCY * d
        u, v = project(u_new, v_new)
        d = d_new
    return d


def loss(u0, v0, d0, target):
    return np.sum((simulate(u0, v0, d0) - target) ** 2)


def blob(cx, cy, r):
    y, x = np.mgrid[0:N, 0:N]
    return np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2.0 * r * r))


def main():
    d0 = blob(10.0, 10.0, 3.0)          # smoke starts bottom left
    target = blob(18.0, 16.0, 3.0)      # and should end up 8 cells right, 6 cells up
    value_and_grad = s2sad.value_and_grad(loss, wrt=("u0", "v0"))

    # The gradient through the whole simulation, checked for one entry of u0.
    rng = np.random.default_rng(0)
    u0, v0 = rng.normal(0.0, 0.3, (N, N)), rng.normal(0.0, 0.3, (N, N))
    t0 = time.perf_counter()
    _, (gu, _gv) = value_and_grad(u0, v0, d0, target)
    t_first = time.perf_counter() - t0
    i, j, eps = 9, 11, 1e-6
    up, down = u0.copy(), u0.copy()
    up[i, j] += eps
    down[i, j] -= eps
    fd = (loss(up, v0, d0, target) - loss(down, v0, d0, target)) / (2 * eps)
    print(f"dL/du0[{i}, {j}]: s2sad {gu[i, j]:.9f}, central difference {fd:.9f}")
    assert abs(gu[i, j] - fd) < 1e-6 * max(1.0, abs(fd))
    print(f"(first call, including code generation: {t_first:.2f}s)")

    # Gradient descent on the initial velocity, with Adam's step-size normalisation, from rest.
    u0, v0 = np.zeros((N, N)), np.zeros((N, N))
    m = [np.zeros((N, N)), np.zeros((N, N))]
    s = [np.zeros((N, N)), np.zeros((N, N))]
    lr, iters = 0.1, 60
    history = []
    t0 = time.perf_counter()
    for it in range(1, iters + 1):
        value, grads = value_and_grad(u0, v0, d0, target)
        history.append(value)
        params = [u0, v0]
        for k in range(2):
            m[k] = 0.9 * m[k] + 0.1 * grads[k]
            s[k] = 0.999 * s[k] + 0.001 * grads[k] ** 2
            params[k] = params[k] - lr * (m[k] / (1 - 0.9 ** it)) / (
                np.sqrt(s[k] / (1 - 0.999 ** it)) + 1e-8)
        u0, v0 = params
        if it % 10 == 1:
            print(f"iteration {it:3d}  loss {value:.4f}")
    final = loss(u0, v0, d0, target)
    secs = time.perf_counter() - t0
    print(f"loss: {history[0]:.4f} -> {final:.4f} ({final / history[0]:.1%} of the start) "
          f"in {iters} gradient steps, {secs:.2f}s")
    assert final < 0.1 * history[0]

    plt = pyplot()
    if plt is not None:
        before = simulate(np.zeros((N, N)), np.zeros((N, N)), d0)
        after = simulate(u0, v0, d0)
        panels = [(d0, "initial smoke"), (before, "final, at rest"),
                  (after, "final, optimised velocity"), (target, "target")]
        fig, axes = plt.subplots(1, 5, figsize=(16, 3.4))
        for ax, (img, title) in zip(axes, panels):
            ax.imshow(img, origin="lower", cmap="magma", vmin=0.0, vmax=1.0)
            ax.set_title(title)
            ax.set_xticks([])
            ax.set_yticks([])
        # the optimised initial velocity, every other cell, over the final density
        u, v = project(MAX_SPEED * np.tanh(u0), MAX_SPEED * np.tanh(v0))
        axes[2].quiver(np.arange(0, N, 2), np.arange(0, N, 2), u[::2, ::2], v[::2, ::2],
                       color="c", scale=8)
        axes[4].semilogy(history)
        axes[4].set_xlabel("iteration")
        axes[4].set_title("loss")
        save(fig, __file__)


if __name__ == "__main__":
    main()
