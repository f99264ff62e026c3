"""Beat's scheduler when Redis is there: RedBeat's, which lets any number of beats run and
one schedule (the one holding its lock in Redis), made to ride out a Redis outage. RedBeat
alone exits at the first Redis call that fails, and a beat nobody restarts schedules
nothing again."""

from __future__ import annotations

import logging
from typing import Any

from redbeat import RedBeatScheduler
from redbeat.schedulers import LUA_EXTEND_TO_SCRIPT, get_redis
from redis.exceptions import ConnectionError, LockError, TimeoutError
from redis.lock import Lock

log = logging.getLogger(__name__)


class OneBeatScheduler(RedBeatScheduler):
    lock: Lock | None = None
    lock_lost = False

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """1. Renew the lock and send what is due, as RedBeat does.
        2. Redis out of reach (down, or hung past the client's time-out): say so and try
           again after a loop. Nothing could be sent meanwhile: the broker is that Redis,
           and the jobs make up what they missed (contacts.lapse.schedule).
        3. The lock gone when Redis answers again (it timed out, or Redis restarted empty):
           another beat may hold it now, so send nothing until this one has it again; then
           put the schedule back, in case Redis lost it too.
        4. No lock at all: this beat was waiting for it at start-up, a standby, when Redis
           went out of reach. Celery swallows that error and RedBeat would then tick
           without a lock and die on it; wait for the lock here instead, as after 3."""
        try:
            if self.lock is None:
                self.lock = self.new_lock()
                self.lock_lost = True
            if self.lock_lost:
                if not self.lock.acquire(blocking=False):
                    return float(self.max_interval)
                self.setup_schedule()
                self.lock_lost = False
                # Said once the schedule is written again, so that it means "scheduling".
                log.info("beat: Acquired lock again")
            return float(super().tick(*args, **kwargs))
        except LockError:
            self.lock_lost = True
            log.warning("beat: Lost the lock; waiting for it again")
        except (ConnectionError, TimeoutError) as error:
            log.warning("beat: Redis unreachable (%s); trying again", type(error).__name__)
        return float(self.max_interval)

    def new_lock(self) -> Lock:
        """The lock as RedBeat makes it when beat starts: renewing it sets its time-out
        afresh rather than adding to what is left."""
        client = get_redis(self.app)
        lock = client.lock(self.lock_key, timeout=self.lock_timeout, sleep=self.max_interval)
        lock.lua_extend = client.register_script(LUA_EXTEND_TO_SCRIPT)
        return lock
