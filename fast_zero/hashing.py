"""Password hashing policy: Argon2id, run off the event loop.

Argon2 is deliberately slow (tens of milliseconds and 64 MiB per hash with
the recommended parameters). Run on the event loop it would stall every
other request, so the request path hands it to a small, dedicated pool of
threads. Those threads lower their own scheduling priority, so that a burst
of logins cannot starve the event loop's thread of CPU either.
"""

import asyncio
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from fast_zero.settings import settings

logger = logging.getLogger(__name__)

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


hashing_executor = ThreadPoolExecutor(
    max_workers=os.cpu_count() or 1,
    thread_name_prefix='password-hashing',
    initializer=lower_thread_priority,
)


async def run_hashing(function, *args):
    """Run a hashing function in the hashing pool and await its result."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(hashing_executor, function, *args)
