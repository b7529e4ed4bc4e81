"""Where a batch's games run: a process pool started with *spawn*, a Dask cluster checked and prepared
before any game is sent, or any ``concurrent.futures.Executor``.

**The process pool starts its workers with spawn** (``multiprocessing.get_context("spawn")``), on every
platform. A spawned worker is a fresh interpreter that imports what it needs by name, as a Dask worker
does, so a strategy that plays on the pool also plays on a cluster, and the pool behaves the same on
Linux, macOS and Windows (the platform defaults differ: fork, spawn, forkserver). Fork would copy the
parent's threads' locks (Dask, tqdm and BLAS start threads), and forkserver's server imports the main
module only once, at its start. Spawn's cost is a second or so per worker to import numpy, pandas and
mesa, once per batch. A spawned worker inherits the parent's ``sys.path`` and re-imports the main
script as ``__mp_main__``, so a script must guard its entry point with ``if __name__ == "__main__":``.

**Plug-in strategies reach every worker without manual steps.** Names a researcher's module added to
``agents.bots.BOTS`` are installed in each worker (the pool's initializer; a Dask worker plugin), and on
Dask each module that defines a strategy the batch uses is compared with the workers' copies and
uploaded (``Client.upload_file``, a package as a zip) where it is missing or differs.

**A Dask cluster is checked before anything is submitted:** every worker must run the same crmsim
version (and git commit, where both sides know theirs), the same numpy (the random streams come from
it) and load the same content for each scenario the batch names; otherwise :class:`ClusterMismatch`
names the worker, the field and both values. Tasks are submitted with ``pure=False``, so a retry after
a failure (say, once a missing module is uploaded) runs afresh instead of returning the failed task's
cached error.
"""

from __future__ import annotations

import gc
import io
import multiprocessing
import os
import sys
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from crmsim import InputError
from crmsim.agents.bots import BOTS, BUILT_IN, Strategy, StrategySpec, defining_modules, parse_spec, plugin_strategies, strategy_class
from crmsim.sim.export import module_digest  # noqa: F401 (public here too: workers run it)

#: the process pool's start method (see the module docstring for why)
START_METHOD = "spawn"


def default_workers() -> int:
    """Worker processes by default: the CPU count, at most 8."""
    return max(1, min(os.cpu_count() or 1, 8))


# ---------------------------------------------------------------------------
# plug-in strategies on workers


def registrations(strategies: Iterable[StrategySpec] = ()) -> dict[str, type[Strategy]]:
    """Strategy names a worker must learn: every name a researcher added to ``BOTS``, and the entry-point
    names among `strategies` (so a cluster whose workers lack the plug-in's package still resolves them)."""
    out = {name: cls for name, cls in BOTS.items() if name not in BUILT_IN}
    for spec in strategies:
        if isinstance(spec, str):
            name = parse_spec(spec)[0]
            if name not in BOTS and name in plugin_strategies():
                out[name] = strategy_class(name)
    return out


def install_strategies(names: Mapping[str, type[Strategy]]) -> None:
    """Add the registrations to this process's ``BOTS`` (a worker's initializer)."""
    BOTS.update(names)


def strategy_modules(strategies: Iterable[StrategySpec], names: Mapping[str, type[Strategy]]) -> list[str]:
    """The modules, outside crmsim, that define the strategies a batch uses (sorted)."""
    classes = set(names.values())
    for spec in strategies:
        if isinstance(spec, Strategy):
            classes.add(type(spec))
        elif ":" in parse_spec(spec)[0]:
            classes.add(strategy_class(parse_spec(spec)[0]))
    return defining_modules(classes)


def start_worker(names: Mapping[str, type[Strategy]]) -> None:
    """A pool worker's initializer: learn the plug-in strategies, import the game's modules, then freeze what the
    imports made out of the garbage collector's sight (``gc.freeze``): its passes during the games then walk only
    the games' own objects (a few percent of a game's time), and no result changes."""
    install_strategies(names)
    import crmsim.research.runner  # noqa: F401  (the bots, pandas: what every game uses)
    import crmsim.sim.model  # noqa: F401  (the engine)

    gc.freeze()


def process_pool(workers: int, strategies: Iterable[StrategySpec] = ()) -> ProcessPoolExecutor:
    """A pool of `workers` spawned processes that know the batch's plug-in strategies."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(START_METHOD),
                               initializer=start_worker, initargs=(registrations(strategies),))


# ---------------------------------------------------------------------------
# Dask


class ClusterMismatch(InputError):
    """Dask workers run other code, or load other scenario content, than this process."""


def dask_executor(address: str | None, workers: int | None = None):
    """A concurrent.futures Executor on Dask: ``"local"`` starts a LocalCluster, else joins ``tcp://host:port``.

    Args:
        address: ``"local"`` (or None) for a LocalCluster of `workers` single-threaded processes,
            or a scheduler address such as ``tcp://host:8786``.
        workers: processes of the LocalCluster (default: :func:`default_workers`); ignored when joining.

    Returns (executor, client); close the client (and its cluster) when done, or use :func:`open_executor`.
    The executor submits with ``pure=False`` (a resubmitted task runs again).
    """
    from distributed import Client, LocalCluster

    if address in (None, "local"):
        cluster = LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    else:
        client = Client(address)
    return client.get_executor(pure=False), client


@contextmanager
def open_executor(dask: str | None = None, workers: int | None = None) -> Iterator[Executor | None]:
    """The Executor a batch runs on: None (``execute``'s process pool of `workers`), or Dask when `dask` is given.

    ``with open_executor("local", workers=2) as ex: execute(specs, executor=ex)``; the cluster is closed after.
    """
    if not dask:
        yield None
        return
    executor, client = dask_executor(dask, workers)
    try:
        yield executor
    finally:
        cluster = client.cluster if dask == "local" else None
        client.close()
        if cluster is not None:
            cluster.close()


def dask_client_of(executor: Executor | None):
    """The Dask Client behind `executor` (from ``client.get_executor()``), or None for any other executor."""
    if executor is None or "distributed" not in sys.modules:
        return None
    from distributed.cfexecutor import ClientExecutor

    return executor._client if isinstance(executor, ClientExecutor) else None


def worker_identity(scenario_refs: Iterable[str] = ()) -> dict[str, Any]:
    """What a process runs: crmsim version and commit, numpy's version, and the content hash of each scenario."""
    import numpy

    from crmsim.scenarios import load_scenario
    from crmsim.sim.export import code_version, scenario_hash

    scenarios = {}
    for ref in scenario_refs:
        try:
            scenarios[ref] = scenario_hash(load_scenario(ref))
        except ValueError as exc:
            scenarios[ref] = f"cannot load it ({str(exc).splitlines()[0]})"
    return {**code_version(), "numpy": numpy.__version__, "scenarios": scenarios}


def identity_problems(here: Mapping[str, Any], there: Mapping[str, Any]) -> list[str]:
    """How a worker's identity differs from this process's, one phrase per field."""
    problems = [f"{field} {there[field]} (here {here[field]})" for field in ("crmsim_version", "numpy") if there[field] != here[field]]
    if here["git_commit"] and there["git_commit"] and here["git_commit"] != there["git_commit"]:
        problems.append(f"git commit {there['git_commit'][:12]} (here {here['git_commit'][:12]})")
    for ref, digest in here["scenarios"].items():
        if there["scenarios"].get(ref) != digest:
            problems.append(f"scenario {ref}: content {there['scenarios'].get(ref)} (here {digest})")
    return problems


def check_workers(client, scenario_refs: Iterable[str]) -> None:
    """Refuse a cluster whose workers run other code or load other scenario content than this process.

    Raises:
        ClusterMismatch: naming each worker, what differs and both values.
    """
    refs = sorted(set(scenario_refs))
    here = worker_identity(refs)
    found = client.run(worker_identity, refs)
    if not found:
        raise ClusterMismatch("the Dask cluster has no workers")
    lines = [f"{address}: {'; '.join(p)}" for address, p in sorted((a, identity_problems(here, i)) for a, i in found.items()) if p]
    if lines:
        raise ClusterMismatch("Dask workers differ from this process, so their results would not be this study's:\n  "
                              + "\n  ".join(lines) + "\nInstall the same crmsim (and scenario files) on every worker, "
                              "or leave those workers out")


def module_digests(names: Iterable[str]) -> dict[str, str | None]:
    """:func:`module_digest` of each module (run on every worker)."""
    return {n: module_digest(n) for n in names}


def module_upload(name: str, folder: Path) -> Path:
    """The file to upload for module `name`: its top-level .py file, or its top-level package as a zip."""
    top = sys.modules[name.split(".")[0]]
    origin = Path(top.__file__)
    if origin.name != "__init__.py":
        return origin
    package = origin.parent
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(package.rglob("*.py")):
            if "__pycache__" not in path.parts:
                zf.write(path, path.relative_to(package.parent).as_posix())
    target = folder / f"{package.name}.zip"
    target.write_bytes(buf.getvalue())
    return target


def ship_modules(client, modules: Iterable[str]) -> list[str]:
    """Upload each module whose workers' copy is missing or differs from this process's; returns those uploaded.

    Raises:
        ClusterMismatch: when a worker still has another copy after the upload (it installed its own).
    """
    import tempfile

    wanted = {m: module_digest(m) for m in modules}
    wanted = {m: d for m, d in wanted.items() if d is not None}
    if not wanted:
        return []
    found = client.run(module_digests, list(wanted))
    stale = sorted({m for digests in found.values() for m, d in digests.items() if d != wanted[m]})
    with tempfile.TemporaryDirectory() as tmp:
        for path in dict.fromkeys(module_upload(m, Path(tmp)) for m in stale):
            client.upload_file(str(path))
    found = client.run(module_digests, stale) if stale else {}
    still = sorted((a, m) for a, digests in found.items() for m, d in digests.items() if d != wanted[m])
    if still:
        raise ClusterMismatch("Dask workers keep another copy of a strategy module after the upload: "
                              + "; ".join(f"{a}: {m}" for a, m in still) + " (installed there? install the same version)")
    return stale


def register_strategies(client, names: Mapping[str, type[Strategy]]) -> None:
    """Install the registrations in every worker, including workers that join later (a worker plugin)."""
    if not names:
        return
    from distributed.diagnostics.plugin import WorkerPlugin

    class StrategyNames(WorkerPlugin):
        name = "crmsim-strategies"

        def __init__(self, registered: Mapping[str, type[Strategy]]):
            self.registered = dict(registered)

        def setup(self, worker) -> None:
            install_strategies(self.registered)

    client.register_plugin(StrategyNames(names))


def prepare_dask(client, strategies: Iterable[StrategySpec], scenario_refs: Iterable[str]) -> Executor:
    """Check the cluster, bring the batch's strategies to every worker, and return an executor with fresh keys.

    Raises:
        ClusterMismatch: naming what differs between the workers and this process.
    """
    strategies = list(strategies)
    check_workers(client, scenario_refs)
    names = registrations(strategies)
    ship_modules(client, strategy_modules(strategies, names))
    register_strategies(client, names)
    return client.get_executor(pure=False)
