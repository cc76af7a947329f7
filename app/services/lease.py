"""One training job at a time across a deployment: a lock in Redis that expires unless its holder renews it.

The lock's value is the id of the job holding it. The replica that accepts a job takes it (for as long as the
job may wait for a worker), the worker that runs the job renews it while the job lives and lets it go after
recording the job's ending. A holder that dies stops renewing, so the lock is free again at most one lease later.
Renewing and letting go only ever touch the lock while it still names the same job.
"""

from __future__ import annotations

import logging
import threading
from typing import Self

import redis

log = logging.getLogger(__name__)

KEY = "image-to-audio:train:lock"

# Compare-and-act on the lock's value, atomically (Redis runs a script as one command)
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


def take(client: redis.Redis, job_id: str, seconds: float) -> bool:
    """Take the lock for ``job_id`` for ``seconds``; False if another job holds it."""
    return bool(client.set(KEY, job_id, nx=True, px=int(seconds * 1000)))


def renew(client: redis.Redis, job_id: str, seconds: float) -> bool:
    """Make the lock last ``seconds`` from now, if ``job_id`` still holds it; whether it does."""
    return bool(client.eval(_RENEW, 1, KEY, job_id, int(seconds * 1000)))


def release(client: redis.Redis, job_id: str) -> None:
    """Let the lock go, if ``job_id`` still holds it."""
    client.eval(_RELEASE, 1, KEY, job_id)


def holder(client: redis.Redis) -> str | None:
    """The id of the job holding the lock, or None."""
    value = client.get(KEY)
    return value.decode() if value is not None else None


class Renewer:
    """Renews ``job_id``'s hold on the lock every third of ``seconds`` in a thread of its own, until closed;
    ``lost`` turns true when the lock no longer names the job (it ran out, or Redis lost it)."""

    def __init__(self, client: redis.Redis, job_id: str, seconds: float) -> None:
        self.client, self.job_id, self.seconds = client, job_id, seconds
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{job_id[:8]}", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.seconds / 3):
            try:
                self.lost = self.lost or not renew(self.client, self.job_id, self.seconds)
            except redis.RedisError as error:  # unreachable for now: try again; the lock may run out meanwhile
                log.warning("training job %s: cannot renew the job lock: %s", self.job_id, error)
