"""A real `crmsim serve` process for end-to-end tests, and a tiny JSON client (stdlib only).

Not a test module: tests import it with ``from server import LiveServer, Api``
after putting this folder on ``sys.path``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

PASSWORD = "e2e-instructor-pw"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def crmsim_command() -> list[str]:
    """The `crmsim` console script of this interpreter's environment, else ``python -m crmsim``."""
    script = Path(sys.executable).with_name("crmsim")
    if script.exists():
        return [str(script)]
    found = shutil.which("crmsim")
    return [found] if found else [sys.executable, "-m", "crmsim"]


class LiveServer:
    """`crmsim serve` in a child process on a free loopback port.

    Args:
        instance: the CRMSIM_INSTANCE folder (secret key, default SQLite file, server log).
        database: SQLAlchemy URL; default SQLite in `instance`.
        env: extra environment variables.
    """

    def __init__(self, instance: Path, database: str | None = None, env: dict[str, str] | None = None, threads: int = 8):
        self.instance = Path(instance)
        self.instance.mkdir(parents=True, exist_ok=True)
        self.database = database or f"sqlite:///{self.instance / 'crmsim.db'}"
        self.extra_env = env or {}
        self.threads = threads
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log_path = self.instance / "server.log"
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> LiveServer:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CRMSIM_SECRET_KEY")}
        env.update(
            CRMSIM_INSTANCE=str(self.instance),
            DATABASE_URL=self.database,
            CRMSIM_INSTRUCTOR_PASSWORD=PASSWORD,
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        cmd = [*crmsim_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port), "--threads", str(self.threads),
               "--database", self.database]
        self.starts += 1
        log = open(self.log_path, "a")
        log.write(f"\n--- start {self.starts}: {' '.join(cmd)}\n")
        log.flush()
        self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"crmsim serve exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/api/scenarios", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"crmsim serve did not answer within {timeout:.0f} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flushing, as a power cut or OOM kill would."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class ApiError(RuntimeError):
    def __init__(self, status: int, body: Any, method: str, path: str):
        self.status, self.body = status, body
        super().__init__(f"{method} {path} -> {status}: {body}")


class Api:
    """JSON over HTTP with an optional bearer token."""

    def __init__(self, base: str, token: str | None = None):
        self.base, self.token = base, token

    def call(self, method: str, path: str, body: Any = None, timeout: float = 60.0) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read() or b"null")
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = raw[:500].decode(errors="replace")
            raise ApiError(exc.code, payload, method, path) from None

    def get(self, path: str) -> Any:
        return self.call("GET", path)

    def post(self, path: str, body: Any = None) -> Any:
        return self.call("POST", path, body if body is not None else {})

    @classmethod
    def instructor(cls, base: str, password: str = PASSWORD) -> Api:
        return cls(base, cls(base).post("/api/login", {"password": password})["token"])

    @classmethod
    def team(cls, base: str, code: str) -> tuple[Api, dict[str, Any]]:
        joined = cls(base).post("/api/join", {"code": code})
        return cls(base, joined["token"]), joined
