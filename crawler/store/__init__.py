"""The data directory: the feed, the state beside it, the lock, recovery and the readers.

Neither Scrapy nor the extraction layer is imported here, so reading the feed stays cheap.
"""
