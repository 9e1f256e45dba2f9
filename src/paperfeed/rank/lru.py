"""The in-process caches of For you (rankings, a day's candidates, phrase embeddings)."""

from __future__ import annotations

import threading
from collections import OrderedDict


class LRU:
    """Least recently used, bounded by entries and by their total cost (a ranking costs one per paper)."""

    def __init__(self, size: int, max_cost: int | None = None, cost=lambda value: 1):
        self.size, self.items, self.lock = size, OrderedDict(), threading.Lock()
        self.max_cost, self.cost, self.total = max_cost or size, cost, 0

    def get(self, key):
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
            return self.items.get(key)

    def put(self, key, value) -> None:
        with self.lock:
            if key in self.items:
                self.total -= self.cost(self.items.pop(key))
            self.items[key] = value
            self.total += self.cost(value)
            while len(self.items) > self.size or (self.total > self.max_cost and len(self.items) > 1):
                self.total -= self.cost(self.items.popitem(last=False)[1])

    def clear(self) -> None:
        with self.lock:
            self.items.clear()
            self.total = 0
