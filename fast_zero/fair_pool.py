"""A connection pool that serves waiting requests first come, first served.

SQLAlchemy's asyncio pool queues connections in an `asyncio.Queue`, which
is not fair under load: a returned connection wakes the longest waiter,
but a request arriving before that waiter runs takes the connection, and
the waiter queues again at the back. At 64 concurrent requests that made
the median latency 7 ms and the 99th percentile over a second, with
timeouts. Here a returned connection is handed straight to the longest
waiter.
"""

import asyncio
from collections import deque

from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.util.queue import AsyncAdaptedQueue


class HandoffQueue:
    """The part of `asyncio.Queue` the pool uses, FIFO for waiters.

    Invariant: items wait only while no request does, so `get` never
    overtakes a waiting request.
    """

    def __init__(self, maxsize: int = 0):
        self.maxsize = maxsize
        self._items = deque()
        self._waiters = deque()

    def empty(self) -> bool:
        return not self._items

    def full(self) -> bool:
        return 0 < self.maxsize <= len(self._items)

    def qsize(self) -> int:
        return len(self._items)

    def put_nowait(self, item) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(item)
                return
        if self.full():
            raise asyncio.QueueFull
        self._items.append(item)

    async def put(self, item) -> None:
        self.put_nowait(item)

    def get_nowait(self):
        if not self._items:
            raise asyncio.QueueEmpty
        return self._items.popleft()

    async def get(self):
        if self._items:
            return self._items.popleft()
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


class FairQueue(AsyncAdaptedQueue):
    @property
    def _queue(self) -> HandoffQueue:
        # Made on first use, inside the running loop, like SQLAlchemy's.
        queue = self.__dict__.get('_handoff_queue')
        if queue is None:
            queue = self.__dict__['_handoff_queue'] = HandoffQueue(
                self.maxsize
            )
        return queue


class FairAsyncQueuePool(AsyncAdaptedQueuePool):
    _queue_class = FairQueue
