"""Differentiating through a solver: Newton's method in a `while` loop with a tolerance.

The number of iterations depends on the data, so the derivative code cannot be written down
in advance as straight-line code. s2sad's reverse mode counts the trips of the `while` loop
and saves on a tape what the backward sweep needs; the backward sweep then runs the same
number of trips in reverse. Printed below: look for `tape.append`, the counter and
`for ... in reversed(range(...))`.

The result is compared with the implicit function theorem: if F(x, p) = 0 defines x(p),
then dx/dp = -(dF/dp) / (dF/dx) at the solution.

Run: python examples/newton_while.py
"""

import math

import s2sad


def newton_sqrt(a):
    """sqrt(a) as the root of F(x, a) = x*x - a."""
    x = a
    while abs(x * x - a) > 1e-12 * a:
        x = 0.5 * (x + a / x)
    return x


def kepler(M, e):
    """The eccentric anomaly E solving Kepler's equation F(E; M, e) = E - e sin E - M = 0."""
    E = M
    while abs(E - e * math.sin(E) - M) > 1e-14:
        E = E - (E - e * math.sin(E) - M) / (1.0 - e * math.cos(E))
    return E


def main():
    # 1. sqrt: F = x^2 - a, so dx/da = -(-1) / (2x) = 1 / (2 sqrt(a))
    print(f"{'a':>6}  {'sqrt by Newton':>16}  {'d/da by s2sad':>16}  {'1/(2 sqrt a)':>16}")
    for a in [0.25, 2.0, 9.0, 1e4]:
        x, dx = s2sad.value_and_grad(newton_sqrt)(a)
        ift = 1.0 / (2.0 * x)
        print(f"{a:6g}  {x:16.12f}  {dx:16.12f}  {ift:16.12f}")
        assert abs(x - math.sqrt(a)) < 1e-10 * math.sqrt(a)
        assert abs(dx - ift) < 1e-10 * abs(ift)

    # 2. Kepler's equation, gradient with respect to both parameters:
    #    dF/dE = 1 - e cos E,  dF/dM = -1,  dF/de = -sin E
    M, e = 1.2, 0.6
    E, (dE_dM, dE_de) = s2sad.value_and_grad(kepler, wrt=("M", "e"))(M, e)
    denom = 1.0 - e * math.cos(E)
    ift_M, ift_e = 1.0 / denom, math.sin(E) / denom
    print(f"\nKepler: E({M}, {e}) = {E:.12f}, residual {E - e * math.sin(E) - M:.1e}")
    print(f"dE/dM: s2sad {dE_dM:.12f}, implicit function theorem {ift_M:.12f}")
    print(f"dE/de: s2sad {dE_de:.12f}, implicit function theorem {ift_e:.12f}")
    assert abs(dE_dM - ift_M) < 1e-10 and abs(dE_de - ift_e) < 1e-10

    # Forward mode needs no tape: tangents travel beside the loop variables.
    _, dE_fwd = s2sad.jvp(kepler, (M, e), (0.0, 1.0))
    print(f"dE/de by forward mode: {dE_fwd:.12f}")
    assert abs(dE_fwd - ift_e) < 1e-10

    print("\n# reverse mode: the while loop counts its trips and tapes what the sweep reads")
    print(s2sad.emit(newton_sqrt, 2.0))
    print(s2sad.emit(kepler, 1.2, 0.6, wrt=(0, 1)))
    print("# forward mode")
    print(s2sad.emit(kepler, 1.2, 0.6, mode="forward", wrt=(0, 1)))


if __name__ == "__main__":
    main()
