"""Quickstart: gradients, a Hessian and the generated code of the two lecture functions.

    f(x, y) = x*x*y + y + 2            at (3, 4):  gradient (24, 10), Hessian [[8, 6], [6, 0]]
    y = ln(x1) + x1*x2 - sin(x2)       at (2, 5):  gradient (5.5, 1.716)

Run: python examples/quickstart.py
"""

import math

import s2sad


def f(x, y):
    return x * x * y + y + 2


def g(x1, x2):
    return math.log(x1) + x1 * x2 - math.sin(x2)


def hessian_by_differences(fn, point, h=1e-5):
    """Each column of the Hessian is a central difference of the (exact) s2sad gradient.

    The gradient of f is linear in y and quadratic in x, so these differences are exact up to
    rounding (about 1e-10 here).
    """
    grad_fn = s2sad.grad(fn, wrt=(0, 1))
    n = len(point)
    columns = []
    for j in range(n):
        plus = list(point)
        minus = list(point)
        plus[j] += h
        minus[j] -= h
        gp, gm = grad_fn(*plus), grad_fn(*minus)
        columns.append([(gp[i] - gm[i]) / (2 * h) for i in range(n)])
    # columns[j][i] = d(grad_i)/d(x_j); return rows H[i][j]
    return [[columns[j][i] for j in range(n)] for i in range(n)]


def main():
    # 1. The gradient: grad returns a function; wrt=(0, 1) asks for both arguments.
    value, (dfdx, dfdy) = s2sad.value_and_grad(f, wrt=(0, 1))(3.0, 4.0)
    print(f"f(3, 4) = {value:g}")
    print(f"gradient of f at (3, 4): ({dfdx:g}, {dfdy:g})")
    assert (dfdx, dfdy) == (24.0, 10.0)

    # 2. The Hessian: s2sad.hessian if this version has it, otherwise central differences of
    #    the s2sad gradient (forward-over-reverse by hand).
    if hasattr(s2sad, "hessian"):
        how = "s2sad.hessian"
        H = s2sad.hessian(f, wrt=(0, 1))(3.0, 4.0)
        H = [[float(H[i][j]) for j in range(2)] for i in range(2)]
    else:
        how = "central differences of the s2sad gradient (this s2sad has no hessian)"
        H = hessian_by_differences(f, (3.0, 4.0))
    print(f"Hessian of f at (3, 4), by {how}:")
    for row in H:
        print("    [" + ", ".join(f"{v:8.4f}" for v in row) + "]")
    expected = [[8.0, 6.0], [6.0, 0.0]]
    assert all(abs(H[i][j] - expected[i][j]) < 1e-6 for i in range(2) for j in range(2)), H

    # 3. The second lecture function.
    dg1, dg2 = s2sad.grad(g, wrt=(0, 1))(2.0, 5.0)
    print(f"gradient of g at (2, 5): ({dg1:.4f}, {dg2:.4f})")
    # by hand: 1/x1 + x2 = 5.5 and x1 - cos(x2) = 1.7163
    assert abs(dg1 - 5.5) < 1e-12 and abs(dg2 - (2.0 - math.cos(5.0))) < 1e-12

    # 4. One directional derivative in forward mode: d/dt f(3 + t, 4).
    out, out_dot = s2sad.jvp(f, (3.0, 4.0), (1.0, 0.0))
    print(f"forward mode, direction (1, 0): f = {out:g}, df = {out_dot:g}")
    assert out_dot == 24.0

    # 5. The code s2sad generated: plain Python you can read and step through.
    print("\n# reverse mode, f")
    print(s2sad.emit(f, wrt=(0, 1)))
    print("# reverse mode, g")
    print(s2sad.emit(g, wrt=(0, 1)))
    print("# forward mode, f")
    print(s2sad.emit(f, mode="forward", wrt=(0, 1)))


if __name__ == "__main__":
    main()
