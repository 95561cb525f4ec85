"""`s2sad.explain`: the primal, tangent and adjoint traces of AD courses, and `s2sad explain`."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import s2sad
from s2sad.explain import Explanation, format_value


def lecture(x1, x2):
    return math.log(x1) + x1 * x2 - math.sin(x2)


def quadratic(x, y):
    return x * x * y + y + 2


def layer(W, x, b):
    h = np.tanh(W @ x + b)
    return np.sum(h ** 2)


def bias(x, b):
    return np.mean((x + b) ** 2)


def scaled(x, n, mode):
    y = x * n if mode == "scale" else x
    return y * y


def pair(x, y):
    return x * y, x + y


def rows(table):
    return [(r.name, r.expr) for r in table]


def parse(text: str) -> dict[str, list[tuple[str, str, str]]]:
    """The printed tables as {title: [(name, expression, value)]}, comments dropped."""
    out: dict[str, list[tuple[str, str, str]]] = {}
    title = ""
    for line in text.splitlines():
        if line.startswith("  "):
            body = line.split("  # ")[0].strip()
            name, expr, value = (p.strip() for p in body.split(" = "))
            out[title].append((name, expr, value))
        elif line and not line.startswith("note:"):
            title = line.split(",")[0].split(" trace")[0]
            out[title] = []
    return out


# ------------------------------------------------------------------ the lecture example


@pytest.fixture(scope="module")
def lecture_trace() -> Explanation:
    return s2sad.explain(lecture)(2.0, 5.0, direction=(1.0, 0.0))


def test_primal_trace_matches_the_lecture(lecture_trace):
    t = lecture_trace
    assert rows(t.primal) == [("v-1", "x1"), ("v0", "x2"), ("v1", "ln v-1"),
                              ("v2", "v-1 × v0"), ("v3", "v1 + v2"), ("v4", "sin v0"),
                              ("v5", "v3 − v4"), ("y", "v5")]
    values = [r.value for r in t.primal]
    expected = [2.0, 5.0, math.log(2.0), 10.0, math.log(2.0) + 10.0, math.sin(5.0),
                math.log(2.0) + 10.0 - math.sin(5.0), math.log(2.0) + 10.0 - math.sin(5.0)]
    assert values == pytest.approx(expected, rel=1e-15)
    assert [r.text for r in t.primal] == ["2", "5", "0.6931", "10", "10.69", "-0.9589",
                                          "11.65", "11.65"]
    v1 = t.primal[2]
    assert v1.line == lecture.__code__.co_firstlineno + 1
    assert v1.source == "return math.log(x1) + x1 * x2 - math.sin(x2)"
    assert t.primal[0].source == "def lecture(x1, x2):"
    assert t.outputs == (pytest.approx(11.652071455223084),)


def test_tangent_trace_matches_the_lecture(lecture_trace):
    t = lecture_trace
    assert rows(t.tangent) == [
        ("v̇-1", "ẋ1"), ("v̇0", "ẋ2"), ("v̇1", "v̇-1 / v-1"), ("v̇2", "v̇-1 × v0 + v-1 × v̇0"),
        ("v̇3", "v̇1 + v̇2"), ("v̇4", "v̇0 × cos v0"), ("v̇5", "v̇3 − v̇4"), ("ẏ", "v̇5")]
    assert [r.value for r in t.tangent] == pytest.approx([1, 0, 0.5, 5, 5.5, 0, 5.5, 5.5])
    assert t.tangent[-1].value == 5.5 and t.output_tangents == (5.5,)
    assert [r.var for r in t.tangent] == ["v-1", "v0", "v1", "v2", "v3", "v4", "v5", "y"]


def test_adjoint_trace_matches_the_lecture(lecture_trace):
    t = lecture_trace
    assert rows(t.adjoint) == [
        ("v̄5", "ȳ"), ("v̄3", "v̄5"), ("v̄4", "−v̄5"), ("v̄0", "v̄4 × cos v0"), ("v̄1", "v̄3"),
        ("v̄2", "v̄3"), ("v̄-1", "v̄2 × v0"), ("v̄0", "v̄0 + v-1 × v̄2"),
        ("v̄-1", "v̄-1 + v̄1 / v-1"), ("x̄1", "v̄-1"), ("x̄2", "v̄0")]
    cos5 = math.cos(5.0)
    assert [r.value for r in t.adjoint] == pytest.approx(
        [1, 1, -1, -cos5, 1, 1, 5, 2 - cos5, 5.5, 5.5, 2 - cos5], rel=1e-15)
    assert [r.text for r in t.adjoint][-2:] == ["5.5", "1.716"]
    assert t.gradients == pytest.approx((5.5, 1.7163378145367738), rel=1e-15)
    assert t.cotangent == (1.0,)


def test_printed_tables(lecture_trace):
    text = str(lecture_trace)
    tables = parse(text)
    assert list(tables) == ["Primal", "Forward (tangent)", "Reverse (adjoint)"]
    assert ("v1", "ln v-1", "0.6931") in tables["Primal"]
    assert tables["Forward (tangent)"][2] == ("v̇1", "v̇-1 / v-1", "0.5")
    assert tables["Forward (tangent)"][-1] == ("ẏ", "v̇5", "5.5")
    assert tables["Reverse (adjoint)"][0] == ("v̄5", "ȳ", "1")
    assert tables["Reverse (adjoint)"][-2:] == [("x̄1", "v̄-1", "5.5"), ("x̄2", "v̄0", "1.716")]
    assert text.splitlines()[0] == "Primal trace of lecture(x1, x2) at x1=2, x2=5"
    assert "Forward (tangent) trace, direction (ẋ1, ẋ2) = (1, 0)" in text
    assert "Reverse (adjoint) trace, seed ȳ = 1" in text
    # the source line is printed where it changes, and the columns line up
    assert text.count("# L") == 6
    primal = text.split("\n\n")[0].splitlines()[1:]
    assert len({line.index(" = ") for line in primal}) == 1


def test_html_tables(lecture_trace):
    page = lecture_trace._repr_html_()
    assert page.count("<table>") == 3 and page.count("</table>") == 3
    assert "<caption>Primal trace of lecture(x1, x2) at x1=2, x2=5</caption>" in page
    assert "<tr><td>v1</td><td>ln v-1</td><td>0.6931</td>" in page
    assert "<tr><td>x̄2</td><td>v̄0</td><td>1.716</td>" in page
    assert "<td>L" in page and "&lt;" not in page


def test_default_direction_is_the_first_unit_vector():
    t = s2sad.explain(lecture)(2.0, 5.0)
    assert t.direction == (1.0, 0.0)
    assert t.output_tangents == (5.5,)
    other = s2sad.explain(lecture)(2.0, 5.0, direction=(0.0, 1.0))
    assert other.output_tangents[0] == pytest.approx(other.gradients[1], rel=1e-15)
    assert other.tangent[-1].value == pytest.approx(1.7163378145367738, rel=1e-15)


def test_keyword_arguments_and_directional_derivative():
    t = s2sad.explain(lecture)(x2=5.0, x1=2.0, direction=(3.0, -2.0))
    assert t.args == (2.0, 5.0)
    assert t.output_tangents[0] == pytest.approx(3 * 5.5 - 2 * 1.7163378145367738)


# ------------------------------------------------------------------------ other functions


def test_result_named_after_the_function_when_a_parameter_is_y():
    t = s2sad.explain(quadratic)(3.0, 4.0)
    assert t.output_names == ("quadratic",)
    assert t.primal[-1].name == "quadratic" and t.primal[-1].value == 42.0
    assert rows(t.primal)[2] == ("v1", "v-1 × v-1")
    assert (t.tangent[2].name, t.tangent[2].expr, t.tangent[2].value) == \
        ("v̇1", "v̇-1 × v-1 + v-1 × v̇-1", 6.0)
    assert t.gradients == (24.0, 10.0)
    assert [r.name for r in t.adjoint][-2:] == ["x̄", "ȳ"]
    assert t.adjoint[0].expr == "quadratic_bar"


def test_arrays_match_grad_and_jvp():
    rng = np.random.default_rng(0)
    W, x, b = rng.normal(size=(2, 3)), rng.normal(size=3), rng.normal(size=2)
    t = s2sad.explain(layer)(W, x, b)
    gW, gx, gb = s2sad.grad(layer, wrt=(0, 1, 2))(W, x, b)
    for mine, ref in zip(t.gradients, (gW, gx, gb)):
        np.testing.assert_allclose(mine, ref, rtol=1e-13)
    assert t.direction[0].shape == (2, 3) and t.direction[0].flat[0] == 1.0
    assert t.direction[0].sum() == 1.0 and not t.direction[1].any()
    assert t.output_tangents[0] == pytest.approx(gW[0, 0], rel=1e-13)
    assert rows(t.primal)[3:6] == [("v1", "v-2 @ v-1"), ("v2", "v1 + v0"), ("v3", "tanh v2")]
    assert rows(t.primal)[7] == ("v5", "Σ v4")
    assert t.tangent[3].expr == "v̇-2 @ v-1 + v-2 @ v̇-1"
    assert t.adjoint[-3].name == "W̄" and t.adjoint[-3].value.shape == (2, 3)
    assert t.primal[1].text.startswith("(3,) [")
    assert t.primal[0].text.startswith("(2, 3) min ")
    assert "; x=(3,) [" in str(t)


def test_broadcast_adjoint_is_summed_to_the_operand():
    x, b = np.arange(6.0).reshape(2, 3), np.array([0.5, -1.0, 2.0])
    t = s2sad.explain(bias)(x, b, direction=(None, np.ones(3)))
    np.testing.assert_allclose(t.gradients[1], s2sad.grad(bias, wrt=1)(x, b), rtol=1e-14)
    np.testing.assert_allclose(t.gradients[1], np.sum(2 * (x + b), axis=0) / 6, rtol=1e-14)
    assert t.output_tangents[0] == pytest.approx(np.sum(t.gradients[1]), rel=1e-14)
    assert t.tangent[0].value.shape == (2, 3) and not t.tangent[0].value.any()
    b_rows = [r for r in t.adjoint if r.var == "v0"]
    assert b_rows[-1].value.shape == (3,)


def test_static_and_int_arguments_have_no_derivative_rows():
    t = s2sad.explain(scaled)(1.5, 3, "scale")
    assert rows(t.primal) == [("v-1", "x"), ("v0", "n"), ("v1", "v-1 × v0"),
                              ("v2", "v1 × v1"), ("y", "v2")]
    assert [r.name for r in t.tangent] == ["v̇-1", "v̇1", "v̇2", "ẏ"]
    assert t.output_tangents == (27.0,) and t.gradients == (27.0,)
    assert t.direction == (1.0, None, None)
    plain = s2sad.explain(scaled)(1.5, 3, "none")
    assert rows(plain.primal) == [("v-1", "x"), ("v0", "n"), ("v1", "v-1 × v-1"), ("y", "v1")]


def test_several_results_need_a_cotangent():
    t = s2sad.explain(pair)(1.5, 2.0)
    assert t.adjoint == [] and t.gradients is None
    assert "note: no reverse trace" in str(t)
    assert t.output_names == ("pair1", "pair2")
    assert [r.value for r in t.tangent[-2:]] == [2.0, 1.0]
    seeded = s2sad.explain(pair)(1.5, 2.0, cotangent=(1.0, 0.0))
    assert seeded.gradients == (2.0, 1.5)
    assert "seed pair1_bar = 1, pair2_bar = 0" in str(seeded)


def test_errors():
    with pytest.raises(s2sad.TypeMismatch, match="no float argument"):
        s2sad.explain(lecture)(2, 5)
    with pytest.raises(s2sad.TypeMismatch, match="direction has 1 item"):
        s2sad.explain(lecture)(2.0, 5.0, direction=(1.0,))
    with pytest.raises(s2sad.TypeMismatch, match="must be None"):
        s2sad.explain(scaled)(1.5, 3, "scale", direction=(1.0, 1.0, None))
    with pytest.raises(s2sad.TypeMismatch, match="has shape"):
        s2sad.explain(bias)(np.ones((2, 3)), np.ones(3), direction=(np.ones(2), None))
    with pytest.raises(s2sad.TypeMismatch, match="too many positional"):
        s2sad.explain(lecture)(1.0, 2.0, 3.0)
    with pytest.raises(s2sad.TypeMismatch, match="has 2 results but the cotangent has 3"):
        s2sad.explain(pair)(1.5, 2.0, cotangent=(1.0, 0.0, 0.0))


def looped(x):
    for _ in range(3):
        x = x * x
    return x


def test_loops_get_no_trace_but_a_pointer_to_their_code():
    with pytest.raises(s2sad.UnsupportedSyntax) as exc:
        s2sad.explain(looped)(1.5)
    assert exc.value.loc.line == looped.__code__.co_firstlineno + 1
    assert "traces of loops and branches" in str(exc.value) and "s2sad.emit" in str(exc.value)


def test_format_value():
    assert [format_value(v) for v in (0.6931471805599453, 10.693147, -0.95892, 1e-7, -0.0,
                                      3, True, np.float32(2.5), np.array(4.0))] == \
        ["0.6931", "10.69", "-0.9589", "1e-07", "0", "3", "True", "2.5", "4"]
    assert format_value(np.array([1.0, 2.5])) == "(2,) [1, 2.5]"
    assert format_value(np.arange(12.0).reshape(3, 4)) == "(3, 4) min 0, mean 5.5, max 11"
    assert format_value(np.zeros((2, 3))) == "(2, 3) all 0"
    assert format_value((2, 3)) == "(2, 3)"


def test_exported():
    assert "explain" in s2sad.__all__ and s2sad.explain.__doc__


# ------------------------------------------------------------------------------------ CLI

LECTURE_FILE = '''\
import math

open({marker!r}, "w").write("executed")  # never run: explain only reads the file


def g(x1, x2):
    return math.log(x1) + x1 * x2 - math.sin(x2)


def h(x):
    try:
        return x
    except ValueError:
        return x
'''


def run(*args):
    return subprocess.run([sys.executable, "-m", "s2sad", *args], capture_output=True, check=False,
                          text=True, encoding="utf-8")


def test_cli_explain(tmp_path):
    marker = tmp_path / "executed.marker"
    path = tmp_path / "lecture_file.py"
    path.write_text(LECTURE_FILE.format(marker=str(marker)))
    res = run("explain", str(path), "g", "--at", "2,5", "--direction", "1,0")
    assert res.returncode == 0, res.stderr
    assert not marker.exists()
    tables = parse(res.stdout)
    assert tables["Forward (tangent)"][-1] == ("ẏ", "v̇5", "5.5")
    assert tables["Reverse (adjoint)"][-2:] == [("x̄1", "v̄-1", "5.5"), ("x̄2", "v̄0", "1.716")]
    assert "# L7: return math.log(x1) + x1 * x2 - math.sin(x2)" in res.stdout
    res = run("explain", str(path), "g", "--at", "2, 5", "--direction", "0,1")
    assert parse(res.stdout)["Forward (tangent)"][-1] == ("ẏ", "v̇5", "1.716")


def test_cli_explain_arrays(tmp_path):
    path = tmp_path / "arrays.py"
    path.write_text(textwrap.dedent('''\
        import numpy as np

        def energy(w, s):
            return np.sum(w * w) * s
        '''))
    res = run("explain", str(path), "energy", "--at", "[1, 2, 3], 0.5")
    assert res.returncode == 0, res.stderr
    tables = parse(res.stdout)
    assert tables["Reverse (adjoint)"][-2:] == [("w̄", "v̄-1", "(3,) [1, 2, 3]"),
                                                ("s̄", "v̄0", "14")]
    assert tables["Forward (tangent)"][-1] == ("ẏ", "v̇3", "1")


def test_cli_explain_exit_codes(tmp_path):
    path = tmp_path / "lecture_file.py"
    path.write_text(LECTURE_FILE.format(marker=str(tmp_path / "m")))
    res = run("explain", str(path), "h", "--at", "1")
    assert res.returncode == 1
    assert f"{path}:11:5: UnsupportedSyntax:" in res.stderr and "hint:" in res.stderr
    res = run("explain", str(path), "g", "--at", "2")
    assert res.returncode == 2 and "--at gives 1 value(s) but g takes 2 (x1, x2)" in res.stderr
    res = run("explain", str(path), "g", "--at", "2,five")
    assert res.returncode == 2 and "expected comma-separated numbers" in res.stderr
    res = run("explain", str(path), "g", "--at", "2,5", "--direction", "1")
    assert res.returncode == 2 and "--direction gives 1 value(s)" in res.stderr
    res = run("explain", str(path), "nope", "--at", "1")
    assert res.returncode == 2 and "defines no function nope" in res.stderr
    res = run("explain", str(path), "g")
    assert res.returncode == 2 and "--at" in res.stderr
    res = run("explain", str(tmp_path / "missing.py"), "g", "--at", "1,2")
    assert res.returncode == 2 and "cannot read" in res.stderr
