"""A seeded generator of plausible user functions, for the fuzzer (`tools/fuzz.py`, issue #12).

``generate(seed)`` returns the source text of a module with a function ``f`` (and module-level
helpers it calls) written the way people write NumPy code: scalar and array arithmetic with
broadcasting, reductions with axes and keepdims, matmul, slicing and fancy indexing,
``np.where``, elementwise functions on safe domains, ``for`` loops over ``range``, over rows and
over tuples, ``while`` loops with a data-dependent exit, branches on data, ``break`` and
``continue``, early returns, helpers with defaults and tuple results, closures and lambdas,
dict/list/tuple arguments and results, in-place updates of arrays and their aliases and views,
buffers filled in loops, lists appended to and stacked.  The module also defines
``make_args()``, which builds the arguments (seeded), so a module is a self-contained
reproducer.

Every value's shape is known while generating, so the program is well typed; whether it runs
and gives finite values is checked by running it (``fuzzcheck.accept``), and the caller draws
again when it does not.  Each feature is one name in `FEATURES`; ``generate(seed,
without={...})`` leaves features out, which helps to tell which construct a failure needs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

FEATURES = (
    "arith", "div", "unary", "math", "kink", "reduce", "keepdims", "broadcast", "matmul",
    "slice", "fancy", "where", "ifexp", "reshape", "stack", "for", "for_rows", "for_tuple",
    "while", "if", "break", "return_early", "helper", "defaults", "tuple_ret", "closure",
    "lambda", "inplace", "alias", "view", "setitem", "buffer", "append", "copy", "swap",
    "container_arg", "container_out", "int_arg", "npscalar_arg", "npfun", "globals",
    "builtin_minmax", "loop_else", "star_call", "namedtuple", "nested_grad", "recursion",
    "comprehension", "custom_rule",
)

Shape = tuple  # () is a scalar

SHAPES = [(), (), (3,), (2,), (4,), (2, 3), (3, 2), (2, 1), (1, 3), (3, 3)]
SCALAR_UNARY = ["np.tanh({})", "np.sin({})", "np.cos({})", "np.exp(0.5 * np.tanh({}))",
                "np.log(1.0 + {} ** 2)", "np.sqrt(1.0 + {} ** 2)", "({} ** 2)", "(-{})",
                "np.arctan({})", "np.square({})", "(1.0 / (1.0 + np.exp(-{})))",
                "np.log1p({} ** 2)", "np.expm1(0.3 * np.sin({}))"]
MATH_UNARY = ["math.tanh({})", "math.sin({})", "math.cos({})", "math.exp(0.5 * math.tanh({}))",
              "math.log(1.0 + {} ** 2)", "math.sqrt(1.0 + {} * {})", "math.atan({})"]
KINKS = ["abs({})", "np.abs({})", "np.maximum({}, {})", "np.minimum({}, {})"]


@dataclass
class Var:
    shape: Shape
    base: str          # the array this value's memory belongs to ("" for a fresh value)
    is_arg: bool = False
    kind: str = "f"    # "f" float value, "i" int (a loop index), "c" a container
    uses: int = 0
    view: bool = False  # a view of `base` (s2sad refuses writes into views)


@dataclass
class Scope:
    vars: dict[str, Var] = field(default_factory=dict)
    ints: dict[str, int] = field(default_factory=dict)   # loop index -> exclusive bound
    depth: int = 0           # statement nesting
    in_loop: bool = False
    atoms: dict[str, Shape] = field(default_factory=dict)  # readable non-names: p["w"]


def size(s: Shape) -> int:
    n = 1
    for d in s:
        n *= d
    return n


class Gen:
    """One program: `lines` of `f`, module-level `helpers`, argument builders."""

    def __init__(self, seed: int, without: frozenset[str] = frozenset()) -> None:
        self.r = random.Random(seed)
        self.seed = seed
        self.on = {f for f in FEATURES if f not in without}
        self.n = 0
        self.helpers: list[str] = []
        self.n_helpers = 0
        self.globals: list[tuple[str, Shape]] = []
        self.uses_s2sad = False
        self.helper_sigs: list[tuple[str, list[tuple[str, Shape, str | None]], tuple]] = []
        self.in_helper = 0
        self.lines: list[str] = []
        self.out_kind = "scalar"
        self.out_shapes: list[Shape] = []

    # -- small helpers -----------------------------------------------------------------------
    def has(self, feat: str) -> bool:
        return feat in self.on

    def p(self, prob: float) -> bool:
        return self.r.random() < prob

    def name(self, prefix: str = "v") -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def const(self) -> str:
        return self.r.choice(["0.5", "1.5", "0.25", "2.0", "0.1", "0.75", "1.0", "0.3"])

    def sub_shape(self, s: Shape) -> Shape:
        """A shape that broadcasts to `s`."""
        if not s or not self.has("broadcast"):
            return s
        r = self.r.random()
        if r < 0.55:
            return s
        if r < 0.7:
            return ()
        if r < 0.85 and len(s) > 1:
            return s[self.r.randint(1, len(s) - 1):]
        return tuple(1 if self.p(0.5) else d for d in s)

    # -- expressions -------------------------------------------------------------------------
    def pick_var(self, sc: Scope, s: Shape) -> str | None:
        names = [n for n, v in sc.vars.items() if v.kind == "f" and v.shape == s]
        names += [a for a, sh in sc.atoms.items() if sh == s]
        if not names:
            return None
        # prefer values not read yet, so that most of the program reaches the result
        names.sort(key=lambda n: sc.vars[n].uses if n in sc.vars else 0)
        k = names[0] if self.p(0.5) else self.r.choice(names)
        if k in sc.vars:
            sc.vars[k].uses += 1
        return k

    def atom(self, sc: Scope, s: Shape) -> str:
        v = self.pick_var(sc, s)
        if v is not None and self.p(0.85):
            return v
        if s == () and sc.ints and self.p(0.3):
            i = self.r.choice(sorted(sc.ints))
            return f"({i} * {self.const()})"
        # from a value of another shape
        others = [n for n, x in sc.vars.items() if x.kind == "f" and x.shape != s]
        if others and self.p(0.9):
            others.sort(key=lambda n: sc.vars[n].uses)
            o = others[0] if self.p(0.5) else self.r.choice(others)
            sc.vars[o].uses += 1
            os_ = sc.vars[o].shape
            if os_ and not self.broadcasts(os_, s):
                if self.has("reduce") and self.p(0.6):
                    o = self.r.choice([f"np.sum({o})", f"np.mean({o})", f"{o}.sum()"])
                else:
                    o = f"{o}[{', '.join(str(self.r.randint(0, d - 1)) for d in os_)}]"
                if s == ():
                    return o
            if s == ():
                return o
            return self.r.choice([f"({o} + np.zeros({s!r}))", f"({o} * np.ones({s!r}))"])
        if v is not None:
            return v
        if s == ():
            return self.const()
        return self.r.choice([f"np.ones({s!r})", f"np.full({s!r}, {self.const()})",
                              f"np.linspace(-1.0, 1.0, {size(s)}).reshape({s!r})"])

    @staticmethod
    def broadcasts(a: Shape, s: Shape) -> bool:
        if len(a) > len(s):
            return False
        return all(x == 1 or x == y for x, y in zip(reversed(a), reversed(s)))

    def expr(self, sc: Scope, s: Shape, d: int) -> str:
        if d <= 0 or self.p(0.2):
            return self.atom(sc, s)
        kinds = []
        if self.has("arith"):
            kinds += ["arith"] * 6
        if self.has("div"):
            kinds.append("div")
        if self.has("unary"):
            kinds += ["unary"] * 3
        if self.has("math") and s == ():
            kinds.append("math")
        if self.has("kink"):
            kinds.append("kink")
        if self.has("reduce") and len(s) <= 2:
            kinds += ["reduce"] * 2
        if self.has("matmul") and len(s) <= 2:
            kinds.append("matmul")
        if self.has("slice"):
            kinds += ["index", "slice"]
        if self.has("fancy") and s:
            kinds.append("fancy")
        if self.has("where"):
            kinds.append("where")
        if self.has("ifexp") and s == ():
            kinds.append("ifexp")
        if self.has("reshape") and s:
            kinds.append("reshape")
        if self.has("stack") and s:
            kinds.append("stack")
        if self.has("helper") and self.in_helper < 2:
            kinds.append("call")
        if self.has("npfun"):
            kinds += ["npfun"] * 2
        if self.has("builtin_minmax") and self.has("kink") and s == ():
            kinds.append("minmax")
        if self.has("nested_grad") and self.has("helper") and self.in_helper == 0 and s and \
                self.p(0.3):
            kinds.append("nested_grad")
        if self.globals and self.p(0.3):
            kinds.append("glob")
        if self.has("recursion") and self.in_helper == 0 and self.p(0.15):
            kinds.append("rec")
        if self.has("comprehension") and (s == () or s[0] <= 4) and self.p(0.3):
            kinds.append("comp")
        if self.has("custom_rule") and self.p(0.1):
            kinds.append("custom")
        if sc.vars.get("__lambdas__") is not None:
            pass
        calls = [n for n, v in sc.vars.items() if v.kind == "fn" and v.shape == s]
        if calls:
            kinds += ["local_call"] * 2
        k = self.r.choice(kinds) if kinds else "atom"
        out = getattr(self, "e_" + k)(sc, s, d - 1) if k != "atom" else None
        return out if out is not None else self.atom(sc, s)

    def e_arith(self, sc: Scope, s: Shape, d: int) -> str:
        op = self.r.choice(["+", "-", "*", "+", "*"])
        if len(s) == 2 and s[0] > 1 and s[1] > 1 and self.has("broadcast") and self.p(0.15):
            a, b = (s[0], 1), (s[1],) if self.p(0.5) else (1, s[1])
        else:
            a, b = s, self.sub_shape(s)
            if self.p(0.5):
                a, b = b, a
        return f"({self.expr(sc, a, d)} {op} {self.expr(sc, b, d)})"

    def e_div(self, sc: Scope, s: Shape, d: int) -> str:
        den = self.expr(sc, self.sub_shape(s), d)
        form = self.r.choice(["(1.0 + {} ** 2)", "(2.0 + np.sin({}))", "(1.5 + np.tanh({}))"])
        return f"({self.expr(sc, s, d)} / {form.format(den)})"

    def e_unary(self, sc: Scope, s: Shape, d: int) -> str:
        form = self.r.choice(SCALAR_UNARY)
        if "** 2" in form and not form.startswith("np.log") and d > 1:
            d = 1  # keep powers of powers small
        return form.format(self.expr(sc, s, d))

    def e_math(self, sc: Scope, s: Shape, d: int) -> str:
        form = self.r.choice(MATH_UNARY)
        e = self.expr(sc, s, d)
        return form.format(*([e] * form.count("{}")))

    def e_kink(self, sc: Scope, s: Shape, d: int) -> str:
        form = self.r.choice(KINKS)
        if form.count("{}") == 2:
            return form.format(self.expr(sc, s, d), self.expr(sc, self.sub_shape(s), d))
        return form.format(self.expr(sc, s, d))

    def e_reduce(self, sc: Scope, s: Shape, d: int) -> str:
        fn = self.r.choice(["np.sum", "np.sum", "np.mean", "np.max", "np.min", "np.prod", ".sum",
                            ".mean"])
        if fn in ("np.max", "np.min") and not self.has("kink"):
            fn = "np.sum"
        if s == ():
            src = self.r.choice([(3,), (2, 3), (2,), (3, 2)])
            e = self.expr(sc, src, d)
            if fn == "np.prod":
                e = f"np.tanh({e})"
            return f"{e}{fn}()" if fn.startswith(".") else f"{fn}({e})"
        if self.has("keepdims") and 1 in s and self.p(0.4):
            k = s.index(1)
            src = s[:k] + (self.r.choice([2, 3]),) + s[k + 1:]
            e = self.expr(sc, src, d)
            axis = k if self.p(0.7) else k - len(src)
            if fn.startswith("."):
                return f"{e}{fn}(axis={axis}, keepdims=True)"
            return f"{fn}({e}, axis={axis}, keepdims=True)"
        k = self.r.randint(0, len(s))
        src = s[:k] + (self.r.choice([2, 3, 4]),) + s[k:]
        e = self.expr(sc, src, d)
        if fn == "np.prod":
            e = f"np.tanh({e})"
        axis = k if self.p(0.7) else k - len(src)
        if fn.startswith("."):
            return f"{e}{fn}(axis={axis})"
        return f"{fn}({e}, axis={axis})"

    def e_matmul(self, sc: Scope, s: Shape, d: int) -> str:
        k = self.r.choice([2, 3, 4])
        if s == ():
            a, b = (k,), (k,)
        elif len(s) == 1:
            a, b = ((s[0], k), (k,)) if self.p(0.6) else ((k,), (k, s[0]))
        else:
            a, b = (s[0], k), (k, s[1])
        ea, eb = self.expr(sc, a, d), self.expr(sc, b, d)
        form = self.r.choice(["({} @ {})", "np.dot({}, {})", "np.matmul({}, {})", "{}.dot({})"])
        if s == () and form == "np.matmul({}, {})":
            form = "np.dot({}, {})"
        if form == "{}.dot({})" and not ea.endswith(")") and not ea.isidentifier():
            form = "np.dot({}, {})"
        return form.format(ea, eb)

    def e_index(self, sc: Scope, s: Shape, d: int) -> str:
        if len(s) >= 2:
            return None  # type: ignore[return-value]
        m = self.r.choice([2, 3, 4])
        if sc.ints and self.p(0.4):
            i = self.r.choice(sorted(sc.ints))
            m = max(m, sc.ints[i])
            return f"{self.expr(sc, (m,) + s, d)}[{i}]"
        i = self.r.randint(-m, m - 1)
        if self.p(0.3) and s:
            return f"{self.expr(sc, s + (m,), d)}[:, {i}]"
        if self.p(0.2) and s == ():
            m2 = self.r.choice([2, 3])
            return f"{self.expr(sc, (m, m2), d)}[{i}, {self.r.randint(0, m2 - 1)}]"
        return f"{self.expr(sc, (m,) + s, d)}[{i}]"

    def e_slice(self, sc: Scope, s: Shape, d: int) -> str:
        if not s:
            return self.e_index(sc, s, d)
        n, rest = s[0], s[1:]
        form = self.r.choice(["1:", ":n", "x:", "::2", "::-1", "1:n+1", "none", "ell"])
        if form == "1:":
            return f"{self.expr(sc, (n + 1,) + rest, d)}[1:]"
        if form == ":n":
            return f"{self.expr(sc, (n + 1,) + rest, d)}[:{n}]"
        if form == "x:":
            return f"{self.expr(sc, (n + 2,) + rest, d)}[-{n}:]"
        if form == "::2":
            return f"{self.expr(sc, (2 * n - 1,) + rest, d)}[::2]"
        if form == "::-1":
            return f"{self.expr(sc, s, d)}[::-1]"
        if form == "1:n+1":
            return f"{self.expr(sc, (n + 2,) + rest, d)}[1:{n + 1}]"
        if form == "none" and n == 1:
            return f"{self.expr(sc, rest, d)}[None]" if rest else None  # type: ignore
        if form == "ell" and len(s) == 2 and s[1] == 1:
            return f"{self.expr(sc, (s[0],), d)}[:, None]"
        return f"{self.expr(sc, s, d)}[...]" if self.p(0.3) else None  # type: ignore

    def e_fancy(self, sc: Scope, s: Shape, d: int) -> str:
        n, rest = s[0], s[1:]
        m = self.r.choice([2, 3, 4])
        idx = [self.r.randint(0, m - 1) for _ in range(n)]
        if self.p(0.3) and not rest and n <= 3:
            m2 = self.r.choice([2, 3])
            jdx = [self.r.randint(0, m2 - 1) for _ in range(n)]
            return f"{self.expr(sc, (m, m2), d)}[{idx}, {jdx}]"
        if self.p(0.2) and not rest:
            mask = [True] * n + [False] * (m)
            self.r.shuffle(mask)
            return f"{self.expr(sc, (len(mask),), d)}[np.array({mask})]"
        if self.p(0.4):
            return f"{self.expr(sc, (m,) + rest, d)}[np.array({idx})]"
        return f"{self.expr(sc, (m,) + rest, d)}[{idx}]"

    def cond(self, sc: Scope, d: int) -> str:
        op = self.r.choice([">", "<", ">=", "<="])
        return f"{self.expr(sc, (), max(d, 1))} {op} {self.r.choice(['0.0', '0.5', '-0.3', '1.0'])}"

    def e_where(self, sc: Scope, s: Shape, d: int) -> str:
        c = self.expr(sc, self.sub_shape(s), d)
        t = self.r.choice(["0.0", "0.2", "-0.4"])
        return (f"np.where({c} > {t}, {self.expr(sc, s, d)}, "
                f"{self.expr(sc, self.sub_shape(s), d)})")

    def e_ifexp(self, sc: Scope, s: Shape, d: int) -> str:
        return f"({self.expr(sc, s, d)} if {self.cond(sc, d)} else {self.expr(sc, s, d)})"

    def e_reshape(self, sc: Scope, s: Shape, d: int) -> str:
        if len(s) == 2 and self.p(0.4):
            return f"{self.expr(sc, (s[1], s[0]), d)}.T"
        if len(s) == 1 and s[0] in (4, 6):
            src = (2, s[0] // 2)
            form = self.r.choice(["{}.ravel()", "{}.reshape(-1)", f"np.reshape({{}}, ({s[0]},))",
                                  "{}.flatten()"])
            return form.format(self.expr(sc, src, d))
        if len(s) == 2 and size(s) in (4, 6):
            src = (size(s),)
            return f"{self.expr(sc, src, d)}.reshape({s[0]}, {s[1]})"
        if len(s) == 2 and s[0] == 1:
            return f"np.expand_dims({self.expr(sc, s[1:], d)}, 0)"
        return None  # type: ignore[return-value]

    def e_stack(self, sc: Scope, s: Shape, d: int) -> str:
        k, rest = s[0], s[1:]
        if k > 4:
            return None  # type: ignore[return-value]
        if not rest and self.p(0.4):
            return f"np.array([{', '.join(self.expr(sc, (), d) for _ in range(k))}])"
        if self.p(0.3) and k >= 2 and s:
            a = self.r.randint(1, k - 1)
            return (f"np.concatenate([{self.expr(sc, (a,) + rest, d)}, "
                    f"{self.expr(sc, (k - a,) + rest, d)}])")
        return f"np.stack([{', '.join(self.expr(sc, rest, d) for _ in range(k))}])"

    def e_npfun(self, sc: Scope, s: Shape, d: int) -> str | None:
        """Other NumPy functions with their shapes: outer, cumsum, clip, flip, roll, ..."""
        r = self.r
        opts: list[str] = []
        if len(s) == 2:
            opts += ["outer", "tile", "concat1", "einsum_ij", "swap", "diag2"]
        if len(s) == 1:
            opts += ["einsum_i", "diag1", "hypot"]
        if s == ():
            opts += ["norm", "trace", "var", "logsumexp", "einsum_s"]
        if s:
            opts += ["cumsum", "clip", "flip", "roll", "squeeze"]
        k = r.choice(opts)
        e = lambda sh: self.expr(sc, sh, d)
        if k == "outer":
            return f"np.outer({e((s[0],))}, {e((s[1],))})"
        if k == "tile" and s[0] % 2 == 0:
            return f"np.tile({e((s[0] // 2, s[1]))}, (2, 1))"
        if k == "concat1" and s[1] >= 2:
            a = r.randint(1, s[1] - 1)
            return f"np.concatenate([{e((s[0], a))}, {e((s[0], s[1] - a))}], axis=1)"
        if k == "einsum_ij":
            m = r.choice([2, 3])
            return f"np.einsum('ik,kj->ij', {e((s[0], m))}, {e((m, s[1]))})"
        if k == "swap":
            return f"np.swapaxes({e((s[1], s[0]))}, 0, 1)"
        if k == "diag2" and s[0] == s[1]:
            return f"np.diag({e((s[0],))})"
        if k == "einsum_i":
            m = r.choice([2, 3])
            return f"np.einsum('ij,j->i', {e((s[0], m))}, {e((m,))})"
        if k == "diag1":
            return f"np.diag({e((s[0], s[0]))})"
        if k == "hypot":
            return f"np.hypot({e(s)}, 1.0 + {e(self.sub_shape(s))} ** 2)"
        if k == "norm":
            return f"np.linalg.norm(1.0 + {e(r.choice([(3,), (2, 3)]))} ** 2)"
        if k == "trace":
            n = r.choice([2, 3])
            return f"np.trace({e((n, n))})"
        if k == "var":
            return f"np.var({e((r.choice([3, 4]),))})"  # std: sqrt(0) of constant rows
        if k == "logsumexp":
            v = e(r.choice([(3,), (2, 3)]))
            return f"np.log(np.sum(np.exp(np.tanh({v}))))"
        if k == "einsum_s":
            m = r.choice([2, 3])
            return f"np.einsum('i,i->', {e((m,))}, {e((m,))})"
        if k == "cumsum":
            ax = r.randint(0, len(s) - 1)
            return f"np.cumsum({e(s)}, axis={ax})"
        if k == "clip" and self.has("kink"):
            return f"np.clip({e(s)}, -0.5, 0.8)"
        if k == "flip":
            return f"np.flip({e(s)}, axis={r.randint(0, len(s) - 1)})"
        if k == "roll":
            return f"np.roll({e(s)}, {r.choice([1, -1, 2])}, axis={r.randint(0, len(s) - 1)})"
        if k == "squeeze":
            ax = r.randint(0, len(s))
            return f"np.squeeze({e(s[:ax] + (1,) + s[ax:])}, axis={ax})"
        return None

    def e_minmax(self, sc: Scope, s: Shape, d: int) -> str:
        return f"{self.r.choice(['max', 'min'])}({self.expr(sc, (), d)}, {self.expr(sc, (), d)})"

    def e_glob(self, sc: Scope, s: Shape, d: int) -> str:
        name, gs = self.r.choice(self.globals)
        if gs == s or gs == () or self.broadcasts(gs, s):
            return f"({name} * {self.expr(sc, s, d)})"
        return None  # type: ignore[return-value]

    def e_nested_grad(self, sc: Scope, s: Shape, d: int) -> str:
        """The gradient of a scalar helper, called inside f (differentiated twice)."""
        fits = [h for h in self.helper_sigs if h[2] == ((),) and h[1][0][1] == s and
                all(df is None for _, _, df in h[1])]
        sig = self.r.choice(fits) if fits else self.make_helper((), nret=1, first=s,
                                                               defaults=False)
        name, params, _ = sig
        args = [self.expr(sc, ps, d) for pn, ps, df in params if df is None]
        self.uses_s2sad = True
        return f"s2sad.grad({name})({', '.join(args)})"

    def e_rec(self, sc: Scope, s: Shape, d: int) -> str:
        """A recursive helper: depth known when generating (an int), or set by the data."""
        self.n_helpers += 1
        name = f"rec{self.n_helpers}"
        step = self.r.choice(["0.8 * a + 0.3 * np.tanh(a)", "a * 0.5 + np.sin(a) * 0.25"])
        if self.p(0.5):
            self.helpers.append(f"def {name}(a, n):\n    if n == 0:\n        return a\n"
                                f"    return {name}({step}, n - 1)")
            return f"{name}({self.expr(sc, s, d)}, {self.r.randint(0, 3)})"
        probe = "np.sum(a)" if s else "a"
        self.helpers.append(f"def {name}(a):\n    if {probe} > 2.0:\n        return a\n"
                            f"    return {name}(a + 0.5 + 0.1 * np.tanh(a))")
        return f"{name}({self.expr(sc, s, d)})"

    def e_comp(self, sc: Scope, s: Shape, d: int) -> str:
        """A list comprehension or generator expression over range(k)."""
        q = "ci"
        while q in sc.ints:
            q += "i"
        k = s[0] if s else self.r.randint(1, 4)
        sc.ints[q] = k
        try:
            item = self.expr(sc, s[1:] if s else (), d)
        finally:
            del sc.ints[q]
        if s == ():
            form = self.r.choice(["sum({} for {} in range({}))", "sum([{} for {} in range({})])"])
            return form.format(item, q, k)
        if len(s) == 1 and self.p(0.4):
            return f"np.array([{item} for {q} in range({k})])"
        return f"np.stack([{item} for {q} in range({k})])"

    def e_custom(self, sc: Scope, s: Shape, d: int) -> str:
        """A helper with user derivative rules (right ones): adjoint, tangent or both."""
        self.n_helpers += 1
        name = f"cu{self.n_helpers}"
        body, deriv = self.r.choice([("a * a + np.sin(a)", "(2.0 * a + np.cos(a))"),
                                     ("np.tanh(a) * 2.0", "2.0 * (1.0 - np.tanh(a) ** 2)"),
                                     ("a * np.exp(0.1 * a)", "np.exp(0.1 * a) * (1.0 + 0.1 * a)")])
        lines = [f"def {name}(a):", f"    return {body}", ""]
        which = self.r.choice(["adjoint", "tangent", "both"])
        if which in ("adjoint", "both"):
            lines.append(f"s2sad.custom_adjoint({name}, lambda g, ans, a: g * {deriv})")
        if which in ("tangent", "both"):
            lines.append(f"s2sad.custom_tangent({name}, lambda t, ans, a: t * {deriv})")
        self.helpers.append("\n".join(lines))
        self.uses_s2sad = True
        return f"{name}({self.expr(sc, s, d)})"

    def e_local_call(self, sc: Scope, s: Shape, d: int) -> str:
        calls = [n for n, v in sc.vars.items() if v.kind == "fn" and v.shape == s]
        n = self.r.choice(calls)
        sc.vars[n].uses += 1
        pshape = sc.vars[n].base_shape  # type: ignore[attr-defined]
        return f"{n}({self.expr(sc, pshape, d)})"

    def e_call(self, sc: Scope, s: Shape, d: int) -> str:
        fits = [h for h in self.helper_sigs if h[2] and h[2][0] == s]
        if fits and self.p(0.6):
            name, params, rets = self.r.choice(fits)
        else:
            name, params, rets = self.make_helper(s)
        args = []
        kw = []
        for pn, ps, default in params:
            if default is None or self.p(0.4):
                args.append(self.expr(sc, ps, d))
            elif self.p(0.4):
                kw.append(f"{pn}={self.expr(sc, ps, d)}")
            else:
                break  # the rest take their defaults
        if self.has("star_call") and not kw and len(args) >= 2 and self.p(0.15):
            call = f"{name}(*({', '.join(args)},))"
        else:
            call = f"{name}({', '.join(args + kw)})"
        return call + "[0]" if len(rets) > 1 else call

    # -- helpers and statements --------------------------------------------------------------
    def make_helper(self, ret: Shape, nret: int | None = None, first: Shape | None = None,
                    defaults: bool = True) -> tuple:
        self.n_helpers += 1
        name = f"h{self.n_helpers}"
        sc = Scope()
        params = []
        for j in range(self.r.randint(1, 3)):
            ps = first if j == 0 and first is not None else self.r.choice(SHAPES)
            pn = "abcd"[j]
            params.append((pn, ps, None))
            sc.vars[pn] = Var(ps, pn, is_arg=True)
        if self.has("defaults") and defaults and self.p(0.5):
            params.append(("s", (), self.const()))
            sc.vars["s"] = Var((), "s", is_arg=True)
        if nret is None:
            nret = 2 if self.has("tuple_ret") and self.p(0.3) else 1
        rets = (ret,) + tuple(self.r.choice(SHAPES) for _ in range(nret - 1))
        sig = (name, params, rets)
        self.in_helper += 1
        saved, self.lines = self.lines, []
        for _ in range(self.r.randint(0, 3)):
            self.stmt(sc, 1, simple=True)
        body = self.lines
        self.lines = saved
        vals = [self.expr(sc, r, 2) for r in rets]
        self.in_helper -= 1
        plist = ", ".join(pn if df is None else f"{pn}={df}" for pn, _, df in params)
        src = [f"def {name}({plist}):"] + ["    " + ln for ln in body]
        src.append(f"    return {', '.join(vals)}")
        self.helpers.append("\n".join(src))
        self.helper_sigs.append(sig)
        return sig

    def emit(self, sc: Scope, line: str) -> None:
        self.lines.append("    " * sc.depth + line)

    def float_locals(self, sc: Scope, arrays: bool | None = None) -> list[str]:
        out = []
        for n, v in sc.vars.items():
            if v.kind != "f" or v.is_arg and self.in_helper == 0 and self.p(0.7):
                continue
            if arrays is None or bool(v.shape) == arrays:
                out.append(n)
        return out

    def writable(self, sc: Scope) -> list[str]:
        """Arrays the function made (or, rarely, an argument's: a located error is fine)."""
        out = []
        for n, v in sc.vars.items():
            if v.kind != "f" or not v.shape:
                continue
            owner = sc.vars.get(v.base)
            made_here = v.base == "" or owner is not None and not owner.is_arg
            if made_here and not v.view or self.p(0.02):
                out.append(n)
        return out

    def assign_new(self, sc: Scope, s: Shape, value: str, base: str = "",
                   view: bool = False) -> str:
        n = self.name()
        self.emit(sc, f"{n} = {value}")
        sc.vars[n] = Var(s, base, view=view)
        return n

    def stmt(self, sc: Scope, d: int, simple: bool = False) -> None:
        kinds = ["assign"] * 5 + ["reassign"] * 3
        if self.has("inplace"):
            kinds += ["aug"] * 2
        if self.has("alias") or self.has("view"):
            kinds.append("alias")
        if self.has("copy"):
            kinds.append("copy")
        if self.has("setitem"):
            kinds += ["setitem"] * 2
        if self.has("swap"):
            kinds.append("swap")
        if self.has("tuple_ret") and self.has("helper") and self.in_helper < 2:
            kinds.append("tuple_call")
        if not simple and d < 3:
            for feat, kind in (("for", "for"), ("for_rows", "for_rows"),
                               ("for_tuple", "for_tuple"), ("while", "while"), ("if", "if"),
                               ("buffer", "buffer"), ("append", "append"),
                               ("closure", "closure"), ("lambda", "lambda")):
                if self.has(feat):
                    kinds += [kind] * (2 if kind in ("for", "if") else 1)
            if sc.in_loop and self.has("break"):
                kinds += ["break"]
            if self.has("return_early") and self.in_helper == 0 and not sc.in_loop:
                kinds.append("return_early")
        getattr(self, "s_" + self.r.choice(kinds))(sc, d)

    def s_assign(self, sc: Scope, d: int) -> None:
        s = self.r.choice(SHAPES)
        self.assign_new(sc, s, self.expr(sc, s, 3))

    def s_reassign(self, sc: Scope, d: int) -> None:
        names = self.float_locals(sc)
        if not names:
            return self.s_assign(sc, d)
        n = self.r.choice(names)
        s = sc.vars[n].shape
        self.emit(sc, f"{n} = {self.expr(sc, s, 3)}")
        sc.vars[n] = Var(s, "", kind="f", uses=sc.vars[n].uses)

    def s_aug(self, sc: Scope, d: int) -> None:
        names = self.writable(sc) + self.float_locals(sc, arrays=False)
        if not names:
            return self.s_assign(sc, d)
        n = self.r.choice(names)
        s = sc.vars[n].shape
        op = self.r.choice(["+=", "-=", "*=", "+="])
        rhs = self.expr(sc, self.sub_shape(s), 2)
        if op == "*=":
            rhs = f"np.tanh({rhs})" if self.p(0.5) else f"(1.0 + 0.5 * np.sin({rhs}))"
        self.emit(sc, f"{n} {op} {rhs}")

    def s_alias(self, sc: Scope, d: int) -> None:
        arrays = [n for n, v in sc.vars.items() if v.kind == "f" and v.shape]
        if not arrays:
            return self.s_assign(sc, d)
        n = self.r.choice(arrays)
        v = sc.vars[n]
        base = v.base or n
        s = v.shape
        if self.has("view") and self.p(0.6):
            opts = []
            if s[0] > 1:
                opts.append((f"{n}[1:]", (s[0] - 1,) + s[1:]))
                opts.append((f"{n}[::-1]", s))
            if len(s) >= 1:
                opts.append((f"{n}[0]", s[1:]))
            if len(s) == 2:
                opts.append((f"{n}.T", (s[1], s[0])))
                opts.append((f"{n}[:, 0]", (s[0],)))
            value, vs = self.r.choice(opts)
            if vs == ():
                return self.s_assign(sc, d)  # an element is a copy, not a view
            self.assign_new(sc, vs, value, base=base, view=True)
        else:
            self.assign_new(sc, s, n, base=base)

    def s_copy(self, sc: Scope, d: int) -> None:
        arrays = [n for n, v in sc.vars.items() if v.kind == "f" and v.shape]
        if not arrays:
            return self.s_assign(sc, d)
        n = self.r.choice(arrays)
        form = self.r.choice(["{}.copy()", "np.copy({})", "np.array({})", "({} * 1.0)"])
        self.assign_new(sc, sc.vars[n].shape, form.format(n))

    def index_into(self, sc: Scope, s: Shape) -> tuple[str, Shape] | None:
        """An index for a write into an array of shape `s` and the shape it selects."""
        opts = []
        if sc.ints:
            i = self.r.choice(sorted(sc.ints))
            if sc.ints[i] <= s[0]:
                opts += [(i, s[1:])] * 3
        j = self.r.randint(-s[0], s[0] - 1)
        opts.append((str(j), s[1:]))
        if s[0] > 1:
            opts.append(("1:", (s[0] - 1,) + s[1:]))
            opts.append((f":{s[0] - 1}", (s[0] - 1,) + s[1:]))
        if len(s) == 2:
            opts.append((f":, {self.r.randint(0, s[1] - 1)}", (s[0],)))
            opts.append((f"{self.r.randint(0, s[0] - 1)}, {self.r.randint(0, s[1] - 1)}", ()))
        if self.has("fancy") and s[0] > 1 and self.p(0.3):
            opts.append((str(sorted(self.r.sample(range(s[0]), 2))), (2,) + s[1:]))
        return self.r.choice(opts) if opts else None

    def s_setitem(self, sc: Scope, d: int) -> None:
        names = self.writable(sc)
        if not names:
            return self.s_assign(sc, d)
        n = self.r.choice(names)
        got = self.index_into(sc, sc.vars[n].shape)
        if got is None:
            return self.s_assign(sc, d)
        idx, s = got
        op = self.r.choice(["=", "=", "+=", "*="]) if self.has("inplace") else "="
        rhs = self.expr(sc, self.sub_shape(s), 2)
        if op == "*=":
            rhs = f"np.tanh({rhs})"
        self.emit(sc, f"{n}[{idx}] {op} {rhs}")

    def s_swap(self, sc: Scope, d: int) -> None:
        by_shape: dict[Shape, list[str]] = {}
        for n in self.float_locals(sc):
            by_shape.setdefault(sc.vars[n].shape, []).append(n)
        pairs = [ns for ns in by_shape.values() if len(ns) >= 2]
        if not pairs:
            return self.s_assign(sc, d)
        a, b = self.r.sample(self.r.choice(pairs), 2)
        if self.p(0.5):
            self.emit(sc, f"{a}, {b} = {b}, {a}")
        else:
            s = sc.vars[a].shape
            self.emit(sc, f"{a}, {b} = {self.expr(sc, s, 2)}, {a}")
        sc.vars[a], sc.vars[b] = sc.vars[b], sc.vars[a]

    def s_tuple_call(self, sc: Scope, d: int) -> None:
        fits = [h for h in self.helper_sigs if len(h[2]) > 1]
        sig = self.r.choice(fits) if fits and self.p(0.6) else \
            self.make_helper(self.r.choice(SHAPES), nret=2)
        name, params, rets = sig
        args = [self.expr(sc, ps, 2) for pn, ps, df in params if df is None]
        outs = [self.name() for _ in rets]
        self.emit(sc, f"{', '.join(outs)} = {name}({', '.join(args)})")
        for o, s in zip(outs, rets):
            sc.vars[o] = Var(s, "")

    def body(self, sc: Scope, d: int, n: int, loop: bool | None = None) -> dict[str, Var]:
        """`n` statements one level deeper; names first made there do not outlive the block."""
        before = dict(sc.vars)
        was = sc.in_loop
        sc.depth += 1
        if loop is not None:
            sc.in_loop = loop
        start = len(self.lines)
        for _ in range(n):
            self.stmt(sc, d + 1)
        if len(self.lines) == start:
            self.emit(sc, "pass")
        sc.depth -= 1
        sc.in_loop = was
        inner = sc.vars
        sc.vars = {k: inner.get(k, v) for k, v in before.items()}
        for k, v in sc.vars.items():
            if inner.get(k) is not before[k]:
                # reassigned in the block: the shape is kept, the alias may now be either
                sc.vars[k] = Var(v.shape, v.base if inner[k].base == v.base else k,
                                 v.is_arg, v.kind, v.uses)
        return inner

    def loop_update(self, sc: Scope) -> None:
        """A contracting update of a loop-carried value, so loops stay bounded."""
        names = self.float_locals(sc)
        if not names:
            return
        n = self.r.choice(names)
        s = sc.vars[n].shape
        c = self.r.choice(["0.5", "0.8", "0.9", "0.3"])
        self.emit(sc, f"{n} = {c} * {n} + 0.5 * np.tanh({self.expr(sc, s, 2)})")
        sc.vars[n] = Var(s, "", uses=sc.vars[n].uses)

    def s_for(self, sc: Scope, d: int) -> None:
        i = self.r.choice(["i", "j", "k"])
        while i in sc.ints:
            i = i + "i"
        if "n" in sc.vars and sc.vars["n"].kind == "i" and self.p(0.4):
            bound, nb = "n", sc.ints["n"]
        else:
            nb = self.r.randint(1, 4)
            bound = str(nb)
            if self.p(0.2):
                bound = f"1, {nb}"
        self.emit(sc, f"for {i} in range({bound}):")
        sc.ints[i] = nb
        sc.depth += 1
        self.loop_update(sc)
        sc.depth -= 1
        self.body(sc, d, self.r.randint(1, 3), loop=True)
        del sc.ints[i]
        self.loop_else(sc, d)

    def loop_else(self, sc: Scope, d: int) -> None:
        if self.has("loop_else") and self.p(0.2):
            self.emit(sc, "else:")
            self.body(sc, d, 1)

    def s_for_rows(self, sc: Scope, d: int) -> None:
        mats = [n for n, v in sc.vars.items() if v.kind == "f" and len(v.shape) == 2]
        if not mats:
            return self.s_assign(sc, d)
        m = self.r.choice(mats)
        row = self.name("row")
        self.emit(sc, f"for {row} in {m}:")
        sc.vars[row] = Var(sc.vars[m].shape[1:], sc.vars[m].base or m)
        sc.depth += 1
        self.loop_update(sc)
        sc.depth -= 1
        self.body(sc, d, self.r.randint(0, 2), loop=True)
        sc.vars.pop(row, None)

    def s_for_tuple(self, sc: Scope, d: int) -> None:
        s = self.r.choice(SHAPES)
        items = [self.expr(sc, s, 1) for _ in range(self.r.randint(2, 3))]
        t = self.name("t")
        if self.p(0.3):
            self.emit(sc, f"for idx, {t} in enumerate(({', '.join(items)},)):")
        else:
            self.emit(sc, f"for {t} in ({', '.join(items)},):")
        sc.vars[t] = Var(s, "")
        sc.depth += 1
        self.loop_update(sc)
        sc.depth -= 1
        self.body(sc, d, self.r.randint(0, 2), loop=True)
        sc.vars.pop(t, None)

    def s_while(self, sc: Scope, d: int) -> None:
        names = self.float_locals(sc, arrays=None)
        if not names:
            return self.s_assign(sc, d)
        k = self.name("it")
        v = self.r.choice(names)
        s = sc.vars[v].shape
        self.emit(sc, f"{k} = 0")
        probe = f"np.sum({v})" if s else v
        lim = self.r.choice(["3.0", "2.0", "5.0", "1.0"])
        self.emit(sc, f"while {k} < {self.r.randint(2, 6)} and {probe} < {lim}:")
        sc.depth += 1
        self.emit(sc, f"{v} = {v} + 0.5 + 0.25 * np.tanh({self.expr(sc, s, 2)})")
        self.emit(sc, f"{k} += 1")
        sc.depth -= 1
        sc.vars[v] = Var(s, "", uses=sc.vars[v].uses)
        self.body(sc, d, self.r.randint(0, 2), loop=True)
        self.loop_else(sc, d)

    def s_if(self, sc: Scope, d: int) -> None:
        self.emit(sc, f"if {self.cond(sc, 2)}:")
        self.body(sc, d, self.r.randint(1, 2))
        if self.p(0.3):
            self.emit(sc, f"elif {self.cond(sc, 2)}:")
            self.body(sc, d, self.r.randint(1, 2))
        if self.p(0.6):
            self.emit(sc, "else:")
            self.body(sc, d, self.r.randint(1, 2))

    def s_break(self, sc: Scope, d: int) -> None:
        self.emit(sc, f"if {self.cond(sc, 1)}:")
        sc.depth += 1
        if self.p(0.5):
            self.s_reassign(sc, d)
        self.emit(sc, self.r.choice(["break", "continue"]))
        sc.depth -= 1

    def s_return_early(self, sc: Scope, d: int) -> None:
        self.emit(sc, f"if {self.cond(sc, 1)}:")
        sc.depth += 1
        self.emit(sc, f"return {self.result(sc)}")
        sc.depth -= 1

    def s_buffer(self, sc: Scope, d: int) -> None:
        s = self.r.choice([(), (3,), (2,)])
        nb = self.r.randint(2, 4)
        buf = self.name("buf")
        self.emit(sc, f"{buf} = np.zeros({(nb,) + s!r})")
        sc.vars[buf] = Var((nb,) + s, "")
        i = "r"
        while i in sc.ints:
            i += "r"
        self.emit(sc, f"for {i} in range({nb}):")
        sc.ints[i] = nb
        sc.depth += 1
        op = "+=" if self.p(0.2) else "="
        self.emit(sc, f"{buf}[{i}] {op} {self.expr(sc, self.sub_shape(s), 2)}")
        sc.depth -= 1
        if self.p(0.4):
            self.body(sc, d, 1, loop=True)
        del sc.ints[i]

    def s_append(self, sc: Scope, d: int) -> None:
        s = self.r.choice([(), (3,), (2,), (2, 3)])
        xs = self.name("xs")
        nb = self.r.randint(1, 4)
        self.emit(sc, f"{xs} = []")
        i = "q"
        while i in sc.ints:
            i += "q"
        self.emit(sc, f"for {i} in range({nb}):")
        sc.ints[i] = nb
        sc.depth += 1
        if self.p(0.3):
            self.loop_update(sc)
        self.emit(sc, f"{xs}.append({self.expr(sc, s, 2)})")
        sc.depth -= 1
        del sc.ints[i]
        if s == () and self.p(0.4):
            self.assign_new(sc, (), f"sum({xs})")
        else:
            self.assign_new(sc, (nb,) + s, self.r.choice([f"np.stack({xs})", f"np.array({xs})"]))

    def s_closure(self, sc: Scope, d: int) -> None:
        s_in, s_out = self.r.choice(SHAPES), self.r.choice(SHAPES)
        g = self.name("g")
        inner = Scope(vars=dict(sc.vars), ints={})
        inner.vars["t"] = Var(s_in, "t", is_arg=True)
        self.emit(sc, f"def {g}(t):")
        self.emit(sc, f"    return {self.expr(inner, s_out, 2)}")
        v = Var(s_out, "", kind="fn")
        v.base_shape = s_in  # type: ignore[attr-defined]
        sc.vars[g] = v

    def s_lambda(self, sc: Scope, d: int) -> None:
        s_in = self.r.choice(SHAPES)
        s_out = self.r.choice([s_in, ()]) if s_in else s_in
        g = self.name("g")
        inner = Scope(vars=dict(sc.vars), ints={})
        inner.vars["t"] = Var(s_in, "t", is_arg=True)
        self.emit(sc, f"{g} = lambda t: {self.expr(inner, s_out, 2)}")
        v = Var(s_out, "", kind="fn")
        v.base_shape = s_in  # type: ignore[attr-defined]
        sc.vars[g] = v

    def result(self, sc: Scope) -> str:
        if self.out_kind == "scalar":
            parts = [self.expr(sc, (), 3)]
            for n, v in sc.vars.items():
                if v.kind == "f" and v.uses == 0 and not v.is_arg and self.p(0.7):
                    parts.append(f"np.sum(np.tanh({n}))" if v.shape else f"np.tanh({n})")
                    v.uses += 1
            return " + ".join(parts)
        vals = [self.expr(sc, s, 2) for s in self.out_shapes]
        if self.out_kind == "dict":
            return "{" + ", ".join(f"'{k}': {e}" for k, e in zip("uvw", vals)) + "}"
        if self.out_kind == "array":
            return vals[0]
        return "(" + ", ".join(vals) + ",)" if len(vals) == 1 else ", ".join(vals)

    # -- the whole program ------------------------------------------------------------------
    def program(self) -> str:
        sc = Scope()
        params: list[str] = []
        builders: list[str] = []
        for j in range(self.r.randint(1, 3)):
            s = self.r.choice(SHAPES)
            pn = "xyzw"[j]
            params.append(pn)
            if s == ():
                if self.has("npscalar_arg") and self.p(0.15):
                    builders.append("np.float64(rng.uniform(-1.5, 1.5))")
                else:
                    builders.append("float(rng.uniform(-1.5, 1.5))")
            else:
                builders.append(f"rng.standard_normal({s!r})")
            sc.vars[pn] = Var(s, pn, is_arg=True)
        module: list[str] = []
        if self.has("globals") and self.p(0.3):
            for j in range(self.r.randint(1, 2)):
                gs = self.r.choice([(), (3,), (2, 3)])
                gn = f"G{j}"
                value = self.const() if gs == () else \
                    f"np.linspace(-0.5, 1.0, {size(gs)}).reshape({gs!r})"
                module.append(f"{gn} = {value}")
                self.globals.append((gn, gs))
        if self.has("container_arg") and self.p(0.3):
            kinds = ["dict", "list", "tuple"] + (["namedtuple"] if self.has("namedtuple") else [])
            kind = self.r.choice(kinds)
            s1, s2 = self.r.choice(SHAPES[2:]), self.r.choice(SHAPES)
            b1 = f"rng.standard_normal({s1!r})"
            b2 = "float(rng.uniform(-1.0, 1.0))" if s2 == () else f"rng.standard_normal({s2!r})"
            params.append("p")
            if kind == "dict":
                builders.append(f"{{'w': {b1}, 'b': {b2}}}")
                sc.atoms["p['w']"], sc.atoms["p['b']"] = s1, s2
            elif kind == "namedtuple":
                module.append("Params = collections.namedtuple('Params', ['w', 'b'])")
                builders.append(f"Params({b1}, {b2})")
                sc.atoms["p.w"], sc.atoms["p.b"] = s1, s2
            else:
                br = "[]" if kind == "list" else "()"
                builders.append(f"{br[0]}{b1}, {b2}{br[1]}")
                sc.atoms["p[0]"], sc.atoms["p[1]"] = s1, s2
            if self.p(0.4):
                w = self.name("w")
                unpack = {"dict": f"{w} = p['w']", "namedtuple": f"{w} = p.w"}.get(
                    kind, f"{w} = p[0]")
                self.lines.append("    " + unpack)
                sc.vars[w] = Var(s1, "p", is_arg=True)
        if self.has("int_arg") and self.p(0.2):
            nv = self.r.randint(1, 3)
            params.append("n")
            builders.append(str(nv))
            sc.vars["n"] = Var((), "n", is_arg=True, kind="i")
            sc.ints["n"] = nv
        sc.depth = 1
        r = self.r.random()
        if self.has("container_out") and r < 0.3:
            self.out_kind = self.r.choice(["tuple", "dict", "array"])
            k = 1 if self.out_kind == "array" else self.r.randint(1, 3)
            self.out_shapes = [self.r.choice(SHAPES) for _ in range(k)]
            if self.out_kind == "array" and self.out_shapes[0] == ():
                self.out_shapes[0] = (3,)
        for _ in range(self.r.randint(2, 7)):
            self.stmt(sc, 0)
        self.emit(sc, f"return {self.result(sc)}")
        sc.ints.pop("n", None)
        head = ["import collections", "import math", "", "import numpy as np"]
        if self.uses_s2sad:
            head.append("import s2sad")
        head += [""] + module + ["", ""]
        body = [f"def f({', '.join(params)}):"] + self.lines
        mk = ["def make_args():",
              f"    rng = np.random.default_rng({self.seed})",
              f"    return ({', '.join(builders)},)"]
        parts = self.helpers + ["\n".join(body), "\n".join(mk)]
        return "\n".join(head) + "\n\n\n".join(parts) + "\n"


def generate(seed: int, without: frozenset[str] | set[str] = frozenset()) -> str:
    """The source of one program for `seed` (deterministic); see the module docstring."""
    return Gen(seed, frozenset(without)).program()
