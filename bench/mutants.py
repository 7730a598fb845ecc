"""Mutation testing of the draw, the access rules and the sync core: do the tests notice a changed program?

    .venv/bin/python bench/mutants.py                    # algorithm.py, verify.py, auth/rules.py, sync/{engine,fields,changes}.py
    .venv/bin/python bench/mutants.py algorithm verify   # some of them
    .venv/bin/python bench/mutants.py verify --jobs 2 --limit 50 --list
    .venv/bin/python bench/mutants.py handlers --only section_sign --only @survivors.txt   # some mutants again

A small AST mutator, no dependency. For each mutation point of a file it compiles the
changed module and, in a forked process, puts it in ``sys.modules`` under the module's
name and runs that file's tests (``pytest -x``, the subset in ``TARGETS``). A mutant is
*killed* when a test fails (or the run exceeds the time limit), *survives* when every test
passes. Mutants that cannot change behaviour (e.g. a bound that only decides how fast the
same answer is found) are listed with the reason in ``bench/mutants-equivalent.txt`` and
left out of the score:

    score = killed / (mutants - equivalent)

Mutations: arithmetic and bitwise operators (+ -, * /, // /, % //, & |, ^ &, << >>),
comparisons (< <=, > >=, == !=, in / not in, is / is not), and/or, unary - and not
dropped, integer constants n → n + 1, True/False swapped, strings changed ("x" → "XXxXX";
docstrings left alone), a statement call, augmented assignment, break, continue or raise
replaced by ``pass``, ``return value`` → ``return None``.

Not a test: it takes minutes (one pytest run per mutant) and prints figures; run it
outside CI. Exit status 1 when the score is below ``--goal`` (default 95) for a file.
"""
from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENT = Path(__file__).with_name("mutants-equivalent.txt")

# runs the short checker printed in docs/draw.md, in a subprocess: it never uses the mutated module
DOC_CHECKER = "tests/unit/draws/test_verify.py::test_standalone_verifier_in_the_docs"
# modules that derive values from a target at import time (verify.py's reason text from
# algorithm.py's reasons): run again after the mutant is installed, as a fresh import would
DEPENDENTS = {"backend.draws.algorithm": ["backend.draws.verify"]}


def _rules(*names: str) -> list[str]:
    return [f"tests/field/test_sync_core_rules.py::{n}" for n in names]


# file key → (module, source path, the tests that guard it)
TARGETS = {
    "algorithm": ("backend.draws.algorithm", "backend/draws/algorithm.py",
                  ["tests/unit/draws/test_algorithm.py", "tests/unit/draws/test_verify.py",
                   "tests/unit/draws/test_verify_facts.py", f"--deselect={DOC_CHECKER}"]),
    "verify": ("backend.draws.verify", "backend/draws/verify.py",
               ["tests/unit/draws/test_verify.py", "tests/unit/draws/test_verify_facts.py", f"--deselect={DOC_CHECKER}"]),
    "rules": ("backend.auth.rules", "backend/auth/rules.py",
              ["tests/unit/test_rules.py", "tests/api/test_audit.py", "tests/api/plans/test_plans_access.py",
               "tests/api/test_access_matrix.py"]),
    # the sync core: SQLite, the Flask test client, a few seconds per mutant (the fastest tests first)
    "engine": ("sync.engine", "sync/engine.py", [*_rules(
        "test_a_replay_answers_refusals_and_conflicts_as_first_answered_never_applied",
        "test_a_replay_of_outcomes_kept_before_results_were_stored",
        "test_a_handler_error_before_applying_refuses_that_mutation_alone",
        "test_a_handler_error_after_applying_fails_the_whole_push", "test_a_gap_stops_the_batch_where_it_is",
        "test_the_push_audit_entry_says_what_came_and_the_label_is_kept",
        "test_a_malformed_mutation_is_refused_alone_before_any_handler",
        "test_a_device_over_the_cap_hears_which_devices_are_in_use"),
        "tests/field/test_push_pull.py::test_a_client_id_belongs_to_its_first_user",
        "tests/field/test_contract.py::test_a_replayed_id_with_other_content_is_refused_and_nothing_is_dropped",
        "tests/field/test_contract.py::test_a_device_time_no_clock_can_have_is_not_believed",
        "tests/field/test_bounds.py::test_a_users_devices_are_capped_and_an_old_one_can_be_retired",
        "tests/field/test_signers.py::test_a_push_checks_a_bounded_number_of_co_signers_and_stops_before_the_rest"]),
    "fields": ("sync.fields", "sync/fields.py", _rules(
        "test_the_same_value_rule", "test_a_stale_write_of_the_value_the_server_holds_changes_nothing_and_answers_its_rev",
        "test_ones_own_earlier_write_is_no_conflict_and_null_clears_a_field",
        "test_a_replay_answers_refusals_and_conflicts_as_first_answered_never_applied")),
    "changes": ("sync.changes", "sync/changes.py", [*_rules(
        "test_append_numbers_changes_after_the_head_once_each",
        "test_the_audit_head_is_locked_before_the_sync_head_once_per_transaction",
        "test_the_first_pull_on_a_server_with_no_change_yet", "test_a_draw_announces_each_inspection_once_in_order",
        "test_a_pull_keeps_its_range_across_its_pages", "test_a_pull_sends_nothing_of_other_tasks_and_groups"),
        "tests/field/test_push_pull.py::test_first_pull_brings_the_assignments_and_the_checklist"]),
    # the field rules (issue 11 §6): who takes part, the phone's mutations, what may be uploaded
    "access": ("backend.inspections.access", "backend/inspections/access.py",
               ["tests/field/test_recusal_rules.py",
                "tests/field/test_contract.py::test_a_late_recusal_takes_the_officer_out_at_once",
                "tests/field/test_contract.py::test_a_recused_lead_is_followed_by_the_next_officer_of_the_lead_department",
                "tests/field/test_contract.py::test_a_declaration_after_completion_changes_nothing",
                "tests/api/draws/test_draw_flow.py::test_recusal_replacement_and_the_recused_member_does_not_see_it"]),
    "handlers": ("backend.inspections.handlers", "backend/inspections/handlers.py",
                 ["tests/field/test_signing_rules.py",
                  "tests/field/test_recusal_rules.py::test_a_member_recused_at_the_draw_is_out_there_and_the_stand_in_is_in",
                  "tests/field/test_recusal_rules.py::test_the_stand_in_declaring_a_conflict_later_leaves_too",
                  "tests/field/test_recusal_rules.py::test_an_inspection_that_is_gone_is_a_tombstone_and_refuses_writes",
                  "tests/field/test_signers.py::test_a_section_co_signer_must_be_of_that_department",
                  "tests/field/test_bounds.py::test_a_repeated_stale_write_replaces_the_writers_open_conflict",
                  "tests/field/test_bounds.py::test_open_conflicts_are_capped_per_inspection_and_nothing_is_lost",
                  "tests/field/test_flags.py",
                  "tests/field/test_merge.py", "tests/field/test_followups.py::test_submitting_a_record_makes_its_followups_once",
                  "tests/field/test_pdf_jobs.py::test_after_submission_every_member_reads_the_record_and_its_pdf"]),
    "media_checks": ("backend.media.checks", "backend/media/checks.py", ["tests/unit/test_media_checks.py"]),
}
# files whose tests may share the session's fixtures (the migrated database, the app): the first test runs once
# in the parent, unmutated, and every mutant's process starts from there (seconds saved per mutant). Only for a
# module nothing keeps a piece of at the app's creation or its first requests (the mutant would not be seen)
WARM = {"access", "handlers"}

BINOPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Div,
          ast.Mod: ast.FloorDiv, ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd, ast.BitXor: ast.BitAnd,
          ast.LShift: ast.RShift, ast.RShift: ast.LShift, ast.Pow: ast.Mult}
CMPOPS = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq,
          ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
          ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>", ast.Pow: "**",
          ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=", ast.In: "in",
          ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not", ast.And: "and", ast.Or: "or"}


@dataclasses.dataclass
class Mutant:
    file: str
    line: int
    scope: str           # qualified name of the enclosing function or class, "<module>" at the top
    what: str            # e.g. "< → <=" on "len(ids) < 100_000"
    path: tuple          # how to reach the node in the tree: (field, index) steps
    apply: str           # the mutation kind
    arg: object = None
    outcome: str = ""    # killed | survived | timeout | equivalent
    seconds: float = 0.0

    @property
    def key(self) -> str:
        """Stable across edits elsewhere in the file: scope, mutation and the code it changes."""
        return f"{self.file}::{self.scope}::{self.what}"


# --------------------------------------------------------------------------- finding mutation points


def _walk(node, path=()):
    """(node, path) for every node, depth first; path is a tuple of (field, index or None)."""
    yield node, path
    for field, value in ast.iter_fields(node):
        if isinstance(value, list):
            for i, child in enumerate(value):
                if isinstance(child, ast.AST):
                    yield from _walk(child, path + ((field, i),))
        elif isinstance(value, ast.AST):
            yield from _walk(value, path + ((field, None),))


def _get(tree, path):
    node = tree
    for field, index in path:
        node = getattr(node, field) if index is None else getattr(node, field)[index]
    return node


def _docstrings(tree) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                out.add(id(first.value))
    return out


def _scopes(tree) -> dict[int, str]:
    """id(node) → qualified name of its innermost function or class."""
    out: dict[int, str] = {}

    def visit(node, name):
        for child in ast.iter_child_nodes(node):
            inner = name
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                inner = f"{name}.{child.name}" if name != "<module>" else child.name
            out[id(child)] = inner
            visit(child, inner)

    visit(tree, "<module>")
    return out


def mutants_of(key: str, source: str) -> list[Mutant]:
    tree = ast.parse(source)
    docs = _docstrings(tree)
    scopes = _scopes(tree)
    in_fstring = {id(n) for j in ast.walk(tree) if isinstance(j, ast.JoinedStr) for n in ast.walk(j)}
    in_annotation = set()
    for node in ast.walk(tree):
        for ann in ([node.annotation] if isinstance(node, (ast.arg, ast.AnnAssign)) and node.annotation else []) + \
                   ([node.returns] if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns else []):
            in_annotation |= {id(n) for n in ast.walk(ann)}
    in_all = {id(n) for node in ast.walk(tree) if isinstance(node, ast.Assign)
              and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets) for n in ast.walk(node)}
    skip = in_annotation | in_all
    found: list[Mutant] = []

    def seg(node) -> str:
        text = ast.get_source_segment(source, node) or ast.unparse(node)
        text = " ".join(text.split())
        return text if len(text) <= 70 else text[:67] + "..."

    def add(node, path, what, apply, arg=None):
        found.append(Mutant(key, getattr(node, "lineno", 0), scopes.get(id(node), "<module>"), what, path, apply, arg))

    for node, path in _walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.BinOp) and type(node.op) in BINOPS:
            new = BINOPS[type(node.op)]
            add(node, path, f"{SYMBOL[type(node.op)]} → {SYMBOL[new]} in `{seg(node)}`", "binop", new)
        elif isinstance(node, ast.AugAssign) and type(node.op) in BINOPS:
            new = BINOPS[type(node.op)]
            add(node, path, f"{SYMBOL[type(node.op)]}= → {SYMBOL[new]}= in `{seg(node)}`", "augop", new)
        elif isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in CMPOPS:
                    new = CMPOPS[type(op)]
                    add(node, path, f"{SYMBOL[type(op)]} → {SYMBOL[new]} (#{i}) in `{seg(node)}`", "cmpop", (i, new))
        elif isinstance(node, ast.BoolOp):
            new = ast.Or if isinstance(node.op, ast.And) else ast.And
            add(node, path, f"{SYMBOL[type(node.op)]} → {SYMBOL[new]} in `{seg(node)}`", "boolop", new)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not, ast.Invert)):
            symbol = {ast.USub: "-", ast.Not: "not", ast.Invert: "~"}[type(node.op)]
            add(node, path, f"drop `{symbol}` in `{seg(node)}`", "unary")
        elif isinstance(node, ast.Constant) and id(node) not in docs:
            value = node.value
            if isinstance(value, bool):
                add(node, path, f"{value} → {not value} at `{seg(node)}`", "const", not value)
            elif isinstance(value, int):
                add(node, path, f"{value} → {value + 1}", "const", value + 1)
            elif isinstance(value, str) and id(node) not in in_fstring:
                add(node, path, f"string {seg(node)} → \"XX…XX\"", "const", "XX" + value + "XX")
            elif isinstance(value, str):
                add(node, path, f"f-string part {value!r} → \"XX…XX\"", "const", "XX" + value + "XX")
        elif isinstance(node, (ast.Expr, ast.AugAssign, ast.Break, ast.Continue, ast.Raise)) and path:
            if isinstance(node, ast.Expr) and (id(node.value) in docs or isinstance(node.value, ast.Constant)):
                continue
            add(node, path, f"`{seg(node)}` → pass", "stmt")
        elif isinstance(node, ast.Return) and node.value is not None and not (
                isinstance(node.value, ast.Constant) and node.value.value is None):
            add(node, path, f"`{seg(node)}` → return None", "return")
    # the same change on the same code twice in one scope: number them
    seen: dict[str, int] = {}
    for m in found:
        n = seen.get(m.key, 0)
        seen[m.key] = n + 1
        if n:
            m.what += f" [{n + 1}]"
    return found


def mutate(source: str, m: Mutant) -> ast.Module:
    tree = ast.parse(source)
    node = _get(tree, m.path)
    if m.apply == "binop" or m.apply == "augop":
        node.op = m.arg()
    elif m.apply == "cmpop":
        i, new = m.arg
        node.ops[i] = new()
    elif m.apply == "boolop":
        node.op = m.arg()
    elif m.apply == "unary":
        parent_field, index = m.path[-1]
        parent = _get(tree, m.path[:-1])
        replacement = node.operand
        if index is None:
            setattr(parent, parent_field, replacement)
        else:
            getattr(parent, parent_field)[index] = replacement
    elif m.apply == "const":
        node.value = m.arg
    elif m.apply == "stmt":
        parent_field, index = m.path[-1]
        getattr(_get(tree, m.path[:-1]), parent_field)[index] = ast.copy_location(ast.Pass(), node)
    elif m.apply == "return":
        node.value = ast.copy_location(ast.Constant(None), node.value)
    return ast.fix_missing_locations(tree)


# --------------------------------------------------------------------------- running


def install(name: str, mod: types.ModuleType, code) -> None:
    """Put ``mod`` (run from ``code``) in place of module ``name``: in ``sys.modules``, on its package,
    and in every loaded module (the app's and the tests') that holds the old module, one of its
    functions or classes, or a ``from … import`` name of it (same name, same object)."""
    original = sys.modules.get(name)
    sys.modules[name] = mod
    exec(code, mod.__dict__)
    if original is None:
        return
    package, _, last = name.rpartition(".")
    if package in sys.modules:
        setattr(sys.modules[package], last, mod)
    by_id = {id(v): mod.__dict__[k] for k, v in original.__dict__.items()
             if k in mod.__dict__ and (isinstance(v, type) or callable(v)) and getattr(v, "__module__", None) == name}
    by_id[id(original)] = mod
    for other in list(sys.modules.values()):
        space = getattr(other, "__dict__", None)
        if other is mod or other is original or not isinstance(space, dict):
            continue
        for k, v in list(space.items()):
            if id(v) in by_id:
                space[k] = by_id[id(v)]
            elif k in original.__dict__ and k in mod.__dict__ and v is original.__dict__[k] and not k.startswith("__"):
                space[k] = mod.__dict__[k]


class MutantRunner:
    """A pytest plugin: the tests are collected once; then, instead of running them, each mutant
    is tried in a forked process that installs it and runs the collected tests until one fails."""

    def __init__(self, module: str, filename: str, source: str, mutants: list[Mutant], jobs: int, progress,
                 warm: bool = False):
        self.module, self.filename, self.source, self.mutants = module, filename, source, mutants
        self.jobs, self.progress, self.warm = jobs, progress, warm
        self.baseline = 0.0

    def _warm_up(self, session) -> None:
        """Run the first test here, unmutated, keeping what it set up for the next one (session fixtures)."""
        from _pytest.runner import runtestprotocol

        items = session.items
        reports = runtestprotocol(items[0], nextitem=items[1] if len(items) > 1 else None, log=False)
        if any(r.failed for r in reports):
            raise SystemExit(f"the first test fails without any mutation: {items[0].nodeid}")

    @staticmethod
    def _own_connections() -> None:
        """A forked process must not use its parent's database connections: each engine's pool starts afresh."""
        if "sqlalchemy" in sys.modules:
            import gc

            from sqlalchemy.engine import Engine

            for obj in gc.get_objects():
                if isinstance(obj, Engine):
                    obj.dispose(close=False)

    def _run_items(self, session) -> int:
        from _pytest.runner import runtestprotocol

        items = session.items
        for i, item in enumerate(items):
            reports = runtestprotocol(item, nextitem=items[i + 1] if i + 1 < len(items) else None, log=False)
            if any(r.failed for r in reports):
                return 1
        return 0

    def _fork(self, session, tree: ast.Module | None) -> int:
        pid = os.fork()
        if pid:
            return pid
        os.setpgid(0, 0)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        status = 1
        try:
            if self.warm:
                self._own_connections()
            if tree is not None:
                mod = types.ModuleType(self.module)
                mod.__file__, mod.__package__ = self.filename, self.module.rpartition(".")[0]
                install(self.module, mod, compile(tree, self.filename, "exec"))
                for name in DEPENDENTS.get(self.module, ()):
                    path = sys.modules[name].__file__
                    again = types.ModuleType(name)
                    again.__file__, again.__package__ = path, name.rpartition(".")[0]
                    install(name, again, compile(Path(path).read_text(encoding="utf-8"), path, "exec"))
            status = self._run_items(session)
        except BaseException:  # noqa: BLE001 - a mutant that breaks the import or the run is killed
            status = 1
        os._exit(status)

    def pytest_runtestloop(self, session):
        started = time.monotonic()
        if self.warm and session.items:
            self._warm_up(session)
            self.progress(f"set up once: {time.monotonic() - started:.1f} s")
            started = time.monotonic()
        pid = self._fork(session, None)
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"the tests fail without any mutation: {self.filename}")
        self.baseline = time.monotonic() - started
        timeout = max(10.0, 4 * self.baseline)
        self.progress(f"{len(session.items)} tests take {self.baseline:.1f} s unmutated; "
                      f"{len(self.mutants)} mutants, time limit {timeout:.0f} s each")
        pending = [m for m in self.mutants if not m.outcome]
        running: dict[int, tuple[Mutant, float]] = {}
        done = len(self.mutants) - len(pending)
        while pending or running:
            while pending and len(running) < max(1, self.jobs):
                m = pending.pop(0)
                running[self._fork(session, mutate(self.source, m))] = (m, time.monotonic())
            for pid, (m, start) in list(running.items()):
                outcome = wait(pid, start + timeout)
                if outcome:
                    m.outcome, m.seconds = outcome, time.monotonic() - start
                    del running[pid]
                    done += 1
                    if done % 50 == 0:
                        self.progress(f"{done} / {len(self.mutants)} ({time.monotonic() - started:.0f} s)")
            if running:
                select.select([], [], [], 0.01)
        return True


def wait(pid: int, deadline: float) -> str | None:
    """'survived' (the tests passed), 'killed', 'timeout', or None while it runs."""
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        return "survived" if os.waitstatus_to_exitcode(status) == 0 else "killed"
    if time.monotonic() > deadline:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        return "timeout"
    return None


def load_equivalent() -> dict[str, str]:
    """``key  # reason`` per line; blank lines and lines starting with # are ignored."""
    out = {}
    if EQUIVALENT.exists():
        for line in EQUIVALENT.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                key, _, reason = line.partition("  # ")
                out[key.strip()] = reason.strip()
    return out


def chosen(mutants: list[Mutant], limit: int, only: list[str]) -> list[Mutant]:
    """The mutants ``--only`` names (a part of the key, or ``@file``: whole keys, one a line, as ``--list``
    prints them), then the first ``--limit`` of them."""
    if only:
        parts, keys = [], set()
        for o in only:
            if o.startswith("@"):
                for line in Path(o[1:]).read_text(encoding="utf-8").splitlines():
                    line = line.strip()
                    if line:   # "survived   line 12   backend/…::scope::what" or the bare key
                        keys.add(line[line.index("backend/"):] if "backend/" in line else line)
            else:
                parts.append(o)
        mutants = [m for m in mutants if m.key in keys or any(p in m.key for p in parts)]
    return mutants[:limit] if limit else mutants


def run_file(key: str, jobs: int, limit: int, equivalent: dict[str, str], only: list[str] = ()) -> list[Mutant]:
    """Every mutant of one file, with its outcome (in this process: one pytest collection)."""
    import pytest

    module, rel, tests = TARGETS[key]
    source = (ROOT / rel).read_text(encoding="utf-8")
    mutants = chosen(mutants_of(rel, source), limit, list(only))
    for m in mutants:
        if m.key in equivalent:
            m.outcome = "equivalent"
    runner = MutantRunner(module, str(ROOT / rel), source, mutants, jobs, lambda text: print(f"  {text}", flush=True),
                          warm=key in WARM)
    status = pytest.main(["-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:xdist", "--no-header",
                          "-W", "ignore", *tests], plugins=[runner])
    if status not in (0, 5) and any(not m.outcome for m in mutants):
        raise SystemExit(f"pytest could not collect the tests of {rel} (exit status {status})")
    return mutants


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", help=f"which files: {', '.join(TARGETS)} (default: all)")
    parser.add_argument("--jobs", type=int, default=1, help="mutants run at once (default 1: the machine is shared)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N mutants of each file (a quick look)")
    parser.add_argument("--only", action="append", default=[],
                        help="only the mutants whose key contains this, or those listed in @FILE (repeatable)")
    parser.add_argument("--list", action="store_true", help="list every mutant and its outcome, not only survivors")
    parser.add_argument("--goal", type=float, default=95.0, help="score (%%) below which the exit status is 1")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one file, write JSON to --out
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unknown = [f for f in args.files if f not in TARGETS]
    if unknown:
        parser.error(f"unknown file {unknown[0]!r}: choose from {', '.join(TARGETS)}")
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    equivalent = load_equivalent()
    if args.one:  # a fresh interpreter per file: pytest is collected once per process
        mutants = run_file(args.one, args.jobs, args.limit, equivalent, args.only)
        Path(args.out).write_text(json.dumps([[m.outcome, m.seconds] for m in mutants]), encoding="utf-8")
        return 0

    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}  # SQLite only: the mutants test logic
    failed_goal = False
    seen: set[str] = set()
    for key in args.files or list(TARGETS):
        module, rel, tests = TARGETS[key]
        print(f"{rel} ({' '.join(t for t in tests if not t.startswith('-'))}):", flush=True)
        started = time.monotonic()
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            subprocess.run([sys.executable, __file__, "--one", key, "--out", out.name, "--jobs", str(args.jobs),
                            "--limit", str(args.limit), *(f"--only={o}" for o in args.only)], check=True, env=env)
            outcomes = json.loads(Path(out.name).read_text(encoding="utf-8"))
        mutants = chosen(mutants_of(rel, (ROOT / rel).read_text(encoding="utf-8")), args.limit, args.only)
        for m, (outcome, seconds) in zip(mutants, outcomes):
            m.outcome, m.seconds = outcome, seconds
        seen |= {m.key for m in mutants}
        counted = [m for m in mutants if m.outcome != "equivalent"]
        killed = [m for m in counted if m.outcome in ("killed", "timeout")]
        survived = [m for m in counted if m.outcome == "survived"]
        score = 100.0 * len(killed) / len(counted) if counted else 100.0
        failed_goal |= score < args.goal
        print(f"{rel}: {len(mutants)} mutants, {len(mutants) - len(counted)} equivalent (allow-listed), "
              f"{len(killed)} killed ({sum(m.outcome == 'timeout' for m in killed)} by the time limit), "
              f"{len(survived)} survived: score {score:.1f}% ({time.monotonic() - started:.0f} s)", flush=True)
        for m in sorted(mutants if args.list else survived, key=lambda m: m.line):
            print(f"  {m.outcome:10} line {m.line:<4} {m.key}", flush=True)
    if not args.limit and not args.only and set(args.files or TARGETS) == set(TARGETS):
        for key in sorted(set(equivalent) - seen):
            print(f"  allow-list entry that matches no mutant any more: {key}")
    return 1 if failed_goal else 0


if __name__ == "__main__":
    sys.exit(main())
