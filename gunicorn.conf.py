"""gunicorn's settings for Doorstep: `gunicorn organizing.wsgi` reads this file from the
working directory (the Dockerfile and docker-compose.yml start it so).

Threaded workers: a request mostly waits on PostgreSQL or Redis, so a few threads per
process keep the CPUs busy, and one slow dependency no longer stalls everything queued
behind a single worker. Processes give the CPU parallelism Python's threads do not.
WEB_CONCURRENCY (processes) and WEB_THREADS change the defaults; each process keeps its
own pool of database connections (DATABASE_POOL_MAX, which must be at least WEB_THREADS).
"""

import datetime as dt
import gc
import os
import re

from gunicorn.glogging import Logger

bind = ["0.0.0.0:8000"]
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * (os.cpu_count() or 1)))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))

# A worker that has not reported for this long is killed and replaced. Requests never
# approach it: the database pool and Redis give up after seconds (organizing/settings.py).
timeout = 30
# The workers' heartbeat files in memory where there is /dev/shm: on a container's overlay
# disk a slow write can make a healthy worker look silent.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# On a restart or deploy (SIGTERM, SIGHUP), requests under way get this long to finish.
graceful_timeout = 20
# Behind a load balancer that keeps connections open.
keepalive = 5
# A kept-alive connection stays with the worker that accepted it. Unbounded, one worker
# takes most of a burst of new connections and its clients wait while the others idle
# (measured with 32 phones: 1076, 832, 628 and 473 knocks served by the four workers, p99
# 800 ms). Bounded at twice its threads, a worker takes as many connections as it serves
# at once and as many idle ones; the next waits a moment in the listen queue for a worker
# with room (752 each; knocks +20 %, p99 down by a quarter: bench/served.py).
worker_connections = 2 * threads
# Each worker is replaced after about this many requests, at staggered times, so that
# whatever a process accumulates (memory, a stuck connection) does not last.
max_requests = 2000
max_requests_jitter = 200

accesslog = "-"
# No client address, user agent, referrer or query string: the method, the path (ids,
# never names), the status, the size and the time taken in milliseconds.
access_log_format = "%(m)s %(U)s %(s)s %(B)s %(M)sms"

# A password link's path carries the account and a one-use token until it is used.
PASSWORD_TOKEN = re.compile(r"^(/password/reset/)[^/]+/[^/]+/")


class AccessLogWithoutTokens(Logger):
    def atoms(
        self, resp: object, req: object, environ: dict[str, str], request_time: dt.timedelta
    ) -> dict[str, object]:
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["U"] = PASSWORD_TOKEN.sub(r"\1…/", str(atoms["U"] or ""))
        return atoms


logger_class = AccessLogWithoutTokens


def post_worker_init(worker: object) -> None:
    """The application is loaded: what it built (modules, URLs, models) lives as long as the
    process, so the collector stops walking it on each full collection, a pause for
    every thread of the worker."""
    gc.freeze()


# Nothing of ours drives gunicorn through its control socket, and its default path (in the
# home directory) is not writable in the image and would be shared by two servers on a host.
control_socket_disable = True
