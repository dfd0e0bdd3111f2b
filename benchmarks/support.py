"""What the benchmarks share: a throw-away database, a gunicorn server, wrk as load, results.

Every benchmark runs through scripts/with-test-services (DATABASE_URL and REDIS_URL set), builds
its own database beside DATABASE_URL's and drops it at the end, and stops every process it starts.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def psycopg_url(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


@contextmanager
def bench_database(suffix: str) -> Iterator[str]:
    """Create an empty database named after DATABASE_URL's plus ``suffix``; drop it afterwards."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    name = (parts.path.lstrip("/") or "gomflow") + f"_bench_{suffix}"
    admin = psycopg_url(urlunsplit(parts._replace(path="/postgres")))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_env(database_url: str) -> dict[str, str]:
    """The environment of a production-like server process against ``database_url``."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        # Cache keys of this run only: a fresh database gives its users the same ids as the last
        # run's, and their rate-limit counts from a run a minute ago must not count against this
        # one (they did: 429s in a second run within the same minute).
        CACHE_KEY_PREFIX=f"bench-{uuid.uuid4().hex[:12]}",
        DEBUG="0",
        SECURE_SSL_REDIRECT="0",
        SECRET_KEY=env.get("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnop"),
        LOG_LEVEL="WARNING",
        CONN_MAX_AGE="600",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    return env


def manage(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")


def run_django(code: str, env: dict[str, str], *args: str) -> str:
    """Run ``code`` in a Django process and return the last line it printed."""
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + code, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"bench setup failed:\n{done.stderr[-3000:]}")
    return done.stdout.strip().splitlines()[-1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def gunicorn(env: dict[str, str], *, workers: int, threads: int) -> Iterator[int]:
    """Serve the app on 127.0.0.1 with gunicorn; yield the port; stop it whatever happens."""
    port = free_port()
    binary = Path(sys.executable).with_name("gunicorn")
    command = [
        str(binary),
        "config.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--worker-class",
        "gthread",
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            if server.poll() is not None:
                raise SystemExit("gunicorn exited before answering")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("gunicorn did not answer within 30 s") from None
                time.sleep(0.1)
        yield port
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


@dataclass
class LoadResult:
    name: str
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p95_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


# wrk's Lua hooks: count answers that are not 2xx as errors and print p50/p95 as one JSON line.
_WRK_REPORT = """
local errors = 0
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  if per_thread then per_thread(thread, #threads) end
end
function init(args) bad = 0; first_bad = "" end
function response(status, headers, body)
  if status < 200 or status > 299 then
    bad = bad + 1
    if first_bad == "" then first_bad = status .. " " .. string.sub(body, 1, 200) end
  end
end
function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    errors = errors + thread:get("bad")
    local sample = thread:get("first_bad")
    if sample ~= "" then io.write("WRK-ERROR " .. sample .. "\\n") end
  end
  io.write(string.format('WRK {"requests": %d, "seconds": %f, "p50_us": %d, "p95_us": %d, '
    .. '"errors": %d, "socket_errors": %d}\\n', summary.requests, summary.duration / 1e6,
    latency:percentile(50), latency:percentile(95), errors,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def wrk(
    name: str,
    url: str,
    *,
    connections: int,
    seconds: float,
    headers: dict[str, str] | None = None,
    threads: int = 2,
    warmup_seconds: float = 1.0,
    lua: str = "",
) -> LoadResult:
    """Load ``url`` with wrk (a second process on loopback); return rate and latencies.

    ``lua`` may define ``per_thread(thread, index)`` (called in setup) and wrk's ``request()``
    to vary what each request sends.
    """
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua + _WRK_REPORT)
    header_args = [
        arg for key, value in (headers or {}).items() for arg in ("-H", f"{key}: {value}")
    ]

    def run(duration: float) -> str:
        done = subprocess.run(
            [
                "wrk",
                "-t",
                str(threads),
                "-c",
                str(connections),
                "-d",
                f"{max(1, round(duration))}s",  # wrk takes whole seconds only
                "--timeout",
                "10s",
                "-s",
                script.name,
                *header_args,
                url,
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=duration + 60,
        )
        if done.returncode:
            raise SystemExit(f"wrk failed: {done.stdout[-2000:]} {done.stderr[-2000:]}")
        return done.stdout

    try:
        if warmup_seconds:
            run(warmup_seconds)
        output = run(seconds)
    finally:
        os.unlink(script.name)
    for sample in sorted({row for row in output.splitlines() if row.startswith("WRK-ERROR ")}):
        print(f"{name}: a refused request: {sample[10:]}")
    line = next((row for row in output.splitlines() if row.startswith("WRK ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no summary:\n{output[-3000:]}")
    data = json.loads(line[4:])
    return LoadResult(
        name=name,
        requests=data["requests"],
        errors=data["errors"] + data["socket_errors"],
        seconds=data["seconds"],
        p50_ms=data["p50_us"] / 1000,
        p95_ms=data["p95_us"] / 1000,
    )


def write_result(name: str, text: str) -> None:
    """Print a benchmark's markdown and keep it for `make bench` to gather."""
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.md").write_text(text)


def machine_line(load_before: float) -> str:
    return (
        f"Machine: {os.cpu_count()} cores shared by server, load generator and database; load "
        f"average (1 min) {load_before:.2f} before and {os.getloadavg()[0]:.2f} after the run."
    )
