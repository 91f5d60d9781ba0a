"""Debates running as background tasks in this server process (one asyncio task per debate)."""
import asyncio
import contextvars
import logging

from debates.orchestrator import DebateRunner

logger = logging.getLogger("debates.tasks")
_running: dict[int, asyncio.Task] = {}


def launch(debate_id: int) -> asyncio.Task:
    """Run the debate on the current event loop; the request that started it returns at once."""
    # A fresh context: the debate outlives the request, and must not keep the request's thread context.
    task = asyncio.get_running_loop().create_task(DebateRunner(debate_id).run(), name=f"debate-{debate_id}",
                                                  context=contextvars.Context())
    _running[debate_id] = task
    task.add_done_callback(lambda done: _forget(debate_id, done))
    return task


def is_running_here(debate_id: int) -> bool:
    task = _running.get(debate_id)
    return task is not None and not task.done()


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
