"""Throwaway PostgreSQL and Redis servers of a drill's own, on free loopback ports.

The drills stop, kill and freeze (SIGSTOP) these, never the machine's shared servers. PostgreSQL
refuses to run as root, so as root the cluster runs as the `postgres` user (runuser).
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from tests.e2e.server import free_port


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def postgres_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    assert found, f"PostgreSQL's {name} is not installed (apt-get install postgresql)"
    return found[-1]


@dataclass
class PrivatePostgres:
    directory: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @classmethod
    def create(cls) -> PrivatePostgres:
        """A new cluster in a directory of its own under /tmp (pytest's tmp dirs are private
        to root, where the `postgres` user could not reach); `remove` deletes it."""
        directory = Path(tempfile.mkdtemp(prefix="ivr-drill-pg-"))
        if os.geteuid() == 0:
            shutil.chown(directory, "postgres", "postgres")
        subprocess.run(
            _as_postgres(
                [postgres_bin("initdb"), "-D", str(directory / "data"), "-U", "postgres",
                 "--auth=trust", "--no-sync", "-E", "UTF8"]
            ),
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        server = cls(directory, free_port())
        server.start()
        return server

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            _as_postgres([postgres_bin("pg_ctl"), "-D", str(self.directory / "data"), *args]),
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._ctl("start", "-w", "-o", options, "-l", str(self.directory / "server.log"))

    def stop(self) -> None:
        """Stopped hard, as a crash or a pulled cable would: open transactions are lost."""
        self._ctl("stop", "-m", "immediate", "-w")

    def remove(self) -> None:
        self.thaw()
        subprocess.run(
            _as_postgres([postgres_bin("pg_ctl"), "-D", str(self.directory / "data"), "stop",
                          "-m", "immediate", "-w"]),
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        shutil.rmtree(self.directory, ignore_errors=True)

    def _pids(self) -> list[int]:
        """The postmaster and its children (backends, checkpointer, ...)."""
        postmaster = int((self.directory / "data" / "postmaster.pid").read_text().split()[0])
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == postmaster:
                children.append(int(stat.parent.name))
        return [postmaster, *children]

    def freeze(self) -> None:
        """Every process of the cluster stopped (SIGSTOP): connections open, nothing answers."""
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        try:
            self._signal(signal.SIGCONT)
        except FileNotFoundError:  # not running
            return

    def _signal(self, signum: int) -> None:
        for pid in self._pids():
            try:
                os.kill(pid, signum)
            except ProcessLookupError:  # a backend that ended since it was listed
                continue


@dataclass
class PrivateRedis:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @classmethod
    def create(cls) -> PrivateRedis:
        port = free_port()
        server = cls(cls._spawn(port), port)
        server._wait_ready()
        return server

    @staticmethod
    def _spawn(port: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=self.port).ping()
                return
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def freeze(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        self.thaw()
        self.process.kill()
        self.process.wait()

    def restart(self) -> None:
        """A new server on the same port, empty (as a Redis without persistence comes back)."""
        self.process = self._spawn(self.port)
        self._wait_ready()
