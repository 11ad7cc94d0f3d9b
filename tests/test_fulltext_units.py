"""Full text, small parts: config keys, the default rule, host gate, schema, status, metrics."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import ConfigError, parse_config
from bot.fetch.polite import HostGate
from bot.i18n import translator
from bot.service.metrics import Metrics
from bot.store import articles
from bot.store import feeds as feed_rows
from bot.store.db import MIGRATIONS, connect, transaction
from bot.store.outbox import Backlog
from bot.telegram.status import status_text
from tests.conftest import make_config


def _config(settings: str = "", feed_key: str = "") -> str:
    text = make_config({"a": "http://127.0.0.1:9/a.xml", "b": "http://127.0.0.1:9/b.xml"})
    text = text.replace("allow_private_networks: true", "allow_private_networks: true" + settings)
    return text.replace("url: http://127.0.0.1:9/a.xml", "url: http://127.0.0.1:9/a.xml" + feed_key)


def test_full_text_defaults_off_for_feeds_and_per_feed_key_wins() -> None:
    """Unset: feeds are not read in full; `full_text: true` on a feed or in settings turns it on."""
    plain = parse_config(_config())
    assert not plain.full_text_for(plain.feed("a"))
    assert plain.settings.full_text_per_poll == 5 and plain.settings.full_text_host_gap == 2.0
    one = parse_config(_config(feed_key="\n    full_text: true"))
    assert one.full_text_for(one.feed("a")) and not one.full_text_for(one.feed("b"))
    every = parse_config(_config("\n  full_text: true", "\n    full_text: false"))
    assert not every.full_text_for(every.feed("a")) and every.full_text_for(every.feed("b"))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ("\n  full_text: maybe", "settings.full_text: must be true or false"),
        ("\n  full_text_per_poll: 0", "settings.full_text_per_poll: must be between 1 and 100"),
        ("\n  full_text_max_pdf: lots", "settings.full_text_max_pdf:"),
        ("\n  full_text_give_up: 5m", "settings.full_text_give_up: must be between"),
        ("\n  full_text_gap: 2", "unknown key `full_text_gap`; did you mean `full_text_host_gap`?"),
    ],
)
def test_bad_full_text_settings_are_located(settings: str, message: str) -> None:
    """Each bad full-text setting is reported at its line with its key path."""
    with pytest.raises(ConfigError) as info:
        parse_config(_config(settings))
    assert message in str(info.value)
    assert "feeds.yaml:" in str(info.value)


def test_bad_per_feed_key_is_located() -> None:
    """`full_text: yes-please` on a feed names feeds[0].full_text."""
    with pytest.raises(ConfigError) as info:
        parse_config(_config(feed_key="\n    full_text: yes-please"))
    assert "feeds[0].full_text: must be true or false" in str(info.value)


async def test_host_gate_spaces_requests_and_honours_deferral() -> None:
    """The gap is waited out per host; a deferral pushes the next turn; other hosts are free."""
    now = [100.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    gate = HostGate(2.0, clock=lambda: now[0], sleep=sleep)
    async with gate.turn("a.gov"):
        now[0] += 0.5
    async with gate.turn("a.gov"):
        pass
    assert slept == [2.0]
    async with gate.turn("b.gov"):
        pass
    assert slept == [2.0]
    gate.defer("a.gov", 120)
    assert gate.deferred_for("a.gov") == 120
    assert gate.deferred_for("b.gov") == 2.0


def test_a_version_1_database_migrates_and_keeps_its_items(tmp_path: Path) -> None:
    """A database from before full text gains the queue and text columns, items intact."""
    path = tmp_path / "vigil.db"
    old = sqlite3.connect(path)
    old.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    old.execute(
        "INSERT INTO items (feed_id, item_key, title, first_seen_at) VALUES ('a', 'k', 't', 1)"
    )
    old.commit()
    old.close()
    conn = connect(tmp_path)
    row = conn.execute("SELECT item_key, full_text, pdf_text FROM items").fetchone()
    assert tuple(row) == ("k", "", "")
    assert articles.awaiting(conn) == {}


def test_status_text_and_metrics_show_full_text(tmp_path: Path) -> None:
    """/status says how many wait and the last article error; metrics count by outcome."""
    config = parse_config(_config())
    conn = connect(tmp_path)
    with transaction(conn):
        feed_rows.sync_feeds(conn, {"a": "http://127.0.0.1:9/a.xml"})
        conn.execute("UPDATE feeds SET last_success_at = 900, next_poll_at = 1100")
    rows = feed_rows.all_feeds(conn)
    text = status_text(
        config,
        rows,
        Backlog(0, None, 0, 0, 0),
        (1, 0),
        1000.0,
        ZoneInfo("UTC"),
        translator("en"),
        {"a": 3},
        {"a": ("HTTP 503 Service Unavailable", 990.0)},
    )
    assert "3 waiting for their text" in text and "HTTP 503" in text
    metrics = Metrics()
    metrics.observe_article("transient")
    metrics.observe_article("text")
    metrics.observe_article("text")
    rendered = metrics.render().decode()
    assert 'vigil_article_fetches_total{outcome="text"} 2.0' in rendered
