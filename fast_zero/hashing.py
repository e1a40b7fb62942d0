"""Password hashing policy: Argon2id, run off the event loop.

Argon2 is deliberately slow (tens of milliseconds and 64 MiB per hash with
the recommended parameters). Run on the event loop it would stall every
other request, so the request path hands it to a small, dedicated pool of
threads. Those threads lower their own scheduling priority, so that a burst
of logins cannot starve the event loop's thread of CPU either.

The pool admits only as many jobs as it has threads plus a short queue; a
request beyond that gets 503 at once, rather than every request waiting
longer and longer behind an unbounded queue.

The app's lifespan starts a pool and shuts it down at exit; hashing
outside a lifespan (a script, a test) starts one on first use.
"""

import asyncio
import contextvars
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from http import HTTPStatus
from typing import TypeVar

from fastapi import HTTPException
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from fast_zero import metrics
from fast_zero.logs import RateLimitedWarning
from fast_zero.settings import settings

logger = logging.getLogger(__name__)

Result = TypeVar('Result')

HASHING_THREAD_NICENESS = 10


def build_password_hash() -> PasswordHash:
    return PasswordHash((
        Argon2Hasher(
            time_cost=settings.ARGON2_TIME_COST,
            memory_cost=settings.ARGON2_MEMORY_COST,
            parallelism=settings.ARGON2_PARALLELISM,
        ),
    ))


def lower_thread_priority() -> None:
    """Be nicer than the event loop's thread (Linux: per-thread nice)."""
    try:
        os.setpriority(
            os.PRIO_PROCESS, threading.get_native_id(), HASHING_THREAD_NICENESS
        )
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        logger.debug('could not lower the hashing threads priority')


class HashingBusy(HTTPException):
    """503: the hashing pool is full; the client may retry shortly."""

    def __init__(self) -> None:
        super().__init__(
            status_code=HTTPStatus.SERVICE_UNAVAILABLE,
            detail='Server busy, retry later',
            headers={
                'Retry-After': str(settings.HASHING_BUSY_RETRY_AFTER_SECONDS)
            },
        )


class HashingPool:
    """Threads for hashing that admit `threads + queue_size` jobs at most.

    A slot is taken before a job is queued and given back when the job
    is done: finished, failed, or cancelled before it started. A request
    cancelled while its job runs does not free the slot early, since the
    thread (and Argon2's memory) is still busy until the job ends.
    """

    def __init__(self, *, threads: int, queue_size: int) -> None:
        self.warn_busy = RateLimitedWarning(
            logger, 'Hashing pool full: answering 503'
        )
        self._executor = ThreadPoolExecutor(
            max_workers=threads,
            thread_name_prefix='password-hashing',
            initializer=lower_thread_priority,
        )
        # Taken without waiting on the event loop, given back by whichever
        # thread finishes (or cancels) the job.
        self._slots = threading.BoundedSemaphore(threads + queue_size)
        self.closed = False

    async def run(
        self, function: Callable[..., Result], *args: object
    ) -> Result:
        """Run `function(*args)` in a thread; HashingBusy if full."""
        if not self._slots.acquire(blocking=False):
            metrics.hashing_jobs_refused.inc()
            self.warn_busy()
            raise HashingBusy()
        metrics.hashing_jobs_waiting.inc()
        # In a copy of the request's context: its log lines carry its id.
        job = self._executor.submit(
            contextvars.copy_context().run, self._hash, function, *args
        )
        job.add_done_callback(self._release_slot)
        # Cancelling this await cancels the job only if it has not started.
        return await asyncio.wrap_future(job)

    @staticmethod
    def _hash(function: Callable[..., Result], *args: object) -> Result:
        metrics.hashing_jobs_waiting.dec()
        metrics.hashing_jobs_running.inc()
        try:
            return function(*args)
        finally:
            metrics.hashing_jobs_running.dec()

    def _release_slot(self, job: Future) -> None:
        if job.cancelled():  # before it started
            metrics.hashing_jobs_waiting.dec()
        self._slots.release()

    def shutdown(self) -> None:
        """Cancel the waiting jobs, finish the running ones, stop."""
        self.closed = True
        self._executor.shutdown(wait=True, cancel_futures=True)


# The pool hashing runs in: the running lifespan's, or one started on
# first use outside a lifespan.
hashing_pool: HashingPool | None = None


def start_hashing_pool() -> HashingPool:
    """A fresh pool, from now on the one hashing runs in."""
    global hashing_pool  # noqa: PLW0603 (the process's one current pool)
    hashing_pool = HashingPool(
        threads=settings.HASHING_THREADS,
        queue_size=settings.hashing_queue_size,
    )
    return hashing_pool


async def stop_hashing_pool(pool: HashingPool) -> None:
    """Shut `pool` down without blocking the loop (running jobs finish)."""
    global hashing_pool  # noqa: PLW0603
    if hashing_pool is pool:
        hashing_pool = None
    await asyncio.to_thread(pool.shutdown)


async def run_hashing(
    function: Callable[..., Result], *args: object
) -> Result:
    """Run a hashing function in the hashing pool and await its result.

    Raises HashingBusy (answered 503) when the pool is full.
    """
    pool = hashing_pool
    if pool is None or pool.closed:
        pool = start_hashing_pool()
    return await pool.run(function, *args)
