import asyncio
import inspect
import logging

import pytest
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool, QueuePool
from sqlalchemy.util import queue as sqlalchemy_queue

from fast_zero import fair_pool
from fast_zero.database import STOCK_POOL, build_engine
from fast_zero.fair_pool import FairAsyncQueuePool, HandoffQueue
from fast_zero.settings import settings


@pytest.mark.asyncio
async def test_returned_item_goes_to_the_longest_waiter_not_a_newcomer():
    queue = HandoffQueue()
    first = asyncio.create_task(queue.get())
    second = asyncio.create_task(queue.get())
    await asyncio.sleep(0)  # both wait now

    queue.put_nowait('connection')
    # A newcomer arriving before the woken waiter runs finds nothing.
    with pytest.raises(asyncio.QueueEmpty):
        queue.get_nowait()

    assert await first == 'connection'
    assert not second.done()
    queue.put_nowait('another')
    assert await second == 'another'


@pytest.mark.asyncio
async def test_items_wait_in_order_when_nobody_waits():
    queue = HandoffQueue()
    queue.put_nowait('a')
    queue.put_nowait('b')

    assert queue.qsize() == len(['a', 'b'])
    assert await queue.get() == 'a'
    assert queue.get_nowait() == 'b'
    assert queue.empty()


@pytest.mark.asyncio
async def test_full_queue_refuses_more_items():
    queue = HandoffQueue(maxsize=1)
    await queue.put('a')

    assert queue.full()
    with pytest.raises(asyncio.QueueFull):
        queue.put_nowait('b')


@pytest.mark.asyncio
async def test_waiter_that_times_out_is_skipped():
    queue = HandoffQueue()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(queue.get(), timeout=0.01)

    queue.put_nowait('connection')

    assert queue.get_nowait() == 'connection'


@pytest.mark.asyncio
async def test_item_handed_to_a_cancelled_waiter_is_passed_on():
    queue = HandoffQueue()
    doomed = asyncio.create_task(queue.get())
    patient = asyncio.create_task(queue.get())
    await asyncio.sleep(0)

    queue.put_nowait('connection')  # handed to `doomed`...
    doomed.cancel()  # ...which is cancelled before it runs

    assert await patient == 'connection'
    assert doomed.cancelled()


@pytest.mark.asyncio
async def test_lifo_queue_hands_out_the_latest_idle_item_waiters_in_order():
    queue = HandoffQueue(use_lifo=True)
    queue.put_nowait('a')
    queue.put_nowait('b')

    assert queue.get_nowait() == 'b'
    assert await queue.get() == 'a'
    first = asyncio.create_task(queue.get())
    second = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.put_nowait('c')
    queue.put_nowait('d')
    assert (await first, await second) == ('c', 'd')


async def connection_after_two_returns(engine) -> bool:
    """Check out two connections, return them (the first one last), check
    one out again: is it the one returned last?"""
    async with engine.connect() as first:
        async with engine.connect() as second:
            first_raw = (await first.get_raw_connection()).dbapi_connection
            second_raw = (await second.get_raw_connection()).dbapi_connection
    async with engine.connect() as again:
        again_raw = (await again.get_raw_connection()).dbapi_connection
    await engine.dispose()
    assert again_raw in {first_raw, second_raw}
    return again_raw is first_raw


@pytest.mark.parametrize('use_lifo', [True, False])
@pytest.mark.asyncio
async def test_fair_pool_honours_use_lifo(use_lifo, tmp_path):
    engine = create_async_engine(
        f'sqlite+aiosqlite:///{tmp_path / "app.db"}',
        poolclass=FairAsyncQueuePool,
        pool_size=2,
        pool_use_lifo=use_lifo,
    )

    assert await connection_after_two_returns(engine) is use_lifo


def test_sqlalchemy_keeps_what_the_fair_pool_relies_on():
    missing = fair_pool.missing_internals()

    assert not missing, (
        'fast_zero/fair_pool.py relies on private internals that the '
        'installed SQLAlchemy changed: ' + '; '.join(missing)
    )


def queue_class_gone(monkeypatch):
    monkeypatch.delattr(sqlalchemy_queue, 'AsyncAdaptedQueue')


def queue_built_elsewhere(monkeypatch):
    def __init__(self, creator, pool_size=5, **kw):  # a new QueuePool
        """Builds its queue without _queue_class."""

    monkeypatch.setattr(QueuePool, '__init__', __init__)


def queue_signature_changed(monkeypatch):
    def __init__(self, capacity=0):
        """A queue that renamed its parameters."""

    monkeypatch.setattr(
        sqlalchemy_queue.AsyncAdaptedQueue, '__init__', __init__
    )


def queue_asks_for_more(monkeypatch):
    def get(self, block=True, timeout=None):
        """A queue that also asks its asyncio queue for `join`."""
        return self._queue.join()

    monkeypatch.setattr(sqlalchemy_queue.AsyncAdaptedQueue, 'get', get)


def queue_without_asyncio_queue(monkeypatch):
    for name, value in list(vars(sqlalchemy_queue.AsyncAdaptedQueue).items()):
        if inspect.isfunction(value) and name != '__init__':
            monkeypatch.delattr(sqlalchemy_queue.AsyncAdaptedQueue, name)


@pytest.mark.parametrize(
    ('change', 'named'),
    [
        (queue_class_gone, 'AsyncAdaptedQueue is gone'),
        (queue_built_elsewhere, '_queue_class'),
        (queue_signature_changed, 'AsyncAdaptedQueue.__init__'),
        (queue_asks_for_more, '_queue.join'),
        (queue_without_asyncio_queue, 'no longer works through _queue'),
    ],
)
def test_changed_internals_are_named(change, named, monkeypatch):
    change(monkeypatch)

    missing = fair_pool.missing_internals()

    assert len(missing) == 1
    assert named in missing[0]


@pytest.mark.asyncio
async def test_changed_internals_fall_back_to_the_stock_pool_with_a_warning(
    monkeypatch, caplog, tmp_path
):
    queue_asks_for_more(monkeypatch)

    with caplog.at_level(logging.WARNING, logger='fast_zero.database'):
        engine = build_engine(f'sqlite+aiosqlite:///{tmp_path / "app.db"}')
    monkeypatch.undo()

    assert type(engine.pool) is AsyncAdaptedQueuePool
    assert engine.pool.size() == settings.SQLITE_POOL_SIZE
    assert [record.levelname for record in caplog.records] == ['WARNING']
    assert 'fair_pool.py is off' in caplog.text
    assert '_queue.join' in caplog.text
    await engine.dispose()


@pytest.mark.asyncio
async def test_switch_selects_the_stock_pool_without_a_warning(
    monkeypatch, caplog
):
    monkeypatch.setenv(STOCK_POOL, '1')

    with caplog.at_level(logging.WARNING, logger='fast_zero.database'):
        engine = build_engine('postgresql+psycopg://app@db.example/app')

    assert type(engine.pool) is AsyncAdaptedQueuePool
    assert engine.pool.size() == settings.DATABASE_POOL_SIZE
    assert caplog.records == []
    await engine.dispose()
