"""A connection pool that serves waiting requests first come, first served.

SQLAlchemy's asyncio pool queues connections in an `asyncio.Queue`, which
is not fair under load: a returned connection wakes the longest waiter,
but a request arriving before that waiter runs takes the connection, and
the waiter queues again at the back. At 64 concurrent requests that made
the median latency 7 ms and the 99th percentile over a second, with
timeouts. Here a returned connection is handed straight to the longest
waiter.

It replaces the private queue class of SQLAlchemy's pool:
`missing_internals` names what it relies on, `build_engine` falls back to
the stock pool when any of it is gone, and a test fails on a SQLAlchemy
that changed it.
"""

import asyncio
import inspect
from collections import deque
from collections.abc import Callable
from typing import Any

from sqlalchemy.pool import AsyncAdaptedQueuePool, QueuePool
from sqlalchemy.util import queue as sqlalchemy_queue


class HandoffQueue:
    """The part of `asyncio.Queue` the pool uses, FIFO for waiters.

    Invariant: items wait only while no request does, so `get` never
    overtakes a waiting request. `use_lifo` (the pool's option) hands out
    the most recently returned idle item first; waiters stay in order.
    """

    def __init__(self, maxsize: int = 0, *, use_lifo: bool = False):
        self.maxsize = maxsize
        self.use_lifo = use_lifo
        self._items: deque[Any] = deque()
        self._waiters: deque[asyncio.Future[Any]] = deque()

    def empty(self) -> bool:
        return not self._items

    def full(self) -> bool:
        return 0 < self.maxsize <= len(self._items)

    def qsize(self) -> int:
        return len(self._items)

    def put_nowait(self, item: Any) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(item)
                return
        if self.full():
            raise asyncio.QueueFull
        self._items.append(item)

    async def put(self, item: Any) -> None:
        self.put_nowait(item)

    def _take(self) -> Any:
        return self._items.pop() if self.use_lifo else self._items.popleft()

    def get_nowait(self) -> Any:
        if not self._items:
            raise asyncio.QueueEmpty
        return self._take()

    async def get(self) -> Any:
        if self._items:
            return self._take()
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            # Timed out (or cancelled) just as a connection was handed over:
            # pass it on rather than lose it.
            if waiter.done() and not waiter.cancelled():
                self.put_nowait(waiter.result())
            raise


class FairQueue(sqlalchemy_queue.AsyncAdaptedQueue):
    # A HandoffQueue has every method of asyncio.Queue the pool calls.
    @property
    def _queue(self) -> HandoffQueue:  # type: ignore[override]
        # Made on first use, inside the running loop, like SQLAlchemy's.
        queue = self.__dict__.get('_handoff_queue')
        if queue is None:
            queue = self.__dict__['_handoff_queue'] = HandoffQueue(
                self.maxsize, use_lifo=self.use_lifo
            )
        return queue


class FairAsyncQueuePool(AsyncAdaptedQueuePool):
    _queue_class = FairQueue


def names_used(function: Callable[..., object]) -> set[str]:
    """Global and attribute names a function's code refers to."""
    return set(function.__code__.co_names)


def missing_internals() -> list[str]:
    """What of SQLAlchemy's pool internals this module needs and does not
    find: empty when FairAsyncQueuePool works as designed."""
    base = getattr(sqlalchemy_queue, 'AsyncAdaptedQueue', None)
    if base is None:
        return ['sqlalchemy.util.queue.AsyncAdaptedQueue is gone']
    missing = []
    if '_queue_class' not in names_used(QueuePool.__init__):
        missing.append(
            'QueuePool.__init__ no longer builds its queue from _queue_class'
        )
    parameters = list(inspect.signature(base.__init__).parameters)
    if parameters[:3] != ['self', 'maxsize', 'use_lifo']:
        missing.append(
            f'AsyncAdaptedQueue.__init__{inspect.signature(base.__init__)}'
            ' is not (self, maxsize, use_lifo)'
        )
    methods = [
        value
        for value in vars(base).values()
        if inspect.isfunction(value) and value.__name__ != '__init__'
    ]
    if not any('_queue' in names_used(method) for method in methods):
        missing.append('AsyncAdaptedQueue no longer works through _queue')
    # What the queue asks of asyncio.Queue, HandoffQueue must answer.
    asked = set().union(*(names_used(method) for method in methods))
    ours = HandoffQueue()
    lacking = sorted(
        name
        for name in asked & set(dir(asyncio.Queue))
        if not name.startswith('_') and not hasattr(ours, name)
    )
    missing.extend(
        f'AsyncAdaptedQueue calls _queue.{name}, which HandoffQueue lacks'
        for name in lacking
    )
    return missing
