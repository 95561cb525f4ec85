"""Finite differences against the exact derivative: truncation error, then rounding error.

One-sided  (f(x+h) - f(x)) / h          error ~ h |f''| / 2   +  eps |f| / h
Central    (f(x+h) - f(x-h)) / (2h)     error ~ h^2 |f'''| / 6 + eps |f| / h

As h shrinks the truncation error falls until the cancellation in f(x+h) - f(x) takes over;
the best h is about sqrt(eps) ~ 1e-8 one-sided and cbrt(eps) ~ 1e-5 central. The exact
derivative from s2sad has neither error. Run: python examples/finite_differences.py
"""

import math

from _plot import pyplot, save

import s2sad


def f(x):
    return math.exp(math.sin(x)) / (1.0 + x * x)


X0 = 0.7


def main():
    exact = s2sad.grad(f)(X0)
    # by hand: f' = f * (cos x - 2x / (1 + x^2))
    by_hand = f(X0) * (math.cos(X0) - 2 * X0 / (1 + X0 * X0))
    print(f"f'({X0}) by s2sad = {exact:.17g}   (by hand {by_hand:.17g})")
    assert abs(exact - by_hand) < 1e-15

    hs = [10.0 ** -k for k in range(1, 16)]
    one_sided, central = [], []
    print(f"\n{'h':>7}  {'one-sided error':>15}  {'central error':>13}")
    for h in hs:
        d1 = (f(X0 + h) - f(X0)) / h
        d2 = (f(X0 + h) - f(X0 - h)) / (2 * h)
        one_sided.append(abs(d1 - exact))
        central.append(abs(d2 - exact))
        print(f"{h:7.0e}  {one_sided[-1]:15.3e}  {central[-1]:13.3e}")

    i1 = min(range(len(hs)), key=lambda i: one_sided[i])
    i2 = min(range(len(hs)), key=lambda i: central[i])
    print(f"\nbest one-sided: h = {hs[i1]:.0e}, error {one_sided[i1]:.2e}")
    print(f"best central:   h = {hs[i2]:.0e}, error {central[i2]:.2e}")
    print(f"central error at h = 1e-1: {central[0]:.2e}, at h = 1e-15: {central[-1]:.2e}")
    # Truncation error dominates at h = 1e-1 and rounding error at h = 1e-15; in between the
    # central difference is many orders of magnitude better than at either end.
    assert central[i2] < 1e-4 * central[0] and central[i2] < 1e-4 * central[-1]
    assert 1e-7 <= hs[i2] <= 1e-3 and 1e-10 <= hs[i1] <= 1e-6

    plt = pyplot()
    if plt is not None:
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.loglog(hs, one_sided, "o-", label="one-sided  (f(x+h) - f(x)) / h")
        ax.loglog(hs, central, "s-", label="central  (f(x+h) - f(x-h)) / 2h")
        eps = 2.0 ** -52
        ax.loglog(hs, [eps / h for h in hs], "k:", label="eps / h (rounding)")
        ax.set_xlabel("h")
        ax.set_ylabel("|error| against the s2sad derivative")
        ax.set_title(f"f(x) = exp(sin x) / (1 + x²) at x = {X0}")
        ax.invert_xaxis()
        ax.legend(fontsize=8)
        save(fig, __file__)


if __name__ == "__main__":
    main()
