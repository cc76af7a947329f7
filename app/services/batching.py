"""Dynamic batching: concurrent callers' items go through one function call together, as TF Serving,
Triton and Ray Serve batch requests.

No thread of its own: the first caller in line leads. It takes what is queued (at most ``max_size``),
and while others have announced that they are on their way (``arriving``) and the batch is not full it
waits for them, at most ``window_s``; then it runs the batch and hands every caller its own answer. Items
that arrive while a batch runs queue, and the first of them leads the next batch. A lone caller, with no
one else on the way, runs at once. When the function raises, every caller of that batch gets the exception.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any


class BatcherClosed(RuntimeError):
    """The batcher was closed: it takes no new items."""


class Arrival:
    """A caller announced by ``Batcher.arriving``; ``submit`` it with its item."""

    submitted = False


class _Slot:
    def __init__(self, item: Any) -> None:
        self.item, self.done = item, False
        self.result: Any = None
        self.error: BaseException | None = None


class Batcher:
    """Runs ``run(items) -> answers`` (one answer per item, in order) on batches of concurrent ``submit`` calls;
    safe to share between threads."""

    def __init__(self, run: Callable[[list], Sequence], max_size: int, window_s: float) -> None:
        if max_size < 1 or window_s < 0:
            raise ValueError(f"a batch holds at least 1 item and waits 0 s or more, not {max_size}, {window_s}")
        self.run, self.max_size, self.window_s = run, int(max_size), float(window_s)
        self._cond = threading.Condition()
        self._queue: list[_Slot] = []
        self._running = False
        self._coming = 0
        self._closed = False
        self.batches = 0
        self.items = 0
        self.sizes: Counter[int] = Counter()  # batch size -> how many batches had it

    @contextlib.contextmanager
    def arriving(self) -> Iterator[Arrival]:
        """Announce a caller on its way to ``submit`` (a leader waits for it); leaving without submitting
        withdraws it."""
        arrival = Arrival()
        with self._cond:
            self._coming += 1
        try:
            yield arrival
        finally:
            if not arrival.submitted:
                with self._cond:
                    self._coming -= 1
                    self._cond.notify_all()

    def submit(self, item: Any, arrival: Arrival | None = None) -> Any:
        """``item``'s answer, computed in a batch with whatever else is queued (raises what ``run`` raised)."""
        slot = _Slot(item)
        with self._cond:
            if self._closed:
                raise BatcherClosed("the batcher is closed")
            if arrival is not None and not arrival.submitted:
                arrival.submitted = True
                self._coming -= 1
            self._queue.append(slot)
            self._cond.notify_all()
            while not slot.done and (self._running or self._queue[0] is not slot):
                self._cond.wait()
            if slot.done:
                return _answer(slot)
            self._running = True  # this caller leads the next batch
            deadline = time.monotonic() + self.window_s
            while len(self._queue) < self.max_size and self._coming > 0 and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            batch = self._queue[:self.max_size]
            del self._queue[:self.max_size]
        try:
            answers = list(self.run([s.item for s in batch]))
            if len(answers) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} items got {len(answers)} answers")
            for s, answer in zip(batch, answers):
                s.result = answer
        except BaseException as exc:  # every caller of the batch gets it, the leader re-raises its own
            for s in batch:
                s.error = exc
        finally:
            with self._cond:
                for s in batch:
                    s.done = True
                self.batches += 1
                self.items += len(batch)
                self.sizes[len(batch)] += 1
                self._running = False
                self._cond.notify_all()
        return _answer(slot)

    @property
    def queued(self) -> int:
        """Items waiting for a batch now."""
        with self._cond:
            return len(self._queue)

    def close(self) -> None:
        """Take no new items; what is queued is still answered."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def stats(self) -> dict[str, Any]:
        """Batches run, items answered, and how many batches had each size, since the start."""
        with self._cond:
            return {"batches": self.batches, "images": self.items,
                    "sizes": {str(size): count for size, count in sorted(self.sizes.items())}}


def _answer(slot: _Slot) -> Any:
    if slot.error is not None:
        raise slot.error
    return slot.result
