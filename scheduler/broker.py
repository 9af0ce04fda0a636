"""The broker: one Redis that carries the site jobs (RQ), the crawl state, the feed's stream and
the per-site leases. Shared by ``python -m scheduler --broker`` and ``neu-news worker``.

A lease (``neu:lease:<site>``, SET NX PX with the holding job's id as token) keeps two
workers off one site, so per-site politeness holds across workers; it lapses ``LEASE_TTL``
after its holder stops renewing it, which is how the enqueuer learns a worker died.
"""

from __future__ import annotations

import logging

import redis
from rq import Queue
from rq.serializers import JSONSerializer

from crawler.commandline import ConfigError
from crawler.store.shared import StateServerError, check_reachable
from crawler.store.shared import connect as connect_store

logger = logging.getLogger(__name__)

QUEUE_NAME = "neu-sites"
LEASE_PREFIX = "neu:lease:"
# A dead worker's site is taken over once its lease lapses: well within a minute.
LEASE_TTL = 30.0
RENEW_EVERY = 10.0
# An idle worker's blocking wait for a job: below the client's socket timeout
# (crawler.store.shared.SOCKET_TIMEOUT), which would take a quiet queue for a dead server.
# RQ waits its worker TTL less 15 s.
WORKER_TTL = 40
# RQ's own default (180 s) would kill a backfill: a job may run as long as its crawl may, and
# its result is kept long enough for an enqueuer that was away for a while to read it.
JOB_MARGIN = 120.0
RESULT_TTL = 7 * 86400

# Renew if still ours; take it again if it lapsed and nobody took it (e.g. Redis was down for
# longer than the TTL); 0 when another job holds it.
_RENEW = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return 1
elseif not holder then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


def connect(url: str) -> redis.Redis:
    """A client of the broker at *url* that rides out a restart of it (crawler.store.shared),
    checked to answer now; ConfigError, naming the URL without its password, if it does not:
    nothing can be done without it."""
    try:
        check_reachable(url)
    except StateServerError as exc:
        raise ConfigError(f"broker: {exc}") from None
    return connect_store(url)


def site_queue(client: redis.Redis) -> Queue:
    """The queue of site jobs, JSON-serialized: a job is plain data, never pickled code."""
    return Queue(QUEUE_NAME, connection=client, serializer=JSONSerializer)


def job_timeout(crawl_timeout: float, grace: float) -> int:
    """RQ's timeout of a site job: past the crawl's own timeout and grace, which end it first."""
    return int(crawl_timeout + grace + JOB_MARGIN)


class Lease:
    """One site's lease, held by one job (its *token*)."""

    def __init__(self, client: redis.Redis, site: str, token: str) -> None:
        self.client = client
        self.key = lease_key(site)
        self.token = token
        self._ttl_ms = int(LEASE_TTL * 1000)

    def acquire(self) -> bool:
        return bool(self.client.set(self.key, self.token, nx=True, px=self._ttl_ms))

    def renew(self) -> bool:
        """False when another job holds it now."""
        return bool(self.client.eval(_RENEW, 1, self.key, self.token, self._ttl_ms))

    def release(self) -> None:
        self.client.eval(_RELEASE, 1, self.key, self.token)


def lease_key(site: str) -> str:
    return f"{LEASE_PREFIX}{site}"


def lease_holder(client: redis.Redis, site: str) -> str | None:
    """The id of the job holding *site*'s lease, or None when it is free."""
    holder = client.get(lease_key(site))
    return holder.decode() if isinstance(holder, bytes) else None
