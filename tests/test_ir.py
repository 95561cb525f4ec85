"""The IR: frozen dataclasses, the verifier, and lowering's one-primitive-per-line form."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import s2sad
from s2sad.api import arg_spec
from s2sad.ir import Block, Const, Eqn, Function, Scalar, Var
from s2sad.lower import lower
from s2sad.transforms.cse import cse
from s2sad.transforms.dce import dce
from s2sad.transforms.jvp import jvp
from s2sad.transforms.simplify import simplify
from s2sad.transforms.vjp import vjp
from s2sad.verify import verify

F = Scalar("float64")


def model(x, y):
    z = np.sin(x) * y
    return np.sum(z * z) + 1.0


def test_nodes_are_frozen():
    v = Var(F, "x")
    e = Eqn((Var(F),), "sin", (v,))
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.prim = "cos"  # type: ignore[misc]


def test_lowering_is_single_assignment_one_primitive_per_statement():
    fn = lower(model, [arg_spec(np.ones(3)), arg_spec(2.0)])
    verify(fn)
    prims = [s.prim for s in fn.body.stmts]
    assert prims == ["sin", "mul", "mul", "sum", "add"]
    outs = [v.id for s in fn.body.stmts for v in s.outs]
    assert len(outs) == len(set(outs))
    assert [s.loc.line for s in fn.body.stmts][:2] == [fn.loc.line + 1] * 2


@pytest.mark.parametrize("args", [(np.ones(3), 2.0), (1.5, 2.0), (np.ones((2, 3)), np.ones(3))])
def test_every_pass_keeps_the_invariants(args):
    fn = verify(lower(model, [arg_spec(a) for a in args]))
    for d in (jvp(fn, (0, 1)), vjp(fn, (0, 1)), vjp(fn, (0,), seed="param")):
        verify(d)
        verify(dce(verify(cse(verify(simplify(d))))))


def test_verifier_reports_broken_ir():
    x, t = Var(F, "x"), Var(F)
    undefined = Var(F, "ghost")
    bad = Function("bad", (x,), Block((
        Eqn((t,), "mul", (x, undefined)),
        Eqn((t,), "sin", (x,)),
        Eqn((Var(F),), "sin", (x, x)),
        Eqn((Var(F),), "no_such_prim", (x,)),
        Eqn((Var(F),), "sum", (x,), (("axes", Const(0, F)),)),
    )), (t,))
    with pytest.raises(s2sad.IRError) as info:
        verify(bad, "test")
    text = str(info.value)
    assert "after test" in text
    assert "read before it is defined" in text
    assert "assigned twice" in text
    assert "sin takes 1 argument(s), got 2" in text
    assert "unknown primitive 'no_such_prim'" in text
    assert "sum has no parameter 'axes'" in text
    assert "# Wengert list of bad(" in text  # the function is printed with the errors


def repeats(x, y):
    a = np.cos(x) * y
    if y > 0.0:
        b = np.cos(x) + np.cos(y)
    else:
        b = np.cos(y) * 2.0
    c = np.cos(y)  # not the one inside the branches: a branch's value is not visible here
    return np.sum(a * b) + c


def two_buffers(x):
    a = np.zeros(3)
    b = np.zeros(3)
    a[0] = x[0]
    return np.sum(a * x) + np.sum(b)


def test_cse_reuses_what_dominates_and_keeps_fresh_arrays():
    fn = verify(lower(repeats, [arg_spec(np.ones(3)), arg_spec(2.0)]))
    out = verify(cse(fn))
    cos_x = [s for s in out.body.stmts if isinstance(s, Eqn) and s.prim == "cos"]
    assert len(cos_x) == 2  # cos(x) once, cos(y) after the branch once
    branch = next(s for s in out.body.stmts if not isinstance(s, Eqn))
    then_prims = [s.prim for s in branch.then.stmts]
    assert then_prims.count("cos") == 1  # cos(y); cos(x) comes from before the branch
    fresh = [s for s in verify(cse(lower(two_buffers, [arg_spec(np.ones(3))]))).body.stmts
             if isinstance(s, Eqn) and s.prim == "construct"]
    assert len(fresh) == 2  # constructors are never merged: code may write into them
    x = np.array([0.3, 1.2, -0.7])
    s2sad.check_grads(repeats, x, 2.0, order=2)
    s2sad.check_grads(repeats, x, -1.0, order=2)
