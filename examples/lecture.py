"""The two lecture examples, end to end: Wengert list, generated reverse-mode code, gradient.

    f(x, y) = x*x*y + y + 2            at (3, 4):  grad = (24, 10)
    y = ln(x1) + x1*x2 - sin(x2)       at (2, 5):  grad = (5.5, 1.7163)

Run with `make demo`.
"""

import math

import s2sad


def f(x, y):
    return x * x * y + y + 2


def g(x1, x2):
    return math.log(x1) + x1 * x2 - math.sin(x2)


def show(fn, point):
    print("=" * 72)
    print(s2sad.wengert(fn, *point))
    print("# Generated reverse-mode code")
    print(s2sad.emit(fn, *point, wrt=(0, 1)))
    grads = s2sad.grad(fn, wrt=(0, 1))(*point)
    print(f"gradient of {fn.__name__} at {point}: ({grads[0]:.6g}, {grads[1]:.6g})")
    return grads


if __name__ == "__main__":
    gf = show(f, (3.0, 4.0))
    gg = show(g, (2.0, 5.0))
    assert gf == (24.0, 10.0), gf
    assert abs(gg[0] - 5.5) < 1e-12 and abs(gg[1] - 1.7163378145367738) < 1e-12, gg
