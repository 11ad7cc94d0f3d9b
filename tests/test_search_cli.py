"""`vigil search` as a subprocess over what `vigil once` read from the local feed server, with
the state in SQLite and in PostgreSQL (the `database` fixture)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.conftest import make_config
from tests.servers.feeds import FeedServer, FeedServerThread, rss
from tests.test_e2e import Service, poll_now, run_vigil, write

STATEMENTS = [
    {
        "title": "Déclaration sur la Convention contre la torture",
        "link": "http://x.test/fr",
        "guid": "fr",
        "description": "La France a évoqué le dossier A/HRC/52/1 à Genève.",
        "pubDate": "Mon, 02 Mar 2026 10:00:00 GMT",
    },
    {
        "title": "بيان بشأن قانون قيصر",
        "link": "http://x.test/ar",
        "guid": "ar",
        "description": "وقال المتحدث إن الأسَد رفض القرار.",
        "pubDate": "Tue, 03 Mar 2026 10:00:00 GMT",
    },
    {
        "title": "Weather",
        "link": "http://x.test/w",
        "guid": "w",
        "description": "Sunny.",
        "pubDate": "Sun, 01 Feb 2026 10:00:00 GMT",
    },
]


@pytest.fixture
def env(vigil_env: dict[str, str], database: str) -> dict[str, str]:
    """`vigil`'s environment, with VIGIL_DATABASE_URL when the state is in PostgreSQL."""
    if database == "postgresql":
        return {**vigil_env, "VIGIL_DATABASE_URL": os.environ["VIGIL_DATABASE_URL"]}
    return vigil_env


@pytest.fixture
def archived(tmp_path: Path, env: dict[str, str]) -> Path:
    """A state whose archive holds STATEMENTS (baselined: nothing was alerted)."""
    with FeedServerThread() as feeds:
        server: FeedServer = feeds
        server.set("/a.xml", rss(STATEMENTS))
        config = write(tmp_path / "feeds.yaml", make_config({"a": server.url("/a.xml")}))
        done = run_vigil(env, config, "once")
        assert done.returncode == 0, done.stderr
    return config


def test_search_prints_best_first_with_bold_original_words(
    archived: Path, env: dict[str, str]
) -> None:
    """Baselined items are searchable too; excerpts keep the accents; exit 0."""
    done = run_vigil(env, archived, "search", "evoque", "a/hrc/52")
    assert done.returncode == 0, done.stderr
    assert "1. Déclaration sur la Convention contre la torture" in done.stdout
    assert "a **évoqué** le dossier **A/HRC/52**/1" in done.stdout


def test_search_json_fields(archived: Path, env: dict[str, str]) -> None:
    """--json prints one object per result with the documented fields."""
    done = run_vigil(env, archived, "search", "الاسد", "--json", "--since", "2026-03-01")
    assert done.returncode == 0, done.stderr
    [line] = done.stdout.splitlines()
    record = json.loads(line)
    assert set(record) >= {"feed", "item_id", "title", "link", "published", "topics", "excerpt"}
    assert record["feed"] == "a"
    assert record["link"] == "http://x.test/ar"
    assert record["published"].startswith("2026-03-03")
    assert "**الأسَد**" in record["excerpt"]


EXIT_CASES = [
    (["weather", "--until", "2026-01-31"], 1, "no statement in the archive matches: weather"),
    (["-weather -torture -قيصر"], 1, "no statement"),
    (['"unbalanced'], 1, "unbalanced"),
    (["since:someday"], 2, "cannot read the query: since: wants a date"),
    (["x", "--feed", "nope"], 2, "unknown feed 'nope'"),
    (["x", "--limit", "0"], 2, "the limit must be between 1 and 1000"),
]


def test_search_exit_codes(archived: Path, env: dict[str, str]) -> None:
    """1 when nothing matches (saying what was looked for), 2 with the reason when unreadable.

    The cases share one archive: each is a `vigil search` of its own, the archive one `vigil
    once` (a state per case cost a `vigil once` each, 10 s of the fast suite's CPU)."""
    for args, code, says in EXIT_CASES:
        done = run_vigil(env, archived, "search", *args)
        assert (done.returncode, says in done.stderr) == (code, True), (args, done.stderr)


def test_search_across_kill_9_and_restart(tmp_path: Path, vigil_env: dict[str, str]) -> None:
    """`vigil run` archives what it reads in the items' transaction: after kill -9 and a
    restart, everything it had polled is searchable, and `vigil search` runs beside it."""
    with FeedServerThread() as feeds:
        feeds.set("/a.xml", rss(STATEMENTS[:1]))
        text = make_config({"a": feeds.url("/a.xml")}).replace(
            "interval: 1m", "interval: 1m\n  jitter: 0"
        )
        config = write(tmp_path / "feeds.yaml", text)
        state = vigil_env["VIGIL_STATE_DIR"]
        first = Service(vigil_env, config, tmp_path)
        try:
            first.wait_for(lambda: "feed polled" in first.stderr())
        finally:
            first.proc.send_signal(signal.SIGKILL)
            first.proc.wait(timeout=10)
        feeds.set("/a.xml", rss(STATEMENTS))
        poll_now(state)
        second = Service(vigil_env, config, tmp_path)
        try:
            second.wait_for(lambda: second.stderr().count("feed polled") >= 1)
            second.wait_for(lambda: run_vigil(vigil_env, config, "search", "sunny").returncode == 0)
            found = run_vigil(vigil_env, config, "search", "évoqué OR قيصر OR sunny", "--json")
        finally:
            assert second.stop() == 0
    assert found.returncode == 0, found.stderr
    assert sorted(json.loads(line)["link"] for line in found.stdout.splitlines()) == [
        "http://x.test/ar",
        "http://x.test/fr",
        "http://x.test/w",
    ]
