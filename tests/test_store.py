"""The data directory's store on its own: ids, aliases and versions without a crawl."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crawler.extract.urls import article_id
from crawler.store.datadir import Outcome, Store


def record(url: str, text: str, title: str = "标题") -> dict[str, Any]:
    return {
        "id": article_id(url), "url": url, "source": "news-ddyw", "site": "x.neu.edu.cn",
        "column": "东大要闻", "columns": ["东大要闻"], "title": title, "published": None,
        "authors": [], "editors": [], "origin": None, "language": "zh", "text": text,
        "images": [], "attachments": [], "crawled_at": "2026-11-28T00:00:00+00:00",
    }  # fmt: skip


BODY = "东北大学召开2026年工作会议，会议总结了一年来的工作并部署了下一阶段的重点任务。" * 2


def test_an_article_reached_through_a_redirect_is_known_by_its_listed_url(tmp_path: Path) -> None:
    listed = "https://x.neu.edu.cn/info/1002/1.htm"
    moved = record("https://x.neu.edu.cn/info/1002/2.htm", BODY)
    store = Store(tmp_path)
    outcome, _line = store.add(
        moved, validators=('"etag-1"', None), listed_as=(article_id(listed), listed)
    )
    assert outcome is Outcome.NEW
    assert store.is_known(article_id(listed))
    known = store.state.get(moved["id"])
    assert known is not None and known.etag == '"etag-1"'
    store.close()


def test_an_edit_is_a_new_version_and_a_repeat_is_not(tmp_path: Path) -> None:
    store = Store(tmp_path)
    first = record("https://x.neu.edu.cn/info/1002/3.htm", BODY)
    assert store.add(first)[0] is Outcome.NEW
    assert store.add(first)[0] is Outcome.UNCHANGED
    outcome, line = store.add({**first, "title": "新标题"})
    assert outcome is Outcome.UPDATED and line is not None and line["version"] == 2
    store.close()
    reopened = Store(tmp_path)  # the versions survive a restart
    known = reopened.state.get(first["id"])
    assert known is not None and known.version == 2
    reopened.close()
