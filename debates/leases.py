"""Who may write a debate: the lease a runner holds on its row, and how to tell that its holder is gone.

A runner's lease is `Debate.runner_token`, renewed by its heartbeat (`heartbeat_at`); `Debate.runner` says where
the runner lives. A lease whose heartbeat is older than RUNNER_STALE_AFTER has run out, wherever its runner was;
a runner that lived on this host in a process that no longer exists is gone at once, with no need to wait."""
import functools
import hashlib
import os
import socket
from pathlib import Path

from django.db.models import Q
from django.utils import timezone

from debates.models import RUNNER_STALE_AFTER


def this_process() -> str:
    """This process as a debate's `runner` field holds it: host:pid, the host as this_host() names it."""
    return f"{this_host()}:{os.getpid()}"


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
    """Whether `runner` ("host:pid") was a process of this host that has exited (or is a zombie nobody reaped).

    Never true of this process itself: what it runs it knows, and a debate it holds but no longer runs waits for
    its lease to run out like any other."""
    host, _, pid = runner.rpartition(":")
    if host != this_host() or not pid.isdigit() or runner == this_process():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    try:  # killed but not yet reaped by its parent: as dead as it gets
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False
