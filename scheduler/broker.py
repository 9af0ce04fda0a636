"""The broker: one Redis that carries the site jobs (RQ), the crawl state, the feed's stream and
the per-site leases. Shared by ``python -m scheduler --broker`` and ``neu-news worker``.

A site's lease is one key per host name of the site (``neu:lease:<host>``, the holding job's
id as its value, with a TTL), all taken at once or none: two workers never crawl one host,
however two jobs (or two schedulers) grouped their sources, so per-host politeness holds across
workers. It lapses ``LEASE_TTL`` after its holder stops renewing it, which is how the enqueuer
learns a worker died.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

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

# Every key is the job's, or none is: 0 when another job holds one. A key that is already
# the job's is kept (renewed, or a retry whose first reply was lost), one that lapsed taken again.
_HOLD = """
for _, key in ipairs(KEYS) do
    local holder = redis.call('GET', key)
    if holder and holder ~= ARGV[1] then
        return 0
    end
end
for _, key in ipairs(KEYS) do
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
end
return 1
"""
_RELEASE = """
for _, key in ipairs(KEYS) do
    if redis.call('GET', key) == ARGV[1] then
        redis.call('DEL', key)
    end
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
    """A site's lease: one key per host name of the site, held by one job (its *token*)."""

    def __init__(self, client: redis.Redis, hosts: Iterable[str], token: str) -> None:
        self.client = client
        self.keys = lease_keys(hosts)
        self.token = token
        self._ttl_ms = int(LEASE_TTL * 1000)

    @property
    def label(self) -> str:
        """Its keys, for the log."""
        return ", ".join(self.keys)

    def hold(self) -> bool:
        """Take the lease, or renew it: False, and nothing taken, when another job holds any
        of its hosts. One script, so two jobs never hold parts of each other's sites, and a
        retry of it (its reply lost to a broken connection) holds what the first took."""
        return bool(self.client.eval(_HOLD, len(self.keys), *self.keys, self.token, self._ttl_ms))

    def release(self) -> None:
        self.client.eval(_RELEASE, len(self.keys), *self.keys, self.token)


def lease_keys(hosts: Iterable[str]) -> list[str]:
    return [f"{LEASE_PREFIX}{host}" for host in sorted(set(hosts))]


def lease_holders(client: redis.Redis, hosts: Iterable[str]) -> list[str | None]:
    """For each of *hosts* (sorted), the id of the job holding its lease, or None if free."""
    return [
        holder.decode() if isinstance(holder, bytes) else None
        for holder in client.mget(lease_keys(hosts))
    ]
