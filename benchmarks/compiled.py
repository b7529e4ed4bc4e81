"""What compiling the engine's Python would buy: this checkout as it is against the same code compiled with
Cython, side by side in one run.

Issue 12 asks for a classroom game in 15 ms and 1,000 games in 10 s on 2 cores. The population's rules are
numpy arrays, one operation per rule (the brief), and ``benchmarks/games.py --breakdown`` shows they already
take about 14 ms of a classroom game. The rest is Python: the bots, the tender office, the accounts,
validation, observations and the rows. This script measures what a compiler gives that Python, unchanged:

* this checkout is checked out into a temporary git worktree (``benchmarks/checkout.py``) and its pure-Python
  engine modules (every module of ``sim/`` and ``agents/``, and ``research/runner.py``) are compiled there
  with Cython 3 into extension modules beside their sources (no type annotations added: the code as it
  is; C compiled with setuptools' default flags, no fast-math, so floating point stays IEEE);
* one game on one core, for each scenario, with the installed (pure) crmsim and the compiled copy, each in
  fresh subprocesses, alternating for ``--rounds`` rounds (``benchmarks/games.py``'s worker); CPU time per
  game, medians; and whether both played the same games (the final scores must agree).

Needs Cython 3 and a C compiler (not a crmsim dependency: ``pip install 'cython>=3,<4'``).

Run from the repository root::

    python benchmarks/compiled.py
    python benchmarks/compiled.py --rounds 5 --per-round 20 --json out/compiled.json
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from checkout import ROOT, check_out, finish_figures, package_dirs, remove_checkout  # this script's folder is on sys.path
from games import TARGET_GAME_S, alternate, median_of, ms, same_games

#: the folders whose modules are compiled (every module but __init__), and single modules besides
FOLDERS = ("sim", "agents")
MODULES = ("research/runner.py",)

BUILD = """
import sys
from Cython.Build import cythonize
from setuptools import Extension, setup

pairs = [line.split("=", 1) for line in sys.stdin.read().splitlines() if line]
setup(name="crmsim-compiled", ext_modules=cythonize([Extension(name, [source]) for name, source in pairs],
      language_level=3, quiet=True), script_args=["build_ext", "-b", sys.argv[1], "-t", sys.argv[2], "-j", sys.argv[3]])
"""


def modules(source: Path) -> dict[str, Path]:
    """The modules to compile in the checkout `source`: dotted crmsim name -> source file."""
    folder_of = {folder: name for name, folder in package_dirs(source).items()}
    out: dict[str, Path] = {}
    for path in [p for f in FOLDERS for p in sorted((source / f).glob("*.py"))] + [source / m for m in MODULES]:
        if path.name == "__init__.py":
            continue
        out[f"crmsim.{folder_of[path.parent.name]}.{path.stem}"] = path
    return out


def compile_checkout(source: Path, work: Path, jobs: int) -> tuple[int, float]:
    """Compile the checkout's modules with Cython and put each extension module beside its source;
    returns how many were compiled and the seconds it took."""
    todo = modules(source)
    build, temp = work / "build", work / "temp"
    start = time.perf_counter()
    # run in an empty folder: setuptools would read the checkout's pyproject.toml as this build's configuration
    done = subprocess.run([sys.executable, "-c", BUILD, str(build), str(temp), str(jobs)], cwd=work,
                          input="\n".join(f"{name}={path}" for name, path in todo.items()), capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"the Cython build failed:\n{done.stderr[-3000:]}")
    for name, path in todo.items():
        built = list((build / Path(*name.split(".")[:-1])).glob(f"{path.stem}.*.so"))
        if len(built) != 1:
            raise RuntimeError(f"no extension module built for {name}")
        shutil.copy2(built[0], path.parent / built[0].name)
    return len(todo), time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scenarios", default="classroom-v1,classroom-v2")
    p.add_argument("--rounds", type=int, default=3, help="pure/compiled pairs per figure (medians are reported)")
    p.add_argument("--per-round", type=int, default=10, help="games per measurement (their median)")
    p.add_argument("--seed", type=int, default=2024)
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel compile jobs")
    p.add_argument("--json", help="write the figures to this file")
    args = p.parse_args(argv)
    try:
        import Cython
    except ImportError:
        print("Cython is not installed: pip install 'cython>=3,<4'", file=sys.stderr)
        return 2

    tmp = Path(tempfile.mkdtemp(prefix="crmsim-compiled-bench-"))
    figures: dict[str, Any] = {
        "cpu_count": os.cpu_count(), "python": platform.python_version(), "machine": platform.platform(),
        "cython": Cython.__version__,
        "command": shlex.join([sys.executable, "benchmarks/compiled.py", *(argv if argv is not None else sys.argv[1:])]),
        "load_average_before": os.getloadavg(), "one_game": [],
    }
    same = True
    try:
        figures["commit"], site = check_out("HEAD", tmp)
        (tmp / "work").mkdir()
        count, seconds = compile_checkout(tmp / "source", tmp / "work", args.jobs)
        figures["modules_compiled"] = count
        print(f"compiled {count} modules of {figures['commit'][:12]} with Cython {Cython.__version__} in {seconds:.0f} s "
              f"({tmp / 'source'})")
        print(f"{os.cpu_count()} CPUs, Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f}; "
              f"{args.rounds} rounds, pure and compiled alternating")
        for scenario in args.scenarios.split(","):
            case: dict[str, Any] = {"scenario": scenario,
                                    **alternate({"pure": None, "compiled": site}, scenario, args.rounds, args.per_round, args.seed)}
            if not all(m["crmsim"] == str(site / "crmsim") for m in case["compiled"]):
                raise RuntimeError("the compiled runs did not import the compiled checkout")
            for which in ("pure", "compiled"):
                case[f"{which}_cpu_s"] = median_of(case[which], "cpu_s")
            case["ratio_cpu"] = case["pure_cpu_s"] / case["compiled_cpu_s"]
            case["same_games"] = same_games(case["pure"], case["compiled"])
            same &= case["same_games"]
            for which in ("pure", "compiled"):
                del case[which]
            print(f"one {scenario} game on one core: pure {ms(case['pure_cpu_s'])} CPU; compiled {ms(case['compiled_cpu_s'])} "
                  f"CPU; compiled is x{case['ratio_cpu']:.2f} as fast; target {ms(TARGET_GAME_S)}"
                  + ("; the same games" if case["same_games"] else "  [the two played DIFFERENT games]"))
            figures["one_game"].append(case)
    finally:
        remove_checkout(tmp)
    finish_figures(figures, args.json)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
