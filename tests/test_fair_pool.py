import asyncio

import pytest

from fast_zero.fair_pool import HandoffQueue


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
