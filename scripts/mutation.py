"""Mutation testing of the ledger and of the services that move points (mutmut 3).

    python scripts/mutation.py --target ledger --backend sqlite --sample 300 --seed 1
    python scripts/mutation.py --target services --backend pg --sample 150
    python scripts/mutation.py --target ledger --backend sqlite --sample 30 --bar 90   # CI

How: the tracked files are copied to a scratch directory (``.mutation/<target>-<backend>``)
whose pyproject.toml gets a ``[tool.mutmut]`` section for the target; mutmut generates every
mutant there, a seeded random sample of them is run with ``--max-children 1`` (one core: the
machine is shared) against the target's tests on one backend (``-k sqlite`` / ``-k "not
sqlite"``), and the score is printed: killed (timeouts count as killed) over everything run
except the equivalent mutants listed in ``tests/mutation_equivalents.txt`` (each with its
reason, see docs/reliability.md). Exit status 1 when the score is below ``--bar``.

Targets:
  ledger    ledger/*.py against tests/ledger
  services  the portal modules that call a ledger write (found by grep, so package moves do
            not break it: approval, grants, gifts, redemption, exchange, expiry) against
            tests/integration
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENTS = ROOT / "tests" / "mutation_equivalents.txt"
LEDGER_WRITE = re.compile(
    r"\bledger\.(issue|transfer|post|post_many|hold|capture|void|reverse|expire_holds)\("
)
KILLED = {"killed", "timeout", "caught by type check", "segfault"}


def money_services() -> list[str]:
    out = []
    for path in sorted((ROOT / "portal").rglob("*.py")):
        tooling = "cli" in path.name or "demo" in path.name
        if LEDGER_WRITE.search(path.read_text("utf-8")) and not tooling:
            out.append(str(path.relative_to(ROOT)))
    return out


def mutmut_section(target: str, backend: str) -> str:
    if target == "ledger":
        source, only, tests = ["ledger/"], [], ["tests/ledger"]
    else:
        source, only, tests = ["portal/"], money_services(), ["tests/integration"]
    select = "sqlite" if backend == "sqlite" else "not sqlite"

    def toml_list(items: list[str]) -> str:
        return "[" + ", ".join(f'"{i}"' for i in items) + "]"

    also = ["core/", "portal/", "ledger/", "config.py", "app.py", "migrations/", "templates/", "static/"]
    also += ["translations/", "alembic.ini", "babel.cfg"]
    return (
        "\n[tool.mutmut]\n"
        f"source_paths = {toml_list(source)}\n"
        + (f"only_mutate = {toml_list(only)}\n" if only else "")
        + f"also_copy = {toml_list(also)}\n"
        f"pytest_add_cli_args = {toml_list(['-p', 'no:cacheprovider', '-k', select])}\n"
        f"pytest_add_cli_args_test_selection = {toml_list(tests)}\n"
        "use_git_change_detection = false\n"
    )


def prepare(workdir: Path, target: str, backend: str) -> None:
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split("\n")
    if workdir.exists():
        shutil.rmtree(workdir)
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file():
            dst = workdir / name
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    (workdir / ".venv").symlink_to(ROOT / ".venv")
    py = workdir / "pyproject.toml"
    py.write_text(py.read_text("utf-8") + mutmut_section(target, backend), "utf-8")


GENERATE = """
import os, sys, warnings
from pathlib import Path
warnings.simplefilter("ignore")
from mutmut.__main__ import create_mutants
from mutmut.utils.file_utils import copy_src_dir, copy_also_copy_files, setup_source_paths
from mutmut.utils.file_utils import walk_mutatable_files
from mutmut.mutation.data import SourceFileMutationData
from mutmut.mutation.trampoline import set_mutant_under_test
set_mutant_under_test("mutant_generation")
os.makedirs("mutants", exist_ok=True)
copy_src_dir(); copy_also_copy_files(); setup_source_paths(); create_mutants(1)
import ast

def _message_blanked(fn):
    # the function's AST with every message string of a raised exception blanked
    for node in ast.walk(fn):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            for arg in node.exc.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    arg.value = ""
    return ast.dump(fn)

for path in walk_mutatable_files():
    m = SourceFileMutationData(path=path); m.load()
    tree = ast.parse((Path("mutants") / path).read_text("utf-8"))
    funcs = {n.name: n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    for name in m.exit_code_by_key:
        fn = name.rsplit(".", 1)[1]
        mutant, orig = funcs.get(fn), funcs.get(fn.rsplit("__mutmut_", 1)[0] + "__mutmut_orig")
        message_only = False
        if mutant is not None and orig is not None:
            mutant.name = orig.name
            message_only = _message_blanked(mutant) == _message_blanked(orig)
        print("MUTANT", name, "message" if message_only else "code")
"""

RESULTS = """
import warnings
warnings.simplefilter("ignore")
from mutmut.utils.file_utils import walk_mutatable_files
from mutmut.mutation.data import SourceFileMutationData
from mutmut.stats import status_by_exit_code
for path in walk_mutatable_files():
    m = SourceFileMutationData(path=path); m.load()
    for name, code in m.exit_code_by_key.items():
        print("RESULT", name, status_by_exit_code[code].replace(" ", "_"))
"""


def python(workdir: Path, code: str) -> list[str]:
    out = subprocess.run(
        [str(ROOT / ".venv/bin/python"), "-c", code], cwd=workdir, check=True, capture_output=True, text=True
    ).stdout
    return out.splitlines()


def equivalents() -> set[str]:
    if not EQUIVALENTS.exists():
        return set()
    lines = EQUIVALENTS.read_text("utf-8").splitlines()
    return {ln.split()[0] for ln in lines if ln.strip() and not ln.startswith("#")}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", choices=["ledger", "services"], default="ledger")
    p.add_argument("--backend", choices=["sqlite", "pg"], default="sqlite")
    p.add_argument("--sample", type=int, default=0, help="mutants to run (0 = all)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--bar", type=float, default=0.0, help="fail below this score (percent)")
    p.add_argument("--only", default="", help="glob of mutant names to sample from (e.g. 'ledger.audit.*')")
    p.add_argument("--workdir", type=Path)
    p.add_argument("--keep", action="store_true", help="reuse the scratch directory (results cached)")
    p.add_argument("--quiet", action="store_true", help="mutmut's progress to <workdir>/mutmut.log only")
    p.add_argument("--with-messages", action="store_true", help="score message-only mutants too")
    args = p.parse_args()

    workdir = args.workdir or ROOT / ".mutation" / f"{args.target}-{args.backend}"
    if not (args.keep and workdir.exists()):
        prepare(workdir, args.target, args.backend)
    generated = [ln.split()[1:] for ln in python(workdir, GENERATE) if ln.startswith("MUTANT ")]
    names = sorted(n for n, _ in generated)
    # Mutants that only change the wording of a raised error's message: the app shows the
    # error's code, translated, never this text (it reaches logs and the CLI). Left out of the
    # score and counted separately; everything else is scored.
    messages = {n for n, kind in generated if kind == "message"}
    equiv = equivalents()
    pool = [n for n in names if n not in equiv and (args.with_messages or n not in messages)]
    print(f"{len(messages)} mutants only reword an error message (left out; --with-messages keeps them)")
    if args.only:
        import fnmatch

        pool = [n for n in pool if fnmatch.fnmatch(n, args.only)]
    chosen = pool
    if 0 < args.sample < len(pool):
        chosen = sorted(random.Random(args.seed).sample(pool, args.sample))
    print(f"{len(names)} mutants ({len(names) - len(pool)} equivalent/excluded); running {len(chosen)}")
    env = dict(os.environ, HYPOTHESIS_PROFILE="deterministic", PYTHONDONTWRITEBYTECODE="1")
    with open(workdir / "mutmut.log", "w") as log:
        done = subprocess.run(
            ["nice", "-n", "10", str(ROOT / ".venv/bin/mutmut"), "run", "--max-children", "1", *chosen],
            cwd=workdir,
            env=env,
            check=False,
            stdout=log if args.quiet else None,
            stderr=subprocess.STDOUT if args.quiet else None,
        )
    if done.returncode != 0:
        print(f"mutmut failed (exit {done.returncode}); see {workdir / 'mutmut.log'}")
        return 2
    status = dict(ln.split()[1:3] for ln in python(workdir, RESULTS) if ln.startswith("RESULT "))
    ran = {n: status.get(n, "not_checked") for n in chosen}
    counts: dict[str, int] = {}
    for s in ran.values():
        counts[s] = counts.get(s, 0) + 1
    # "no tests": no test of this backend reaches the function (e.g. PostgreSQL-only code in
    # an SQLite run): listed, but scored only by the backend that reaches it.
    scored = [s for s in ran.values() if s not in ("not_checked", "skipped", "no_tests")]
    killed = sum(1 for s in scored if s.replace("_", " ") in KILLED)
    score = 100.0 * killed / len(scored) if scored else 0.0
    survivors = sorted(n for n, s in ran.items() if s in ("survived", "no_tests", "suspicious"))
    if survivors:
        print("survivors (inspect with: cd", workdir, "&& ../../.venv/bin/mutmut show NAME):")
        for n in survivors:
            print("  ", n, ran[n])
    print(f"counts: {counts}")
    print(
        f"mutation score {args.target}/{args.backend}: {score:.1f} % "
        f"({killed} killed of {len(scored)} run; seed {args.seed}, sample {len(chosen)} of {len(pool)})"
    )
    if args.bar and score < args.bar:
        print(f"FAIL: below the bar of {args.bar:.0f} %")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
