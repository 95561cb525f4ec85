"""Bayes by backprop: variational inference for Bayesian linear regression, by s2sad.

Model: y = X w + noise, noise ~ N(0, NOISE²) (known), prior w ~ N(0, PRIOR² I).
Variational posterior: q(w) = N(mu, diag(sigma²)), sigma = exp(log_sigma).

The negative ELBO is E_q[-log p(y | X, w)] + KL(q || prior). The expectation is estimated
with the reparameterisation w = mu + sigma * eps, eps ~ N(0, I): the samples eps are drawn
outside and passed in, so the function is deterministic and s2sad differentiates it with
respect to mu and log_sigma. Adam follows these noisy gradients.

For this model the answer is known exactly. The posterior is Gaussian with precision
Lambda = X^T X / NOISE² + I / PRIOR² and mean Lambda^-1 X^T y / NOISE², and the best
mean-field (diagonal) Gaussian has that same mean and standard deviations 1 / sqrt(Lambda_ii)
(smaller than the true marginal ones, sqrt((Lambda^-1)_ii), when the weights are correlated).

Run: python examples/bayes_by_backprop.py
"""

import time

import numpy as np
from _plot import pyplot, save

import s2sad

NOISE = 0.5      # known observation noise (standard deviation)
PRIOR = 1.0      # prior standard deviation of each weight
SAMPLES = 32     # Monte Carlo samples of w per gradient step


def negative_elbo(mu, log_sigma, eps, X, y):
    sigma = np.exp(log_sigma)
    W = mu + sigma * eps                          # (SAMPLES, d): samples from q
    residual = y - W @ X.T                        # (SAMPLES, n)
    expected_nll = 0.5 * np.sum(residual ** 2) / (NOISE ** 2 * eps.shape[0])
    kl = np.sum(np.log(PRIOR) - log_sigma + (sigma ** 2 + mu ** 2) / (2 * PRIOR ** 2) - 0.5)
    return expected_nll + kl


def normal_pdf(x, mean, sd):
    return np.exp(-0.5 * ((x - mean) / sd) ** 2) / (sd * np.sqrt(2 * np.pi))


def make_data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 2.0, n)
    X = np.stack([np.ones(n), x, x * x], axis=1)  # intercept, slope, curvature: correlated
    w_true = np.array([0.3, -0.8, 0.5])
    return X, X @ w_true + rng.normal(0.0, NOISE, n)


def main():
    X, y = make_data()
    d = X.shape[1]

    # Exact answers.
    precision = X.T @ X / NOISE ** 2 + np.eye(d) / PRIOR ** 2
    cov = np.linalg.inv(precision)
    exact_mean = cov @ X.T @ y / NOISE ** 2
    exact_sd = np.sqrt(np.diag(cov))                  # true marginal standard deviations
    mean_field_sd = 1.0 / np.sqrt(np.diag(precision))  # best diagonal Gaussian

    grad_elbo = s2sad.value_and_grad(negative_elbo, wrt=("mu", "log_sigma"))
    rng = np.random.default_rng(1)

    # Check the gradient once against central differences (same eps on both sides).
    mu, log_sigma = np.zeros(d), np.full(d, -1.0)
    eps = rng.normal(size=(SAMPLES, d))
    _, (g_mu, g_ls) = grad_elbo(mu, log_sigma, eps, X, y)
    h, e = 1e-6, np.eye(d)
    fd_mu = np.array([(negative_elbo(mu + h * e[i], log_sigma, eps, X, y)
                       - negative_elbo(mu - h * e[i], log_sigma, eps, X, y)) / (2 * h)
                      for i in range(d)])
    fd_ls = np.array([(negative_elbo(mu, log_sigma + h * e[i], eps, X, y)
                       - negative_elbo(mu, log_sigma - h * e[i], eps, X, y)) / (2 * h)
                      for i in range(d)])
    print("d(-ELBO)/dmu:        s2sad", np.round(g_mu, 6), " central", np.round(fd_mu, 6))
    print("d(-ELBO)/dlog_sigma: s2sad", np.round(g_ls, 6), " central", np.round(fd_ls, 6))
    assert np.allclose(g_mu, fd_mu, rtol=1e-6, atol=1e-6)
    assert np.allclose(g_ls, fd_ls, rtol=1e-6, atol=1e-6)

    # Adam on (mu, log_sigma), a fresh eps every step, step size decaying to 1/50.
    steps, lr0 = 4000, 0.05
    params = [mu, log_sigma]
    m = [np.zeros(d), np.zeros(d)]
    v = [np.zeros(d), np.zeros(d)]
    history = []
    t0 = time.perf_counter()
    for t in range(1, steps + 1):
        eps = rng.normal(size=(SAMPLES, d))
        value, grads = grad_elbo(params[0], params[1], eps, X, y)
        history.append(value)
        lr = lr0 * 0.02 ** (t / steps)
        for k in range(2):
            m[k] = 0.9 * m[k] + 0.1 * grads[k]
            v[k] = 0.999 * v[k] + 0.001 * grads[k] ** 2
            params[k] = params[k] - lr * (m[k] / (1 - 0.9 ** t)) / (
                np.sqrt(v[k] / (1 - 0.999 ** t)) + 1e-8)
    secs = time.perf_counter() - t0
    mu, sd = params[0], np.exp(params[1])
    print(f"{steps} Adam steps in {secs:.2f}s; -ELBO (noisy) from {history[0]:.2f} "
          f"to {np.mean(history[-200:]):.2f}")

    np.set_printoptions(precision=4, suppress=True)
    print(f"{'':24}{'intercept':>10}{'slope':>10}{'curvature':>10}")
    for name, row in [("fitted mean", mu), ("exact posterior mean", exact_mean),
                      ("fitted sd", sd), ("exact mean-field sd", mean_field_sd),
                      ("exact marginal sd", exact_sd)]:
        print(f"{name:24}" + "".join(f"{r:10.4f}" for r in row))
    mean_err = np.max(np.abs(mu - exact_mean) / exact_sd)
    sd_err = np.max(np.abs(sd / mean_field_sd - 1))
    print(f"max |mean error| = {mean_err:.3f} posterior sd; max sd error = {sd_err:.1%}")
    assert mean_err < 0.1 and sd_err < 0.1

    plt = pyplot()
    if plt is not None:
        fig, axes = plt.subplots(1, d, figsize=(12, 3.5))
        names = ["intercept", "slope", "curvature"]
        for i, ax in enumerate(axes):
            grid = np.linspace(exact_mean[i] - 4 * exact_sd[i], exact_mean[i] + 4 * exact_sd[i],
                               200)

            ax.plot(grid, normal_pdf(grid, exact_mean[i], exact_sd[i]), "k-",
                    label="exact marginal")
            ax.plot(grid, normal_pdf(grid, exact_mean[i], mean_field_sd[i]), "k--",
                    label="exact mean-field")
            ax.plot(grid, normal_pdf(grid, mu[i], sd[i]), "r:", lw=2, label="Bayes by backprop")
            ax.set_title(names[i])
        axes[0].legend(fontsize=8)
        save(fig, __file__)


if __name__ == "__main__":
    main()
