"""Forward mode two ways: dual numbers by operator overloading, and s2sad's generated code.

A dual number a + b·ε with ε² = 0 carries a value a and a tangent b: f(a + b·ε) =
f(a) + f'(a)·b·ε. Overloading + - * / and sin/exp/log on such numbers runs forward mode at
run time, one operation at a time. s2sad does the same chain rule once, ahead of time, and
writes it down as Python (`s2sad.emit(..., mode="forward")`); both give the same tangents.

Run: python examples/dual_numbers.py
"""

import numpy as np

import s2sad


class Dual:
    """value + tangent·ε, with ε² = 0."""

    def __init__(self, value, tangent=0.0):
        self.value = value
        self.tangent = tangent

    def __repr__(self):
        return f"Dual({self.value:.6g}, {self.tangent:.6g})"

    # The arithmetic rules; a plain number is a Dual with tangent 0.
    def __add__(self, other):
        other = lift(other)
        return Dual(self.value + other.value, self.tangent + other.tangent)

    def __sub__(self, other):
        other = lift(other)
        return Dual(self.value - other.value, self.tangent - other.tangent)

    def __mul__(self, other):                     # (a + bε)(c + dε) = ac + (ad + bc)ε
        other = lift(other)
        return Dual(self.value * other.value,
                    self.tangent * other.value + self.value * other.tangent)

    def __truediv__(self, other):                 # (a/c)' = (a' c - a c') / c²
        other = lift(other)
        return Dual(self.value / other.value,
                    (self.tangent * other.value - self.value * other.tangent)
                    / (other.value * other.value))

    def __neg__(self):
        return Dual(-self.value, -self.tangent)

    def __radd__(self, other):
        return lift(other) + self

    def __rsub__(self, other):
        return lift(other) - self

    def __rmul__(self, other):
        return lift(other) * self

    def __rtruediv__(self, other):
        return lift(other) / self

    # np.sin(dual) etc. call this hook; it looks the function up in DUAL_FUNCTIONS.
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method != "__call__" or ufunc not in DUAL_FUNCTIONS or kwargs:
            return NotImplemented
        return DUAL_FUNCTIONS[ufunc](*[lift(x) for x in inputs])


def lift(x):
    return x if isinstance(x, Dual) else Dual(float(x), 0.0)


# The elementary functions, each with its derivative: f(a + bε) = f(a) + f'(a) b ε.
def dual_sin(x):
    return Dual(np.sin(x.value), np.cos(x.value) * x.tangent)


def dual_cos(x):
    return Dual(np.cos(x.value), -np.sin(x.value) * x.tangent)


def dual_exp(x):
    e = np.exp(x.value)
    return Dual(e, e * x.tangent)


def dual_log(x):
    return Dual(np.log(x.value), x.tangent / x.value)


DUAL_FUNCTIONS = {
    np.sin: dual_sin, np.cos: dual_cos, np.exp: dual_exp, np.log: dual_log,
    np.add: Dual.__add__, np.subtract: Dual.__sub__, np.multiply: Dual.__mul__,
    np.divide: Dual.__truediv__, np.negative: Dual.__neg__,
}


# The same function is run on dual numbers and differentiated by s2sad: written with NumPy's
# functions, it works on floats (s2sad) and on Dual objects (through __array_ufunc__).
def g(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


def h(x, y):
    z = np.exp(x / y) * np.sin(x) - np.log(x * y)
    return z * z / (1.0 + y) - 3.0 * x


def dual_jvp(fn, primals, tangents):
    """Forward mode by overloading: seed each argument with its tangent, read the result."""
    out = fn(*[Dual(p, t) for p, t in zip(primals, tangents)])
    return out.value, out.tangent


def main():
    directions = [(1.0, 0.0), (0.0, 1.0), (0.6, -0.8)]
    for fn, point in [(g, (2.0, 5.0)), (h, (0.8, 1.3))]:
        print(f"{fn.__name__} at {point}")
        print(f"    {'direction':>14}  {'dual numbers':>20}  {'s2sad.jvp':>20}")
        for d in directions:
            v_dual, t_dual = dual_jvp(fn, point, d)
            v_s2s, t_s2s = s2sad.jvp(fn, point, d)
            print(f"    {d!s:>14}  {t_dual:20.15f}  {t_s2s:20.15f}")
            assert abs(v_dual - v_s2s) < 1e-12 * max(1.0, abs(v_s2s))
            assert abs(t_dual - t_s2s) < 1e-12 * max(1.0, abs(t_s2s)), (fn, d, t_dual, t_s2s)

    # The lecture numbers: the tangent along each axis is one component of the gradient.
    t1 = dual_jvp(g, (2.0, 5.0), (1.0, 0.0))[1]
    t2 = dual_jvp(g, (2.0, 5.0), (0.0, 1.0))[1]
    print(f"\ngradient of g at (2, 5) from two dual-number passes: ({t1:.4f}, {t2:.4f})")
    assert abs(t1 - 5.5) < 1e-12 and abs(t2 - 1.7163378145367738) < 1e-12

    # What s2sad wrote: the same rules as the Dual class, as straight-line code.
    print("\n# s2sad.emit(g, mode='forward', wrt=(0, 1))")
    print(s2sad.emit(g, mode="forward", wrt=(0, 1)))
    print("# s2sad.emit(h, mode='forward', wrt=(0, 1))")
    print(s2sad.emit(h, mode="forward", wrt=(0, 1)))


if __name__ == "__main__":
    main()
