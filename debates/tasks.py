"""Debates running as background tasks in this server process (one asyncio task per debate)."""
import asyncio
import contextvars
import logging
import sys

from debates.orchestrator import SERVER_STOPPING, DebateRunner, stopped_by_server

logger = logging.getLogger("debates.tasks")
_running: dict[int, asyncio.Task] = {}
_shutdown_hooked = False


def launch(debate_id: int, *, token: str = "") -> asyncio.Task:
    """Run the debate on the current event loop; the request that started it returns at once. `token`: a lease
    already claimed for it (a takeover), else the runner claims one."""
    # A fresh context: the debate outlives the request, and must not keep the request's thread context.
    task = asyncio.get_running_loop().create_task(DebateRunner(debate_id, token=token).run(),
                                                  name=f"debate-{debate_id}", context=contextvars.Context())
    _running[debate_id] = task
    task.add_done_callback(lambda done: _forget(debate_id, done))
    _hook_server_shutdown()
    return task


def running_here() -> set[int]:
    return {debate_id for debate_id, task in _running.items() if not task.done()}


def stop_all() -> list[asyncio.Task]:
    """The server is stopping: end every debate it runs as interrupted (resumable), not as cancelled."""
    pending = [task for task in _running.values() if not task.done()]
    for debate_id, task in _running.items():
        if not task.done():
            stopped_by_server.add(debate_id)
    for task in pending:
        task.cancel(SERVER_STOPPING)
    return pending


def _hook_server_shutdown() -> None:
    """Under daphne, stop our debates before the reactor stops; else Ctrl-C waits for every debate to end."""
    global _shutdown_hooked
    reactor = sys.modules.get("twisted.internet.reactor")  # never import it: that would install one
    if _shutdown_hooked or reactor is None:
        return
    _shutdown_hooked = True

    def before_shutdown():
        from twisted.internet.defer import Deferred

        pending = stop_all()
        if pending:  # let each runner record where it stopped, for a few seconds at most
            return Deferred.fromFuture(asyncio.ensure_future(asyncio.wait(pending, timeout=5)))
        return None

    reactor.addSystemEventTrigger("before", "shutdown", before_shutdown)


def cancel_here(debate_id: int) -> bool:
    task = _running.get(debate_id)
    if task is None or task.done():
        return False
    task.cancel()
    return True


def _forget(debate_id: int, task: asyncio.Task) -> None:
    if _running.get(debate_id) is task:
        del _running[debate_id]
    if not task.cancelled() and task.exception() is not None:
        logger.error("debate %s task ended with %r", debate_id, task.exception())
