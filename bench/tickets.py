"""Benchmark of the draw (dsr/v1): tickets per second for each way of computing
HMAC-SHA256 in Python, ranking, commitment, and a whole draw of 1,000,000 targets.

    .venv/bin/python bench/tickets.py [--n 1000000] [--quick]

Prints figures; it is not a test. Synthetic data: USCC-like 18-character ids in four
risk strata A/B/C/D (20/50/25/5 %) drawn at 1/2/5/12 % (about 3 % overall); 40
departments of 800 inspectors, members per group: lead 2, five others 1, the rest 0;
2,000 declared conflicts; group_load 100.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import hmac
import random
import resource
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.draws.algorithm import (  # noqa: E402
    _states,
    commitment,
    draw,
    rank_smallest,
    ticketer,
)

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100 characters
SEED = hashlib.sha256(b"bench").hexdigest()
PREFIX = "dsr/v1|ent|SS-2026-001|"


def uscc_like(rng: random.Random, n: int) -> list[str]:
    regions = [f"{rng.randrange(110000, 660000):06d}" for _ in range(300)]
    out = set()
    while len(out) < n:
        out.add("91" + rng.choice(regions) + "".join(rng.choices(ALPHABET, k=10)))
    return list(out)


CPU = {}  # best CPU seconds of the last best_of(), this process only


def best_of(fn, repeat: int) -> float:
    """Best wall-clock seconds of ``repeat`` runs (the CPU time of this process goes to
    CPU["last"]: on a shared machine it is the steadier figure for one process)."""
    best = cpu = float("inf")
    for _ in range(repeat):
        gc.collect()
        t, c = time.perf_counter(), time.process_time()
        fn()
        best = min(best, time.perf_counter() - t)
        cpu = min(cpu, time.process_time() - c)
    CPU["last"] = cpu
    return best


# --------------------------------------------------------------------------- ticket variants


def v_hmac_new(ids):
    key, prefix = SEED.encode(), PREFIX.encode()
    return [hmac.new(key, prefix + i.encode(), "sha256").digest() for i in ids]


def v_hmac_digest(ids):
    key, prefix, d = SEED.encode(), PREFIX.encode(), hmac.digest
    return [d(key, prefix + i.encode(), "sha256") for i in ids]


def v_hmac_object_copy(ids):
    base = hmac.new(SEED.encode(), PREFIX.encode(), "sha256")
    out = []
    for i in ids:
        h = base.copy()
        h.update(i.encode())
        out.append(h.digest())
    return out


def v_openssl_hmac_ctx_copy(ids):
    import _hashlib  # CPython's private OpenSSL binding

    base = _hashlib.hmac_new(SEED.encode(), PREFIX.encode(), "sha256")
    copy = base.copy
    out = []
    append = out.append
    for i in ids:
        h = copy()
        h.update(i.encode())
        append(h.digest())
    return out


def v_sha256_concat(ids):
    key = SEED.encode().ljust(64, b"\0")
    ipad = bytes(b ^ 0x36 for b in key) + PREFIX.encode()
    opad = bytes(b ^ 0x5C for b in key)
    s = hashlib.sha256
    return [s(opad + s(ipad + i.encode()).digest()).digest() for i in ids]


def v_state_copies_inline(ids):
    """What rank_smallest does: copied inner/outer SHA-256 states, loop inlined."""
    icopy, ocopy = _states(SEED, ("ent", "SS-2026-001"))
    out = []
    append = out.append
    for i in ids:
        h = icopy()
        h.update(i.encode())
        o = ocopy()
        o.update(h.digest())
        append(o.digest())
    return out


def v_ticketer(ids):
    """The public ticketer(): the same, one function call per id."""
    t = ticketer(SEED, "ent", "SS-2026-001")
    return [t(i) for i in ids]


VARIANTS = [v_hmac_new, v_hmac_digest, v_hmac_object_copy, v_openssl_hmac_ctx_copy, v_sha256_concat,
            v_state_copies_inline, v_ticketer]


# --------------------------------------------------------------------------- draw data


def draw_inputs(ids: list[str], rng: random.Random):
    shares = {"A": 0.20, "B": 0.50, "C": 0.25, "D": 0.05}
    ratios = {"A": (1, 100), "B": (2, 100), "C": (5, 100), "D": (12, 100)}
    targets, start = {}, 0
    for s, share in shares.items():
        end = start + round(share * len(ids)) if s != "D" else len(ids)
        targets[s] = ids[start:end]
        start = end
    depts = [f"D{d:02d}" for d in range(40)]
    members = {d: (2 if n == 0 else 1 if n <= 5 else 0) for n, d in enumerate(depts)}
    plan = {
        "strata": {s: {"num": a, "den": b, **({"min": 1} if s == "A" else {})} for s, (a, b) in ratios.items()},
        "lead": depts[0],
        "members": members,
        "group_load": 100,
    }
    inspectors = {d: [f"{d}-{n:06d}" for n in rng.sample(range(1_000_000), 800)] for d in depts}
    flat = [i for v in inspectors.values() for i in v]
    conflicts = [(rng.choice(flat), rng.choice(ids)) for _ in range(2000)]
    return plan, targets, inspectors, conflicts


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="one repetition each")
    args = parser.parse_args()
    repeat = 1 if args.quick else 5
    rng = random.Random(20260101)

    print(f"python {sys.version.split()[0]}, {args.n:,} synthetic USCC-like ids")
    ids = uscc_like(rng, args.n)
    print(f"rss after building ids: {maxrss_mb():.0f} MB")

    print(f"\n# tickets (HMAC-SHA256), best of {repeat}; wall clock, then CPU time of this process")
    reference = None
    for fn in VARIANTS:
        try:
            result = []

            def run(fn=fn):
                result[:] = fn(ids)

            seconds = best_of(run, repeat)
        except (ImportError, AttributeError) as exc:  # a private API missing on this Python
            print(f"{fn.__name__:28s} unavailable: {exc}")
            continue
        if reference is None:
            reference = list(result)
        assert result == reference, fn.__name__
        cpu = CPU["last"]
        print(f"{fn.__name__:28s} {seconds:6.3f} s   {args.n / seconds:12,.0f} tickets/s"
              f"   (CPU {cpu:6.3f} s, {args.n / cpu:12,.0f} tickets/s)")
        del result

    print("\n# rank_smallest: k smallest of all ids")
    for k in (1_000, 30_000):
        for processes in (None, 2):
            seconds = best_of(lambda: rank_smallest(SEED, ("ent", "T"), ids, k, processes), repeat)
            print(f"k={k:<7,} processes={processes!s:4s} {seconds:6.3f} s   (CPU of this process {CPU['last']:.3f} s)")

    plan, targets, inspectors, conflicts = draw_inputs(ids, rng)
    print("\n# commitment over all targets and inspectors")
    pairs = [(s, i) for s, v in targets.items() for i in v]
    roster = [(d, i) for d, v in inspectors.items() for i in v]
    seconds = best_of(lambda: commitment("T", plan, pairs, roster), repeat)
    print(f"unsorted input        {seconds:6.3f} s")
    pairs.sort(key=lambda p: f"{p[0]}|{p[1]}")
    seconds = best_of(lambda: commitment("T", plan, pairs, roster), repeat)
    print(f"pre-sorted input      {seconds:6.3f} s")
    del pairs, roster

    print("\n# draw(): strata", {s: len(v) for s, v in targets.items()},
          f"40 departments x 800 inspectors, {len(conflicts)} conflicts, group_load {plan['group_load']}")
    result = None
    for processes in (None, 2):
        def run(processes=processes):
            nonlocal result
            result = draw("T", plan, targets, inspectors, conflicts, SEED, processes=processes)

        seconds = best_of(run, repeat)
        print(f"processes={processes!s:4s} {seconds:6.3f} s   (CPU of this process {CPU['last']:.3f} s)")
    selected = sum(len(v) for v in result.selected.values())
    print(f"selected {selected:,} ({selected / len(ids):.2%}): "
          + ", ".join(f"{s} {len(v):,}" for s, v in result.selected.items())
          + f"; {len(result.groups)} groups; {len(result.replacements)} replacements")

    gc.collect()
    rss_before = maxrss_mb()
    tracemalloc.start()
    draw("T", plan, targets, inspectors, conflicts, SEED)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"\npeak memory allocated by one draw() (tracemalloc): {peak / 2**20:.1f} MB")
    print(f"process peak RSS: {maxrss_mb():.0f} MB (was {rss_before:.0f} MB before the traced draw;"
          " the 1M ids themselves are most of it)")


if __name__ == "__main__":
    main()
