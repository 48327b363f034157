"""What the reliability tests run: gunicorn as `make run` starts it, the delivery worker as a
process of its own, PostgreSQL (the shared server, or a private instance a test may stop),
and a host site's webhook receiver.

Nothing here is mocked: processes are killed with real signals and PostgreSQL is really
stopped and started again.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT

BIN = Path(sys.executable).parent
SECRET_KEY = "reliability-secret-key-not-for-production"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition: Callable[[], bool], timeout: float, message: Callable[[], str],
               interval: float = 0.05) -> None:
    """Poll ``condition`` until it holds; fail with ``message()`` after ``timeout`` seconds
    (a guard against a hang, not a speed assertion)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(message())
        time.sleep(interval)


def service_env(database_url: str, model_dir: Path, instance: Path) -> dict[str, str]:
    """Settings of a production deployment whose webhooks may reach this machine, without
    rate limits (one test client plays many sites' readers at once)."""
    return {"APP_ENV": "production", "DATABASE_URL": database_url, "MODEL_DIR": str(model_dir),
            "SECRET_KEY": SECRET_KEY, "INSTANCE_PATH": str(instance), "LOG_LEVEL": "WARNING",
            "WEBHOOK_ALLOW_HTTP": "1", "WEBHOOK_ALLOW_PRIVATE": "1", "RATE_LIMITS": "0"}


def children_of(pid: int) -> list[int]:
    """The live child processes of ``pid`` (from /proc: gunicorn's master and its workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state != "Z":
            found.append(int(entry.name))
    return sorted(found)


class Gunicorn:
    """`gunicorn -c gunicorn.conf.py wsgi:app` with two workers, as `make run` serves."""

    def __init__(self, env: dict[str, str], log: Path, *, access_log: bool = False) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.env = {**os.environ, **env, "PORT": str(self.port), "WEB_CONCURRENCY": "2"}
        self.access_log = access_log  # gunicorn's access lines (stdout) into the log too
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "w") as handle:
            self.process = subprocess.Popen(
                [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
                env=self.env, stdout=handle if self.access_log else subprocess.DEVNULL,
                stderr=handle)
        wait_until(self._ready, 60, lambda: "gunicorn did not become ready\n" + self.tail())
        wait_until(lambda: len(self.workers()) == 2, 30, lambda: "no two workers\n" + self.tail())

    def _ready(self) -> bool:
        assert self.process.poll() is None, "gunicorn exited\n" + self.tail()
        try:
            return requests.get(f"{self.base}/readyz", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def workers(self) -> list[int]:
        return children_of(self.process.pid)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # quick shutdown: nothing to finish
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def gunicorn(tmp_path) -> Iterator[Callable[[dict[str, str]], Gunicorn]]:
    """Starts gunicorn with the given settings; stopped at the end whatever happens."""
    started: list[Gunicorn] = []

    def start(env: dict[str, str]) -> Gunicorn:
        server = Gunicorn(env, tmp_path / f"gunicorn-{len(started)}.log")
        started.append(server)
        server.start()
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def delivery_workers(tmp_path) -> Iterator[Callable[..., subprocess.Popen]]:
    """Starts `flask --app wsgi worker` processes, as a supervisor would; each still alive
    at the end is killed."""
    started: list[subprocess.Popen] = []

    def start(env: dict[str, str], name: str, *options: str) -> subprocess.Popen:
        with open(tmp_path / f"{name}.log", "w") as handle:
            process = subprocess.Popen(
                [str(BIN / "flask"), "--app", "wsgi", "worker", "--name", name, *options],
                cwd=ROOT, env={**os.environ, **env, "LOG_LEVEL": "INFO"}, stdout=handle,
                stderr=subprocess.STDOUT)
        started.append(process)
        return process

    start.logs = lambda: "\n".join(  # type: ignore[attr-defined]
        f"--- {path.name}\n{path.read_text(errors='replace')[-2000:]}"
        for path in sorted(tmp_path.glob("*.log")))
    try:
        yield start
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)


@pytest.fixture
def shared_postgres_url() -> Iterator[str]:
    """A database of the reliability tests' own on TEST_DATABASE_URL's server
    (`<name>_reliability`), so killing processes here never disturbs other tests' tables.
    Created when missing and emptied before and after (dropping a database would cost a
    checkpoint each time)."""
    import psycopg
    from sqlalchemy.engine import make_url
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        pytest.skip("needs PostgreSQL: set TEST_DATABASE_URL "
                    "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    parsed = make_url(base)
    name = f"{parsed.database}_reliability"
    url = parsed.set(database=name)

    def libpq(target) -> str:
        return target.set(drivername="postgresql").render_as_string(hide_password=False)

    def empty() -> None:
        with psycopg.connect(libpq(url), autocommit=True, connect_timeout=10) as connection:
            connection.execute("DROP SCHEMA IF EXISTS public CASCADE")
            connection.execute("CREATE SCHEMA public")

    try:
        with psycopg.connect(libpq(parsed), autocommit=True, connect_timeout=10) as connection:
            if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                  (name,)).fetchone() is None:
                connection.execute(f'CREATE DATABASE "{name}"')
        empty()
    except psycopg.Error as error:
        pytest.skip(f"cannot create or empty {name} on TEST_DATABASE_URL's server: {error}")
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        empty()


# -- a private PostgreSQL instance, which a test may stop and start ---------------------------

def _postgres_binaries() -> Path | None:
    """The folder holding initdb and pg_ctl: the newest /usr/lib/postgresql/*/bin, or PATH."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                        key=lambda path: int(path.parent.name) if path.parent.name.isdigit()
                        else 0, reverse=True)
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl and Path(initdb).parent == Path(pg_ctl).parent:
        return Path(initdb).parent
    return None


class PrivatePostgres:
    """A PostgreSQL cluster in a temporary folder, on a free port of 127.0.0.1, trust
    authentication. PostgreSQL refuses to run as root, so as root it runs as ``postgres``."""

    def __init__(self, binaries: Path, folder: Path, run_as: str | None) -> None:
        self.binaries = binaries
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()
        self.run_as = run_as
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", self.run_as, "--"] if self.run_as else []
        result = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            log = self.folder / "server.log"
            raise RuntimeError(f"{command[0]} failed: {result.stderr or result.stdout}\n"
                               + (log.read_text()[-2000:] if log.exists() else ""))

    def initdb(self) -> None:
        self._run(str(self.binaries / "initdb"), "-D", str(self.data), "-U", "postgres",
                  "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions")

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._run(str(self.binaries / "pg_ctl"), "-D", str(self.data), "-l",
                  str(self.folder / "server.log"), "-o", options, "-w", "-t", "60", "start")

    def stop(self) -> None:
        """A fast shutdown: open sessions are ended, as in a restart or a failover."""
        self._run(str(self.binaries / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w",
                  "-t", "60", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A private PostgreSQL, started; stopped and removed at the end."""
    binaries = _postgres_binaries()
    if binaries is None:
        pytest.skip("needs PostgreSQL's initdb and pg_ctl (/usr/lib/postgresql/*/bin or PATH) "
                    "to run a private instance that the test can stop")
    run_as = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root, PostgreSQL needs a 'postgres' user to run as")
        if shutil.which("runuser") is None:
            pytest.skip("running as root, PostgreSQL needs runuser to run as 'postgres'")
        run_as = "postgres"
    folder = Path(tempfile.mkdtemp(prefix="reliability-pg-"))
    if run_as:
        account = pwd.getpwnam(run_as)
        os.chown(folder, account.pw_uid, account.pw_gid)
    server = PrivatePostgres(binaries, folder, run_as)
    try:
        server.initdb()
        server.start()
        yield server
    finally:
        if server.running():
            try:
                server.stop()
            except RuntimeError:
                pass
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def receiver():
    """A host site's webhook endpoint on 127.0.0.1: verifies every signature with the
    reference library and applies each webhook-id once (see tests/publishing)."""
    from tests.publishing.test_reliability import Receiver
    receiver = Receiver()
    receiver.come_up()
    try:
        yield receiver
    finally:
        receiver.go_down()


def kill(pid: int) -> None:
    """SIGKILL: no cleanup, no goodbye, as an out-of-memory kill or a crash."""
    os.kill(pid, signal.SIGKILL)
