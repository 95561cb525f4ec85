"""Fuzz s2sad with generated programs (issue #12: never a silent wrong gradient).

Usage: ``python tools/fuzz.py [-n N] [--seed S] [--out DIR] [--minimize] [--without F,G]``
(``make fuzz N=1000 SEED=0``).  Runs N programs from seed S (see ``tests/fuzzgen.py``; each
is checked by ``tests/fuzzcheck.py``), prints the counts per class (pass, located by error
kind, crash, wrong) and one line per crash or wrong result, and writes a reproducer for each
into DIR (``seed-123.py``: the program, with the failed check in its header; run it again
with ``python tools/fuzz.py --replay DIR/seed-123.py``, which takes the seed of the random
directions from that header, and a hand-written module with ``f`` and ``make_args()`` too).  ``--minimize`` shrinks the first
reproducer of each distinct failure.  ``--show S`` prints the program of seed S.
Exit status: 0 when no program crashed or was wrong, 1 otherwise.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

import fuzzcheck
import fuzzgen


def _header(seed: int, outcome: fuzzcheck.Outcome, minimized: bool) -> str:
    lines = [f"# s2sad fuzz reproducer: seed {seed}{' (minimized)' if minimized else ''}",
             f"# outcome: {outcome.line()}",
             "# replay: python tools/fuzz.py --replay THIS_FILE"]
    detail = outcome.detail.strip().splitlines()[-12:]
    lines += ["# " + d for d in detail]
    return "\n".join(lines) + "\n"


def _known() -> int:
    """The entries of KNOWN in tests/test_fuzz.py: the test's seeds that fail today."""
    for seed in fuzzcheck.TEST_SEEDS:
        src = fuzzcheck.program(seed)
        outcome = fuzzcheck.check_source(src, seed=seed, order2=fuzzcheck.test_order2(seed)) \
            if src is not None else fuzzcheck.Outcome("crash", "generate", "no program ran")
        if outcome.cls not in ("pass", "located"):
            print(f"    {seed}: {outcome.line()[:80]!r},", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=200, help="how many programs (default 200)")
    ap.add_argument("--seed", type=int, default=0, help="the first seed (default 0)")
    ap.add_argument("--out", default="fuzz-out", help="folder for reproducers (fuzz-out)")
    ap.add_argument("--minimize", action="store_true",
                    help="shrink the first reproducer of each distinct failure")
    ap.add_argument("--without", default="",
                    help="comma-separated features to leave out: " + ", ".join(fuzzgen.FEATURES))
    ap.add_argument("--order2", action="store_true", help="also check Hessian-vector products")
    ap.add_argument("--show", type=int, help="print the program of this seed and stop")
    ap.add_argument("--replay", help="check one program file and print its outcome")
    ap.add_argument("-v", "--verbose", action="store_true", help="a line for every program")
    ap.add_argument("--known", action="store_true",
                    help="run the seeds of tests/test_fuzz.py and print its KNOWN list")
    ap.add_argument("--no-verify", action="store_true",
                    help="do not run the IR verifier after every pass (the tests do)")
    opts = ap.parse_args(argv)
    fuzzcheck.s2sad.config.verify = not opts.no_verify
    without = frozenset(w for w in opts.without.split(",") if w)
    unknown = without - set(fuzzgen.FEATURES)
    if unknown:
        ap.error(f"unknown features: {', '.join(sorted(unknown))}")
    if opts.known:
        return _known()
    if opts.show is not None:
        print(fuzzcheck.program(opts.show, without) or "# no program ran for this seed")
        return 0
    if opts.replay:
        with open(opts.replay) as fh:
            src = fh.read()
        if not fuzzcheck.accept(src):
            print("reject: the program does not run in Python or gives no finite float result")
            return 2
        found = re.match(r"# s2sad fuzz reproducer: seed (-?\d+)", src)
        seed = int(found.group(1)) if found else opts.seed  # the directions it failed with
        order2 = opts.order2 or "[hvp]" in src.split("\n", 2)[1] if found else opts.order2
        outcome = fuzzcheck.check_source(src, order2=order2, seed=seed)
        print(outcome.line())
        if outcome.detail:
            print(outcome.detail)
        return 1 if outcome.cls in ("crash", "wrong") else 0

    counts: collections.Counter[str] = collections.Counter()
    kinds: collections.Counter[str] = collections.Counter()
    refusals: collections.Counter[str] = collections.Counter()  # valid programs refused: reach
    notes: collections.Counter[str] = collections.Counter()  # not judged, minor deviations
    first: dict[str, int] = {}
    t0 = time.monotonic()
    for seed in range(opts.seed, opts.seed + opts.n):
        src = fuzzcheck.program(seed, without)
        if src is None:
            counts["reject"] += 1
            continue
        outcome = fuzzcheck.check_source(src, order2=opts.order2, seed=seed)
        counts[outcome.cls] += 1
        for note in outcome.notes:
            notes[note.split(":")[0]] += 1
        if outcome.cls == "located":
            kinds[outcome.reason.split(":")[0]] += 1
            refusals[fuzzcheck._normalise(outcome.reason)[:100]] += 1
        if opts.verbose or outcome.cls in ("crash", "wrong", "harness"):
            print(f"seed {seed}: {outcome.line()}"[:240], flush=True)
        if outcome.cls in ("crash", "wrong"):
            os.makedirs(opts.out, exist_ok=True)
            minimized = False
            if opts.minimize and outcome.signature not in first:
                src = fuzzcheck.minimize(src, outcome, seed=seed, order2=opts.order2)
                minimized = True
            first.setdefault(outcome.signature, seed)
            with open(os.path.join(opts.out, f"seed-{seed}.py"), "w") as fh:
                fh.write(_header(seed, outcome, minimized) + src)
    took = time.monotonic() - t0
    print(f"\n{opts.n} programs from seed {opts.seed} in {took:.1f} s")
    for cls in ("pass", "located", "crash", "wrong", "reject", "harness"):
        print(f"  {cls:8s} {counts[cls]}")
        if cls == "located":
            for k, c in kinds.most_common():
                print(f"    {k:20s} {c}")
            for r, c in refusals.most_common(5):
                print(f"      {c:4d}  {r}")
    for note, c in notes.most_common():
        print(f"  note: {note} ({c})")
    if first:
        print(f"distinct failures: {len(first)} (first seed of each)")
        for sig, seed in first.items():
            print(f"  seed {seed}: {sig}")
    return 1 if counts["crash"] or counts["wrong"] else 0


if __name__ == "__main__":
    sys.exit(main())
