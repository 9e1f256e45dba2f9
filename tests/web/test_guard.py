"""Admission control's slots: first come first served, a deadline per waiter, a freed slot handed over."""

import asyncio

from paperfeed.web.guard import Slots


def test_slots_serve_in_order_and_time_out():
    async def scenario():
        slots = Slots(1)
        assert await slots.acquire(0.1)
        order = []

        async def waiter(name, timeout):
            got = await slots.acquire(timeout)
            order.append((name, got))
            if got:
                await asyncio.sleep(0.01)
                slots.release()

        tasks = [asyncio.create_task(waiter(n, t)) for n, t in (("a", 1.0), ("late", 0.05), ("b", 1.0))]
        await asyncio.sleep(0.1)  # "late" gives up while the slot is still taken
        slots.release()
        await asyncio.gather(*tasks)
        return order, slots.free, slots.waiting

    order, free, waiting = asyncio.run(scenario())
    assert order == [("late", False), ("a", True), ("b", True)]
    assert (free, waiting) == (1, 0)  # every slot back, nobody left waiting


def test_a_cancelled_waiter_does_not_keep_a_slot():
    async def scenario():
        slots = Slots(1)
        await slots.acquire(1)
        task = asyncio.create_task(slots.acquire(5))
        await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.sleep(0.01)
        slots.release()
        return slots.free, await slots.acquire(0.01)

    assert asyncio.run(scenario()) == (1, True)
