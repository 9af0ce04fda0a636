"""Pure extraction: HTML in, record out. No Scrapy, no Twisted, no I/O, no data directory."""
