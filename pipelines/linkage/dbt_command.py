"""dbt's command line for the nightly (console script ``mimamori-dbt``), exiting without the teardown, and
the warm dbt process a night starts beside its own start-up.

The command is ``dbt`` (``dbt.cli.main.cli``), but once dbt is done its DuckDB database is closed (the
restricted store checkpointed and detached, as at any exit) and the process ends without freeing dbt's
modules one by one: 0.5 s of the dbt step that the night waited for (dagster-dbt waits for the process to
end), after the last model was written.

**The warm process.** Importing dbt and its DuckDB adapter takes ≈ 1.5 s of one core, paid in the dbt step
while the night waits, although the night's first seconds (importing Dagster, dagster-dbt and pandera)
leave the other core idle. So ``run_nightly`` starts, inside its lock and before importing the
definitions, a process that imports dbt there and waits on a Unix socket (``warm_dbt_process``; the socket
in a folder only this user can open, and the peer's uid checked). When dagster-dbt starts
``mimamori-dbt`` as usual, the command hands its arguments, environment, working folder and its standard
input, output and error (the file descriptors themselves) to the warm process, which runs dbt exactly
as the command would have, writing into dagster-dbt's pipe; the command waits and exits with dbt's exit
code, passing on an interrupt or termination. The warm process serves one command and ends: a retry, a
run from the UI or the daemon, or a night whose warm process failed to start runs dbt in the command's
own process, as before. A night that ends or dies takes its warm process with it (its stdin closes;
on Linux it is also killed with its parent), and a command whose warm process dies answers with an error.
"""

from __future__ import annotations

import getpass
import os
import pickle
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from pipelines.core.failpoints import failpoint
from pipelines.core.process import collect_cycles_less_often, exit_without_teardown

SERVER_ENV = "MIMAMORI_DBT_SERVER"  # the warm process's socket, in the environment dagster-dbt passes on
_LENGTH = struct.Struct("!Q")
_CODE = struct.Struct("!i")
_READY = struct.Struct("!i")  # the warm process's pid, once it takes the command
FOLDER_PREFIX = "mimamori-dbt-"  # + the night's pid: tempfile's folder for the warm process's socket
READY_SECONDS = 120  # a warm process not ready by then (dbt's import is 1.5 s) is passed by: dbt runs here


EXIT_INTERRUPTED = 2  # dbt's own exit code for an interrupted run


def interrupts_raise() -> None:
    """SIGINT raises KeyboardInterrupt here whatever this process inherited. Python leaves SIGINT ignored when
    its parent ignored it — a night started in the background of a non-interactive shell (`cmd &`, as
    CI or a script runs it) — and dagster-dbt cancels dbt with SIGINT: ignored, dbt ran to its end and the
    cancelled command exited 0 (issue #35)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)


def main() -> None:
    collect_cycles_less_often()
    interrupts_raise()
    code = run_on_warm_process(sys.argv[1:])
    if code is None:  # no warm process to hand the command to: dbt runs here
        code = run_dbt()
    exit_without_teardown(code)


def run_dbt() -> int:
    """dbt's own command line on sys.argv, then its DuckDB database closed; the exit code."""
    from dbt.cli.main import cli

    try:
        cli()  # click in standalone mode: always ends in SystemExit
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    close_duckdb()
    return code


def close_duckdb() -> None:
    """dbt-duckdb's database closed, as the interpreter's teardown would have closed it."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # another adapter (spark): nothing of ours to close
        return
    with DuckDBConnectionManager._LOCK:
        env, DuckDBConnectionManager._ENV = DuckDBConnectionManager._ENV, None
    if env is not None:
        env.close()


# ------------------------------------------------------------------------------------------ the command


def run_on_warm_process(argv: list[str]) -> int | None:
    """The command run by the night's warm process: dbt's exit code, or None when there is none to take it
    (not a night's dbt, or the process gone or already used)."""
    path = os.environ.get(SERVER_ENV)
    if not path:
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(READY_SECONDS)
    handlers, forwarded = {}, []
    try:
        conn.connect(path)  # the night listens from the start: this waits for the warm process, if any
        failpoint("dbt_client_connected")  # tests: an interrupt before the command is handed over
        listening = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
        if listening[1] != os.getuid():
            raise ConnectionRefusedError(f"{path} is served by uid {listening[1]}")
        ready = _receive(conn, _READY.size)  # it takes the command once it has dbt imported
        if ready is None:
            raise ConnectionResetError("the warm dbt process ended before it took the command")
        server = _READY.unpack(ready)[0]  # its pid (the socket's credentials are the night's, who listened)

        def forward(signum, _frame) -> None:  # dagster-dbt interrupts the command to cancel dbt
            forwarded.append(signum)
            try:
                os.kill(server, signum)
            except ProcessLookupError:
                pass
            os.write(2, f"mimamori-dbt: {signal.Signals(signum).name} passed on to dbt (pid {server})\n".encode())

        handlers = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
        conn.settimeout(None)
        request = pickle.dumps({"argv": argv, "env": dict(os.environ), "cwd": os.getcwd()})
        socket.send_fds(conn, [_LENGTH.pack(len(request))], [0, 1, 2])
        conn.sendall(request)  # whole, or the warm process cannot have started dbt
    except OSError:  # (a timeout included)
        conn.close()
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        return None  # nothing was handed over: run dbt here
    reply = _receive(conn, _CODE.size)
    if reply is None:
        print(f"mimamori-dbt: the warm dbt process (pid {server}) ended without an exit code", file=sys.stderr)
        return 1
    code = _CODE.unpack(reply)[0]
    if forwarded and code != EXIT_INTERRUPTED:
        print(f"mimamori-dbt: interrupted too late: dbt had already finished (exit {code})", file=sys.stderr)
    return code


def _receive(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


# ------------------------------------------------------------------------------------------ the warm process


@contextmanager
def warm_dbt_process() -> Iterator[subprocess.Popen | None]:
    """A warm dbt process for this night's ``mimamori-dbt`` (its socket in SERVER_ENV meanwhile); ended and
    removed with the block. None, and dbt runs as before, if it cannot be started (or off Linux: it
    relies on SO_PEERCRED and on being killed with its parent)."""
    try:
        if not sys.platform.startswith("linux"):
            raise OSError(f"no warm dbt process on {sys.platform}")
        _remove_stale_folders()
        # 0700: only this user reaches the socket; named by the night's pid, for a later night to clean up
        folder = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-"))
    except OSError:
        yield None
        return
    path = folder / "socket"
    # bound and listening here, so that a command connecting while the process starts waits for it; the
    # process holds the only copy, so that a command connecting to a dead one is refused, not left waiting
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(str(path))
        listener.listen(1)
        process = subprocess.Popen([sys.executable, "-m", "pipelines.linkage.dbt_command", "--serve",
                                    str(listener.fileno())], pass_fds=[listener.fileno()],
                                   stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        process = None
    finally:
        listener.close()
    previous = os.environ.get(SERVER_ENV)
    if process is not None:
        os.environ[SERVER_ENV] = str(path)
    try:
        yield process
    finally:
        if previous is None:
            os.environ.pop(SERVER_ENV, None)
        else:
            os.environ[SERVER_ENV] = previous
        if process is not None:
            process.stdin.close()  # unused, it ends; used, it has ended or ends with its command
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(folder, ignore_errors=True)


def _remove_stale_folders() -> None:
    """The socket folders of nights that were killed (their pid gone): a kill skips the night's cleanup."""
    for folder in Path(tempfile.gettempdir()).glob(f"{FOLDER_PREFIX}*-*"):
        pid = folder.name[len(FOLDER_PREFIX):].split("-")[0]
        if pid.isdigit() and folder.owner() == getpass.getuser() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(folder, ignore_errors=True)


def serve(listening_fd: int) -> None:
    """Import dbt, then run the one command that connects to the listening socket (inherited); end when
    stdin closes before one does."""
    parent = os.getppid()
    interrupts_raise()
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before that took effect
        os._exit(1)
    collect_cycles_less_often()
    listener = socket.socket(fileno=listening_fd)
    import dbt.adapters.duckdb  # noqa: F401 — what makes this process warm
    import dbt.cli.main  # noqa: F401

    import pipelines.linkage.dbt_store  # noqa: F401 — the store plugin dbt loads when it connects

    while True:
        ready, _, _ = select.select([listener, sys.stdin], [], [])
        if sys.stdin in ready and not sys.stdin.buffer.read1(1):
            os._exit(0)  # the night is over without needing dbt
        if listener in ready:
            conn, _ = listener.accept()
            peer = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
            if peer[1] == os.getuid():
                break
            conn.close()
    path = listener.getsockname()
    listener.close()
    os.unlink(path)  # one command only: a retry runs dbt in its own process
    conn.sendall(_READY.pack(os.getpid()))
    exit_without_teardown(_run_request(conn))


def _run_request(conn: socket.socket) -> int:
    message, fds, _, _ = socket.recv_fds(conn, _LENGTH.size, 3)
    request = pickle.loads(_receive(conn, _LENGTH.unpack(message)[0]) or b"")
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.environ.pop(SERVER_ENV, None)
    sys.stdout.flush()
    sys.stderr.flush()
    for fd, standard in zip(fds, (0, 1, 2)):
        os.dup2(fd, standard)
        os.close(fd)
    sys.argv = ["mimamori-dbt", *request["argv"]]
    answered = threading.Event()
    # the command killed before dbt ended (dagster-dbt gave up on it): dbt stops with it
    threading.Thread(target=_stop_when_closed, args=(conn, answered), daemon=True).start()
    try:
        failpoint("dbt_before_run")  # tests: an interrupt once the command is here, before dbt starts
        code = run_dbt()
    except KeyboardInterrupt:  # before dbt started, or while its database closed: the run is cancelled
        code = EXIT_INTERRUPTED
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # dbt is done: a later interrupt is reported as too late
    failpoint("dbt_after_run")  # tests: an interrupt after dbt ended, before the command has its answer
    sys.stdout.flush()
    sys.stderr.flush()
    null = os.open(os.devnull, os.O_WRONLY)  # dagster-dbt's pipe closed here before the command answers
    os.dup2(null, 1)
    os.dup2(null, 2)
    answered.set()
    conn.sendall(_CODE.pack(code))
    return code


def _stop_when_closed(conn: socket.socket, answered: threading.Event) -> None:
    conn.recv(1)  # the command sends nothing more: this returns when it is gone
    if not answered.is_set():
        os.kill(os.getpid(), signal.SIGKILL)


def _die_with_parent() -> None:
    """On Linux, killed when the night's process ends, however it ends (prctl PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(int(sys.argv[2]))
    else:
        main()
