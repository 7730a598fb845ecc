"""What the bench scripts share to serve the app over HTTP: gunicorn on a free loopback port, started
with the production settings (``backend/gunicorn_conf.py``: gthread workers, keep-alive, access log)
or as plain sync workers, and the wait until it accepts connections.

    from bench._server import start_gunicorn, stop
    proc, port = start_gunicorn(env, workers=2)          # env: the app's settings (DATABASE_URL, ...)
    try: ...
    finally: stop(proc)

The scripts run as ``python bench/x.py`` and put the repository on ``sys.path`` before importing this.
``code``: serve another checkout of the repository (e.g. an export of main, for side-by-side figures);
its ``backend`` is imported first (cwd and ``PYTHONPATH``), this checkout's virtualenv runs it.
"""
from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 30.0) -> None:
    """Return once something accepts connections on the loopback ``port``; raise if ``proc`` exits first
    or nothing listens within ``timeout`` seconds (a loaded machine: workers may be slow to start)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {proc.returncode} before listening on {port}") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s") from None
            time.sleep(0.1)


def start_gunicorn(env: dict, *, conf: bool | str = True, workers: int = 2, threads: int | None = None,
                   code: Path | str = ROOT, stdout=subprocess.DEVNULL, stderr=None,
                   timeout: float = 30.0, worker_class: str | None = None) -> tuple[subprocess.Popen, int]:
    """gunicorn serving ``backend:create_app()`` on a free loopback port, once it listens: (process, port).

    ``env`` is the whole environment of the server (the caller merges ``os.environ`` if it wants it).
    ``conf``: ``-c python:backend.gunicorn_conf`` as ``shuangsui run`` (gthread, ``threads`` per worker,
    its default 8 unless given; the access log goes to ``stdout``), or a config file of its own given by
    name (one that imports ``backend.gunicorn_conf`` and adds hooks, say); False: plain sync workers,
    warnings only. ``worker_class``: another gunicorn worker class than the configuration's (``-k``).
    """
    port = free_port()
    code = Path(code)
    gunicorn = str(ROOT / ".venv/bin/gunicorn")
    if conf:
        config = "python:backend.gunicorn_conf" if conf is True else str(conf)
        cmd = [gunicorn, "-c", config, "-w", str(workers), "-b", f"127.0.0.1:{port}"]
        if threads is not None:
            cmd += ["--threads", str(threads)]
        if worker_class:
            cmd += ["-k", worker_class]
    else:
        cmd = [gunicorn, "-w", str(workers), "-b", f"127.0.0.1:{port}", "--log-level", "warning",
               "backend:create_app()"]
    env = {**env, "PYTHONPATH": str(code)}
    proc = subprocess.Popen(cmd, cwd=str(code), env=env, stdout=stdout, stderr=stderr)
    try:
        wait_for_port(port, proc, timeout)
    except BaseException:
        stop(proc)
        raise
    return proc, port


def stop(proc: subprocess.Popen, timeout: float = 30.0) -> None:
    """Stop gunicorn (graceful: TERM) and wait for it; KILL if it does not go."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
