"""Why a request failed, and whether that failure says anything about the next run."""

from __future__ import annotations

import scrapy
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

# Failures that say a page is not there (or never fits, or is not ours to fetch) rather than
# that the server struggles: they do not make the next run walk the whole column again.
PERMANENT_FAILURES = frozenset({"http_404", "http_410", "too_large", "offsite", "robots_txt"})
# Failures that say a page is gone from its URL: a column's list page may live on elsewhere.
GONE_FAILURES = frozenset({"http_404", "http_410"})


# What SourceHostsMiddleware's IgnoreRequest says first (the URL follows).
OFFSITE_MESSAGE = "offsite: "
# Middlewares that drop a request say why only in their IgnoreRequest's message:
# SourceHostsMiddleware, Scrapy's RobotsTxtMiddleware, and its HttpCompressionMiddleware past
# DOWNLOAD_MAXSIZE once decompressed (a gzip bomb).
IGNORED_REASONS = (
    (OFFSITE_MESSAGE, "offsite"),
    ("Forbidden by robots.txt", "robots_txt"),
    ("exceeded DOWNLOAD_MAXSIZE", "too_large"),
)


def failure_reason(error: BaseException | None) -> str:
    """A short reason for a failed request: ``http_503``, ``too_large``, ``offsite``,
    ``robots_txt``, ``TimeoutError``…"""
    if isinstance(error, HttpError):
        return f"http_{error.response.status}"
    if isinstance(error, DownloadCancelledError) and "max size" in str(error):
        return "too_large"
    if isinstance(error, IgnoreRequest):
        message = str(error)
        for words, reason in IGNORED_REASONS:
            if words in message:
                return reason
    return type(error).__name__


def is_permanent(reason: str) -> bool:
    """Whether a failure of this reason will happen again however often the page is asked for."""
    return reason in PERMANENT_FAILURES


def is_gone(reason: str) -> bool:
    """Whether a failure of this reason says the page is no longer at its URL."""
    return reason in GONE_FAILURES


def failed_request(failure: Failure) -> scrapy.Request:
    """The request an errback's failure is about (Scrapy attaches it to the failure)."""
    request: scrapy.Request = failure.request  # type: ignore[attr-defined]
    return request
