"""Who may write a debate: the lease a runner holds on its row, and how to tell that its holder is gone.

A runner's lease is `Debate.runner_token`, renewed by its heartbeat (`heartbeat_at`); `Debate.runner` says where
the runner lives. A lease whose heartbeat is older than RUNNER_STALE_AFTER has run out, wherever its runner was.
A runner is gone at once, with no need to wait, when it lived on this host in a process that no longer exists, or
when the mark it kept in the var directory is no longer held (`marked_gone`): that is how a restarted container
knows the debates of the container it replaces, whose pids it cannot look up."""
import atexit
import contextlib
import fcntl
import functools
import hashlib
import os
import re
import socket
import threading
from pathlib import Path

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from debates.models import RUNNER_STALE_AFTER


def this_process() -> str:
    """This process as a debate's `runner` field holds it: host:pid@start, the host as this_host() names it and the
    start from /proc (clock ticks after boot; left out where /proc does not tell). The start tells this process from
    an earlier one that had its pid: a container restarted in a new PID namespace is pid 1 again, and the kernel
    often gives the new namespace the number of the old one, so host and pid alone would name the dead runner.
    Its mark is held from the first time it is named, so before it can hold any lease."""
    pid = os.getpid()
    name = f"{this_host()}:{pid}" + (f"@{stat[STAT_START]}" if (stat := _stat_of(pid)) else "")
    _hold_mark(name)
    return name


@functools.cache
def this_host() -> str:
    """Where a pid names one process: this machine's boot and this PID namespace, after the host name.

    The host name alone is not enough: the containers of one service often share theirs (a `hostname:` in a compose
    file, host networking), and each has pids of its own. Named by host name only, a process in one container
    would find the pid of a runner in another missing, take its live debate over, then lose it back to it at the
    other's next sweep, the cut turn redone each time. Where Linux's /proc does not tell, the host name alone."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return socket.gethostname()
    return f"{socket.gethostname()}~{hashlib.sha256(f'{boot} {namespace}'.encode()).hexdigest()[:8]}"


def lease_expired() -> Q:
    """Debates whose runner has not renewed its lease for RUNNER_STALE_AFTER (or never held one)."""
    return Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=timezone.now() - RUNNER_STALE_AFTER)


def runners_on_this_host() -> Q:
    """Debates whose runner lived on this host in another process: `died_here` tells which of them are gone."""
    return Q(runner__startswith=f"{this_host()}:") & ~Q(runner=this_process())


def died_here(runner: str) -> bool:
    """Whether `runner` ("host:pid@start", or "host:pid" as older rows hold it) was a process of this host that has
    exited (or is a zombie nobody reaped): its pid names no process, or one that started at another time.

    Never true of this process itself: what it runs it knows, and a debate it holds but no longer runs waits for
    its lease to run out like any other."""
    host, _, process = runner.rpartition(":")
    pid, _, start = process.partition("@")
    if host != this_host() or not pid.isdigit() or runner == this_process():
        return False
    stat = _stat_of(int(pid))
    if start and stat is not None and stat[STAT_START] != start:
        return True  # the pid is another process's now
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return stat is not None and stat[STAT_STATE] == "Z"  # killed but not yet reaped by its parent: as dead as it gets


STAT_STATE, STAT_START = 0, 19  # in the fields after the command name: fields 3 and 22 of /proc/<pid>/stat


def _stat_of(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields if len(fields) > STAT_START else None


# ---- marks: a file per runner process in ARENA_VAR_DIR, locked for as long as the process lives --------------------
# The kernel drops a process's locks when it dies, however it dies (SIGKILL included), and a lock on a file in a
# directory that several containers share (the volume the SQLite database lives on) is seen by all of them. A mark
# that exists and that nobody holds is the mark of a dead runner. Where no mark can be made or seen (another
# machine, a read-only directory), nothing is concluded: the lease runs out as before.
_NAME = re.compile(r"^[\w.~-]+:\d+(@\d+)?$")  # what this_process() makes: nothing that could leave the directory
_held: dict[str, int] = {}  # runner name -> the open, locked file (kept open: closing it would drop the lock)
_marking = threading.Lock()


def _marks() -> Path:
    return Path(settings.VAR_DIR) / "runners"


def _hold_mark(name: str) -> None:
    if name in _held:
        return
    with _marking:  # the event loop's thread and the database thread may name this process at the same moment
        if name not in _held:
            _make_mark(name)


def _make_mark(name: str) -> None:
    if not _held:
        atexit.register(_drop_marks)
    if not _NAME.match(name):
        _held[name] = -1  # a host name of other characters: no mark, its leases run out as before
        return
    try:
        _marks().mkdir(exist_ok=True)
        fd = os.open(_marks() / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        _held[name] = -1  # no mark here: this runner's leases run out as before
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # held by a live process of this very name (two namespaces whose tags collide): it speaks
        os.close(fd)  # for this name; nobody then takes this process's debates for dead before their lease ends
        fd = -1
    _held[name] = fd


def _drop_marks() -> None:
    """On a clean exit: nobody need tell from the mark that this process is gone, it gave its debates up."""
    for name, fd in _held.items():
        if fd >= 0:
            with contextlib.suppress(OSError):
                (_marks() / f"{name}.lock").unlink()


def marked_runners() -> list[str]:
    """The runners other than this process that left a mark here: the ones `marked_gone` can tell about."""
    try:
        names = [entry.name.removesuffix(".lock") for entry in os.scandir(_marks()) if entry.name.endswith(".lock")]
    except OSError:
        return []
    return [name for name in names if _NAME.match(name) and name not in _held]


def marked_gone(runner: str) -> bool:
    """Whether `runner` left a mark here that no process holds any more: it has exited."""
    return _unheld(runner, remove=False)


def forget_mark(runner: str) -> None:
    """Remove `runner`'s mark if its process is gone: once it holds no debate, nobody needs to be told."""
    _unheld(runner, remove=True)


def _unheld(runner: str, *, remove: bool) -> bool:
    if not _NAME.match(runner) or runner in _held:
        return False
    path = _marks() / f"{runner}.lock"
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # held: its process lives (or another sweeper is looking this instant: the next sweep tells)
    else:
        if remove:
            with contextlib.suppress(OSError):
                path.unlink()
        return True
    finally:
        os.close(fd)
