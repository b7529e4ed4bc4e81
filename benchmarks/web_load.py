"""Load test of the classroom web server: 100 teams submitting and polling a real `crmsim serve` on loopback.

What it does, in one run:

1. starts ``crmsim serve`` (waitress, ``--threads``) on 127.0.0.1 and a free
   port, with a fresh SQLite file (or ``--database`` for a PostgreSQL URL);
2. creates enough games for ``--teams`` teams: by default a 16-firm scenario
   (a temporary TOML that ``extends = "classroom-v1"``), seven games of 16
   seats for 100 teams; ``--seats 6`` uses classroom-v1 itself (17 games);
   plus one reference classroom-v1 game (bots in seats 2-6) for the
   resolution timing of the classroom scenario;
3. resolves each load game ``--warm-periods`` times so the scoreboards carry
   results, and the reference game ``--resolve-periods`` times (idle server);
4. 100 client threads each join with their team's code (``POST /api/join``),
   read their team state, then, for ``--duration`` seconds or
   ``--iterations`` rounds, each: submit a decision
   (``POST /api/games/<id>/decision``), poll ``GET /api/games/<id>/version``
   and ``GET /api/games/<id>/scoreboard``, wait ``--think`` seconds;
   half-way through, the instructor resolves the reference game (under load);
5. after the load, resolves every load game once more (100 submitted decisions);
6. prints latency percentiles (p50/p95/p99/max) per request kind, requests
   per second, errors, the server's CPU time, the period-resolution times (as
   the client saw them and the server's own ``seconds`` in the response), and
   checks the targets: p95 under 200 ms, resolution under 1 s.

Clients keep their HTTP connection alive, as browsers do. The auth rate limit
(10 per minute per address by default) is raised for the run, as 100 teams
join from one loopback address. Only loopback addresses are used.

Run from the repository root::

    python benchmarks/web_load.py
    python benchmarks/web_load.py --think 3 --duration 60          # a classroom's pace (the scoreboard polls every 3 s)
    python benchmarks/web_load.py --seats 6 --json out/web_load.json
    python benchmarks/web_load.py --database postgresql://postgres@127.0.0.1:5432/crmsim_bench
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import random
import shlex
import shutil
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "web"))
from server import PASSWORD, LiveServer  # noqa: E402  (a real `crmsim serve` in a child process)

HOST = "127.0.0.1"
NAMES_16 = ["Aurora", "Beacon", "Cedar", "Delta", "Ember", "Fjord", "Granite", "Harbor",
            "Iris", "Juniper", "Kestrel", "Lumen", "Meridian", "Nimbus", "Onyx", "Pioneer"]
TARGET_P95_MS = 200.0
TARGET_RESOLVE_S = 1.0


# -- the server ------------------------------------------------------------------------


class Server(LiveServer):
    """`crmsim serve` under load (the end-to-end tests' LiveServer), with the sign-in limit raised: 100 teams
    join from one loopback address."""

    def __init__(self, workdir: Path, database: str | None, threads: int):
        super().__init__(workdir / "instance", database, env={"CRMSIM_RATELIMIT_AUTH": "100000 per minute"}, threads=threads)
        try:
            self.start(timeout=90)
        except RuntimeError as exc:
            raise SystemExit(str(exc)) from None

    def cpu_seconds(self) -> float:
        """user + system CPU time of the server process so far (Linux /proc)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return float("nan")


# -- a keep-alive JSON client ---------------------------------------------------------


class Client:
    def __init__(self, port: int, token: str | None = None, timeout: float = 60.0):
        self.port, self.token, self.timeout = port, token, timeout
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any, float]:
        """(status, JSON body or None, seconds); status 0 for a transport error."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        t0 = time.perf_counter()
        for attempt in (0, 1):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                dt = time.perf_counter() - t0
                if resp.getheader("Connection", "").lower() == "close":
                    self.close()
                try:
                    payload = json.loads(raw) if raw else None
                except ValueError:
                    payload = raw[:200].decode(errors="replace")
                return resp.status, payload, dt
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                self.close()  # a kept-alive connection the server closed: retry once on a new one
                if attempt:
                    return 0, repr(exc), time.perf_counter() - t0
            except OSError as exc:
                self.close()
                return 0, repr(exc), time.perf_counter() - t0
        return 0, "unreachable", time.perf_counter() - t0

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, payload, _ = self.request(method, path, body)
        if status >= 400 or status == 0:
            raise SystemExit(f"{method} {path} -> {status}: {payload}")
        return payload

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# -- measurements ------------------------------------------------------------------------


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.lat: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.samples: dict[str, list[str]] = defaultdict(list)

    def add(self, kind: str, status: int, seconds: float, payload: Any = None) -> None:
        with self.lock:
            self.lat[kind].append(seconds)
            if status == 0 or status >= 400:
                self.errors[kind][str(status)] += 1
                if len(self.samples[kind]) < 3:
                    self.samples[kind].append(f"{status}: {str(payload)[:200]}")


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank), in the values' unit."""
    if not values:
        return float("nan")
    s = sorted(values)
    return s[max(0, min(len(s) - 1, math.ceil(q / 100 * len(s)) - 1))]


def summary(values: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values]
    return {"n": len(ms), "p50_ms": pct(ms, 50), "p95_ms": pct(ms, 95), "p99_ms": pct(ms, 99),
            "max_ms": max(ms) if ms else float("nan"), "mean_ms": sum(ms) / len(ms) if ms else float("nan")}


# -- the run -------------------------------------------------------------------------------


def scenario_file(workdir: Path, seats: int) -> str:
    if seats == 6:
        return "classroom-v1"
    path = workdir / f"classroom{seats}-v1.toml"
    names = ", ".join(f'"{n}"' for n in NAMES_16[:seats])
    path.write_text(f'extends = "classroom-v1"\nname = "classroom{seats}-v1"\n\n[firms]\ncount = {seats}\nnames = [{names}]\n')
    return str(path)


def decision(team: dict[str, Any], k: int) -> dict[str, Any]:
    """A valid, slightly varying decision: price, service, budgets and one bid on an open tender."""
    i = team["index"]
    d: dict[str, Any] = {
        "price": round(94 + (i % 9) + (k % 5) * 0.5, 2),
        "service_level": round(0.6 + 0.02 * ((i + k) % 6), 2),
        "care_budget": 10000 + 1000 * (k % 3),
        "advertising_budget": 9000 + 1000 * (i % 4),
    }
    t = team.get("tender")
    if t:
        d["bids"] = {t["id"]: {"price": round(t["price_cap"] - 3 - (k % 4), 2),
                               "promised_service": max(0.7, t["required_service"])}}
    return d


def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="crmsim-web-load-"))
    server = Server(workdir, args.database, args.threads)
    rec = Recorder()
    try:
        port = server.port
        ins = Client(port)
        ins.token = ins.ok("POST", "/api/login", {"password": PASSWORD})["token"]
        scenario = scenario_file(workdir, args.seats)
        n_games = math.ceil(args.teams / args.seats)
        games = [ins.ok("POST", "/api/games", {"scenario": scenario, "seed": 100 + g, "name": f"load {g + 1}",
                                               "period_minutes": 240}) for g in range(n_games)]
        ref = ins.ok("POST", "/api/games", {"scenario": "classroom-v1", "seed": 1, "name": "reference",
                                            "bots": {str(s): b for s, b in zip(range(1, 6), ["balanced", "premium", "price_cutter", "relationship", "adaptive"])},
                                            "period_minutes": 240})
        resolutions: list[dict[str, Any]] = []

        def resolve(game: dict[str, Any], phase: str, firms: int) -> None:
            status, payload, dt = ins.request("POST", f"/api/games/{game['id']}/resolve")
            if status != 200:
                raise SystemExit(f"resolve game {game['id']} -> {status}: {payload}")
            resolutions.append({"game": game["id"], "scenario": game["scenario"], "firms": firms, "phase": phase,
                                "period": payload["period"], "client_s": dt, "server_s": payload["seconds"]})

        for _ in range(args.resolve_periods):
            resolve(ref, "idle, classroom-v1 reference", 6)
        for _ in range(args.warm_periods):
            for g in games:
                resolve(g, f"idle, before load ({args.seats} firms)", args.seats)

        seats = [(g, f) for g in games for f in range(args.seats)][: args.teams]
        teams: list[dict[str, Any]] = [{"index": i, "game": g["id"], "code": g["join_codes"][str(f)]} for i, (g, f) in enumerate(seats)]
        stop_at = [0.0]
        marks: dict[str, float] = {}

        def go() -> None:  # runs once, when every client has joined: the load starts now
            marks["cpu0"], marks["t0"] = server.cpu_seconds(), time.perf_counter()
            stop_at[0] = marks["t0"] + args.duration

        start = threading.Barrier(len(teams) + 1, action=go)
        done_iterations = [0] * len(teams)

        def client(team: dict[str, Any]) -> None:
            c = Client(port, timeout=args.timeout)
            status, payload, dt = c.request("POST", "/api/join", {"code": team["code"]})
            rec.add("join", status, dt, payload)
            if status == 200:
                c.token = payload["token"]
                status, state, dt = c.request("GET", "/api/team")
                rec.add("team state", status, dt, state)
                if status == 200:
                    open_tenders = [t for t in state["tenders"] if not t["closed"]]
                    team["tender"] = open_tenders[0] if open_tenders else None
            try:
                start.wait()
            except threading.BrokenBarrierError:
                return
            if c.token is None:
                return
            gid = team["game"]
            if args.think:  # clients start at random moments of the first think time, as a class does
                time.sleep(random.Random(team["index"]).uniform(0, args.think))
            k = 0
            while k < args.iterations and time.perf_counter() < stop_at[0]:
                s, p, dt = c.request("POST", f"/api/games/{gid}/decision", decision(team, k))
                rec.add("submit", s, dt, p)
                s, p, dt = c.request("GET", f"/api/games/{gid}/version")
                rec.add("version", s, dt, p)
                s, p, dt = c.request("GET", f"/api/games/{gid}/scoreboard")
                rec.add("scoreboard", s, dt, p)
                k += 1
                if args.think:
                    time.sleep(args.think)
            done_iterations[team["index"]] = k
            c.close()

        threads = [threading.Thread(target=client, args=(t,), daemon=True) for t in teams]
        for th in threads:
            th.start()
        start.wait()  # every client joined (and read its state)
        cpu0, t0 = marks["cpu0"], marks["t0"]
        load_kinds = ("submit", "version", "scoreboard")
        base_counts = {k: len(rec.lat[k]) for k in load_kinds}
        while time.perf_counter() < t0 + args.duration / 2 and any(th.is_alive() for th in threads):
            time.sleep(0.05)
        if any(th.is_alive() for th in threads):
            resolve(ref, "under load, classroom-v1 reference", 6)
        for th in threads:
            th.join()
        wall = time.perf_counter() - t0
        cpu = server.cpu_seconds() - cpu0
        load_requests = sum(len(rec.lat[k]) - base_counts[k] for k in load_kinds)
        for g in games:
            resolve(g, f"idle, after load ({args.seats} firms, submitted decisions)", args.seats)

        figures: dict[str, Any] = {
            "config": {k: v for k, v in vars(args).items() if k != "json"} | {"games": n_games, "backend": server.database.split(":")[0].split("+")[0],
                                                                               "database": server.database.split("@")[-1]},
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
            "latency": {k: summary(v) for k, v in rec.lat.items()},
            "errors": {k: dict(v) for k, v in rec.errors.items()},
            "error_samples": dict(rec.samples),
            "load": {"seconds": wall, "requests": load_requests, "requests_per_second": load_requests / wall,
                     "iterations_per_client_min": min(done_iterations), "iterations_per_client_max": max(done_iterations),
                     "server_cpu_seconds": cpu, "server_cpu_cores_used": cpu / wall},
            "resolutions": resolutions,
        }
        return figures
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"kept {workdir}")


def report(f: dict[str, Any], argv: list[str]) -> bool:
    from rich.console import Console
    from rich.table import Table

    con = Console(width=140)
    cfg, load = f["config"], f["load"]
    t = Table(title=f"crmsim web load: {cfg['teams']} teams in {cfg['games']} games of {cfg['seats']} seats, "
                    f"waitress --threads {cfg['threads']}, {cfg['backend']}, think {cfg['think']} s")
    for col in ("request", "n", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms"):
        t.add_column(col, justify="left" if col == "request" else "right")
    for kind in ("join", "team state", "submit", "version", "scoreboard"):
        s = f["latency"].get(kind)
        if not s:
            continue
        errs = sum(f["errors"].get(kind, {}).values())
        t.add_row(kind, str(s["n"]), str(errs), f"{s['p50_ms']:.1f}", f"{s['p95_ms']:.1f}", f"{s['p99_ms']:.1f}", f"{s['max_ms']:.1f}")
    con.print(t)
    con.print(f"load phase: {load['requests']:,} requests in {load['seconds']:.1f} s = [bold]{load['requests_per_second']:.0f} requests/s[/bold]; "
              f"{load['iterations_per_client_min']}-{load['iterations_per_client_max']} rounds per client; "
              f"server CPU {load['server_cpu_seconds']:.1f} s ({load['server_cpu_cores_used']:.2f} cores) on a {f['machine']['cpus']}-CPU machine "
              f"shared with the {cfg['teams']} client threads")
    r = Table(title="period resolution (POST /api/games/<id>/resolve)")
    for col in ("phase", "firms", "n", "client p50 ms", "client max ms", "server p50 ms", "server max ms"):
        r.add_column(col, justify="left" if col == "phase" else "right")
    phases: dict[str, list[dict]] = defaultdict(list)
    for x in f["resolutions"]:
        phases[x["phase"]].append(x)
    for phase, xs in phases.items():
        c = [x["client_s"] * 1000 for x in xs]
        s = [x["server_s"] * 1000 for x in xs]
        r.add_row(phase, str(xs[0]["firms"]), str(len(xs)), f"{pct(c, 50):.0f}", f"{max(c):.0f}", f"{pct(s, 50):.0f}", f"{max(s):.0f}")
    con.print(r)
    for kind, samples in f["error_samples"].items():
        con.print(f"[red]{kind} errors[/red] {dict(f['errors'][kind])}: " + " | ".join(samples))
    p95 = {k: f["latency"][k]["p95_ms"] for k in ("submit", "version", "scoreboard") if k in f["latency"]}
    worst_resolve = max(x["client_s"] for x in f["resolutions"])
    errors = sum(sum(v.values()) for v in f["errors"].values())
    ok_latency = all(v < TARGET_P95_MS for v in p95.values())
    ok_resolve = worst_resolve < TARGET_RESOLVE_S
    con.print(f"target p95 < {TARGET_P95_MS:.0f} ms: " + ", ".join(f"{k} {v:.0f} ms" for k, v in p95.items())
              + (" [green]met[/green]" if ok_latency else " [red]missed[/red]"))
    con.print(f"target resolution < {TARGET_RESOLVE_S:.0f} s: slowest {worst_resolve * 1000:.0f} ms"
              + (" [green]met[/green]" if ok_resolve else " [red]missed[/red]"))
    con.print(f"errors: {errors}")
    con.print("reproduce: " + shlex.join([Path(sys.executable).name, "benchmarks/web_load.py", *argv]), soft_wrap=True)
    return ok_latency and ok_resolve and errors == 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--teams", type=int, default=100, help="client threads, one team each (default 100)")
    p.add_argument("--seats", type=int, choices=range(2, 17), default=16, metavar="2..16",
                   help="firms per game: 6 uses classroom-v1, else a temporary scenario extending it (default 16)")
    p.add_argument("--threads", type=int, default=16, help="waitress worker threads (default 16)")
    p.add_argument("--duration", type=float, default=30.0, help="seconds of load (default 30)")
    p.add_argument("--iterations", type=int, default=1000, help="at most this many rounds per client (default 1000)")
    p.add_argument("--think", type=float, default=0.0, help="seconds a client waits between rounds (default 0: flat out)")
    p.add_argument("--warm-periods", type=int, default=1, help="periods resolved in each load game before the load (default 1)")
    p.add_argument("--resolve-periods", type=int, default=3, help="periods of the reference classroom-v1 game resolved idle (default 3)")
    p.add_argument("--timeout", type=float, default=60.0, help="client socket timeout, seconds")
    p.add_argument("--database", help="SQLAlchemy URL, e.g. postgresql://postgres@127.0.0.1:5432/crmsim_bench (default: a fresh SQLite file)")
    p.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    p.add_argument("--keep", action="store_true", help="keep the temporary instance folder (server log, SQLite file)")
    args = p.parse_args(argv)
    if args.database and not args.database.startswith("sqlite") and not any(h in args.database for h in ("@127.0.0.1", "@localhost", "@[::1]", "://127.0.0.1", "://localhost")):
        p.error("--database: only a server on loopback (127.0.0.1 / localhost)")
    figures = run(args)
    met = report(figures, argv)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(figures, indent=2, default=float))
        print(f"wrote {args.json}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
