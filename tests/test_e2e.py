"""End to end: `vigil` as a subprocess against a local feed server and Bot API test server."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import parse_config
from bot.model import PageSpec
from bot.store.db import StateLock
from tests.conftest import TOKEN, make_config, vigil_cmd
from tests.servers.botapi import BotApiServerThread
from tests.servers.feeds import FeedServer, FeedServerThread, rss

MATCHING = {
    "title": "Canada and the Netherlands on the Convention Against Torture",
    "link": "http://x.test/cat-1",
    "guid": "cat-1",
    "description": "A statement on Syria and the <b>Caesar Act</b>.",
}
OLD = {"title": "An older statement", "link": "http://x.test/old", "guid": "old"}


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    """A feed server in a background thread, usable while subprocesses run."""
    with FeedServerThread() as server:
        yield server


@pytest.fixture
def telegram() -> Iterator[BotApiServerThread]:
    """A Bot API test server in a background thread."""
    with BotApiServerThread(TOKEN) as server:
        yield server


def run_vigil(
    env: dict[str, str], config: Path, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*vigil_cmd(*args), "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def poll_now(state_dir: str) -> None:
    """Brings every feed's next poll forward instead of waiting an interval."""
    conn = sqlite3.connect(Path(state_dir) / "vigil.db", timeout=5)
    conn.execute("UPDATE feeds SET next_poll_at = 0")
    conn.commit()
    conn.close()


def test_console_baseline_then_one_alert_then_nothing_again(
    tmp_path: Path, vigil_env: dict[str, str], feeds: FeedServer
) -> None:
    """No token: first poll baselines, a new match prints once, a restart prints nothing."""
    feeds.set("/a.xml", rss([OLD]))
    config = write(tmp_path / "feeds.yaml", make_config({"a": feeds.url("/a.xml")}))
    first = run_vigil(vigil_env, config, "once")
    assert first.returncode == 0, first.stderr
    assert "Convention" not in first.stdout
    feeds.set("/a.xml", rss([MATCHING, OLD]))
    second = run_vigil(vigil_env, config, "once")
    assert second.returncode == 0, second.stderr
    assert second.stdout.count("Canada and the Netherlands on the Convention") == 1
    assert "Topics: Convention Against Torture, Caesar Act" in second.stdout
    third = run_vigil(vigil_env, config, "once")
    assert third.returncode == 0
    assert "Convention" not in third.stdout


def test_telegram_one_message_per_channel_and_restart_sends_nothing(
    tmp_path: Path, vigil_env: dict[str, str], feeds: FeedServer, telegram: BotApiServerThread
) -> None:
    """With a token: each configured channel gets the statement once, even matched twice."""
    feeds.set("/a.xml", rss([OLD]))
    feeds.set("/b.xml", rss([]))
    channels = """
    channels:
      - chat: "-1001"
      - chat: "@watchers"
        topics: [cat]
      - chat: "42"
        topics: [caesar]
        feeds: [b]
    """
    config = write(
        tmp_path / "feeds.yaml",
        make_config({"a": feeds.url("/a.xml"), "b": feeds.url("/b.xml")}, channels),
    )
    env = {**vigil_env, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": telegram.root}
    assert run_vigil(env, config, "once").returncode == 0
    feeds.set("/a.xml", rss([MATCHING, OLD]))
    feeds.set("/b.xml", rss([MATCHING]))  # the same statement through a second feed
    done = run_vigil(env, config, "once")
    assert done.returncode == 0, done.stderr
    chats = sorted(m.chat_id for m in telegram.messages)
    assert chats == ["-1001", "42", "@watchers"]
    assert all(m.parse_mode == "HTML" for m in telegram.messages)
    assert "<b>Canada and the Netherlands" in telegram.messages[0].text
    again = run_vigil(env, config, "once")
    assert again.returncode == 0
    assert len(telegram.messages) == 3
    assert telegram.count_429 == 0


def _baselined_then_matching(tmp_path: Path, vigil_env: dict[str, str], feeds: FeedServer) -> Path:
    """A feed baselined by one `once`, then publishing a matching statement; returns config."""
    feeds.set("/a.xml", rss([OLD]))
    config = write(tmp_path / "feeds.yaml", make_config({"a": feeds.url("/a.xml")}))
    assert run_vigil(vigil_env, config, "once").returncode == 0
    feeds.set("/a.xml", rss([MATCHING, OLD]))
    return config


def test_dry_run_changes_nothing(
    tmp_path: Path, vigil_env: dict[str, str], feeds: FeedServer
) -> None:
    """--dry-run prints what would be sent; a real run afterwards still sends it."""
    config = _baselined_then_matching(tmp_path, vigil_env, feeds)
    db = Path(vigil_env["VIGIL_STATE_DIR"]) / "vigil.db"
    status_before = run_vigil(vigil_env, config, "status", "--json").stdout
    dry = run_vigil(vigil_env, config, "once", "--dry-run")
    assert dry.returncode == 0
    assert "would send to console" in dry.stdout
    assert "dry run" in dry.stderr
    assert run_vigil(vigil_env, config, "status", "--json").stdout == status_before
    assert db.exists()
    real = run_vigil(vigil_env, config, "once")
    assert real.stdout.count("Canada and the Netherlands") == 1


def test_dry_run_beside_a_running_service(
    tmp_path: Path, vigil_env: dict[str, str], feeds: FeedServer
) -> None:
    """--dry-run needs no state lock, so it works while `vigil run` holds the directory."""
    config = _baselined_then_matching(tmp_path, vigil_env, feeds)
    with StateLock(Path(vigil_env["VIGIL_STATE_DIR"])):
        assert run_vigil(vigil_env, config, "once").returncode == 2  # the real thing waits
        dry = run_vigil(vigil_env, config, "once", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would send to console" in dry.stdout


def test_once_json_lines(tmp_path: Path, vigil_env: dict[str, str], feeds: FeedServer) -> None:
    """--json gives one object per alert with the SPEC's keys, and nothing else on stdout."""
    feeds.set("/a.xml", rss([OLD]))
    config = write(tmp_path / "feeds.yaml", make_config({"a": feeds.url("/a.xml")}))
    run_vigil(vigil_env, config, "once")
    feeds.set("/a.xml", rss([MATCHING, OLD]))
    done = run_vigil(vigil_env, config, "once", "--json")
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == 1
    assert set(lines[0]) == {
        "feed",
        "item_id",
        "title",
        "link",
        "published",
        "topics",
        "chats",
        "matched_in",
    }
    assert lines[0]["matched_in"] == ["title", "summary"]
    assert lines[0]["topics"] == ["cat", "caesar"]
    assert lines[0]["chats"] == ["console"]


def test_broken_feed_does_not_stop_the_others(
    tmp_path: Path, vigil_env: dict[str, str], feeds: FeedServer
) -> None:
    """An HTML page, a 500 and a refused port fail clearly; the good feed still alerts."""
    feeds.set("/good.xml", rss([OLD]))
    feeds.html("/html")
    feeds.status("/err", 500)
    urls = {
        "good": feeds.url("/good.xml"),
        "html": feeds.url("/html"),
        "err": feeds.url("/err"),
        "down": "http://127.0.0.1:9/feed.xml",
    }
    config = write(tmp_path / "feeds.yaml", make_config(urls))
    first = run_vigil(vigil_env, config, "once")
    assert first.returncode == 1
    feeds.set("/good.xml", rss([MATCHING, OLD]))
    second = run_vigil(vigil_env, config, "once")
    assert second.returncode == 1
    assert second.stdout.count("Canada and the Netherlands") == 1
    assert "feed html failed: not_a_feed" in second.stderr
    assert "feed err failed: http_status" in second.stderr
    assert "feed down failed: network" in second.stderr
    status = [
        json.loads(x) for x in run_vigil(vigil_env, config, "status", "--json").stdout.splitlines()
    ]
    by_feed = {s["feed"]: s for s in status if "feed" in s}
    assert by_feed["html"]["consecutive_errors"] == 2
    assert by_feed["good"]["consecutive_errors"] == 0


def test_check_reports_every_problem_with_its_line(
    tmp_path: Path, vigil_env: dict[str, str]
) -> None:
    """An invalid feeds.yaml exits 2 with `feeds.yaml:LINE: key.path: message` lines."""
    config = write(
        tmp_path / "feeds.yaml",
        "topics:\n  cat:\n    keyword: [x]\nfeeds:\n  - id: a\n    url: ftp://x/y\n",
    )
    done = subprocess.run(
        vigil_cmd("check", str(config)), env=vigil_env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert "feeds.yaml:3: topics.cat.keyword" in done.stdout
    assert "did you mean" in done.stdout
    assert "feeds.yaml:6: feeds[0].url" in done.stdout


def test_bundled_feeds_yaml_is_valid(vigil_env: dict[str, str]) -> None:
    """The feeds.yaml users start from passes `vigil check`."""
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        vigil_cmd("check", str(root / "feeds.yaml")),
        env=vigil_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout
    assert "topics:   6" in done.stdout


def bundled_config_on(feeds: FeedServer, tmp_path: Path, first_run: str) -> tuple[Path, int]:
    """The bundled feeds.yaml with every feed URL served by the local server; returns its count."""
    root = Path(__file__).resolve().parent.parent
    text = (root / "feeds.yaml").read_text(encoding="utf-8")
    count = 0

    def local(match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return f"{match.group(1)}{feeds.url(f'/bundled-{count}.xml')}"

    text = re.sub(r"^(\s+url: )https://\S+", local, text, flags=re.MULTILINE)
    text = text.replace("allow_private_networks: false", "allow_private_networks: true")
    # Every copy is on one local host: the politeness gap between two article requests to a
    # host (2 s, tested in test_fulltext.py) would only make this test wait.
    text = text.replace("\nsettings:\n", "\nsettings:\n  full_text_host_gap: 0\n", 1)
    text = text.replace("first_run: baseline", f"first_run: {first_run}")
    return write(tmp_path / "feeds.yaml", text), count


HTML = "text/html; charset=utf-8"
LISTING_PATHS = {  # a path each bundled link_pattern accepts
    r"^/en/press-releases/\d{4}/\d{2}/": "/en/press-releases/2026/03/s",
    r"^/news/[^/]+$": "/news/s",
    r"^/media-centre/news/\d{4}/\d{2}/": "/media-centre/news/2026/03/s",
}


def bundled_listing(n: int, page: PageSpec) -> bytes:
    """A local copy of a bundled page source: 20 card rows its own `page:` block reads."""
    path = LISTING_PATHS.get(page.link_pattern or "", "/statements/s")
    rows = "".join(
        f'<div class="card"><h3 class="card-title"><a href="{path}-{n}-{i}">{title} ({n}.{i})'
        f'</a></h3><p>{body}</p><div class="card-footer">26.03.2026</div></div>'
        for i, (title, body) in enumerate(STATEMENTS * 4)
    )
    page_html = f"<html><head><title>Press</title></head><body><main>{rows}</main></body></html>"
    return page_html.encode()


STATEMENTS = [
    ("Canada and the Netherlands before the International Court of Justice", "on Syria"),
    ("La Syrie et la Convention contre la torture", "Le Comité contre la torture"),
    ("Kamerbrief over sancties tegen Syrië", "Het Internationaal Gerechtshof en Syrië"),
    ("بيان حول اتفاقية مناهضة التعذيب", "في سوريا"),
    ("Caesar salad at the reception", "nothing to see"),
]


def test_bundled_config_cold_once_over_local_copies(
    tmp_path: Path, vigil_env: dict[str, str], feeds: FeedServer
) -> None:
    """The bundled feeds.yaml, every source served locally: all polled, its topics alert."""
    config, count = bundled_config_on(feeds, tmp_path, "all")
    assert count >= 12
    sources = parse_config(config.read_text(encoding="utf-8")).feeds
    for n, source in enumerate(sources, 1):
        if source.page is not None:  # a listing page: served as the HTML its selectors expect
            feeds.set(f"/bundled-{n}.xml", bundled_listing(n, source.page), content_type=HTML)
            continue
        items = [
            {
                "title": f"{title} ({n}.{i})",
                "link": f"http://x.test/{n}/{i}",
                "guid": f"{n}-{i}",
                "description": body,
            }
            for i, (title, body) in enumerate(STATEMENTS * 4)
        ]
        feeds.set(f"/bundled-{n}.xml", rss(items))
    done = run_vigil(vigil_env, config, "once", "--json")
    assert done.returncode == 0, done.stderr
    alerts = [json.loads(line) for line in done.stdout.splitlines()]
    assert f"{count} feed(s) polled, 0 failed, {count * 20} new item(s)" in done.stderr
    assert {topic for alert in alerts for topic in alert["topics"]} >= {"cat", "icj-syria"}
    assert not any("salad" in alert["title"] for alert in alerts)
    again = run_vigil(vigil_env, config, "once", "--json")
    assert again.returncode == 0
    assert again.stdout == ""  # unchanged feeds (304): nothing new


@pytest.mark.parametrize(
    ("text", "code", "expected"),
    [
        ("Statement on Syria and the Convention against Torture", 0, "cat"),
        ("Sanctions under the Caesar Act's second round", 0, "caesar"),
        ("A Caesar salad for the delegates", 1, "no topic matched"),
        ("Convention against Torture, in general", 1, "no topic matched"),
    ],
    ids=["cat-with-context", "caesar-possessive", "salad", "cat-without-context"],
)
def test_match_explains(
    tmp_path: Path, vigil_env: dict[str, str], text: str, code: int, expected: str
) -> None:
    """`vigil match` exits 0 on a match and shows the keyword, 1 when nothing matched."""
    config = write(tmp_path / "feeds.yaml", make_config({"a": "http://127.0.0.1:9/a.xml"}))
    done = run_vigil(vigil_env, config, "match", text)
    assert done.returncode == code, done.stdout + done.stderr
    assert expected in done.stdout


class Service:
    """`vigil run` as a subprocess, its output collected in files."""

    def __init__(self, env: dict[str, str], config: Path, log_dir: Path) -> None:
        self.out = (log_dir / "run.out").open("w+")
        self.err = (log_dir / "run.err").open("w+")
        self.proc = subprocess.Popen(
            [*vigil_cmd("run"), "--config", str(config)],
            env=env,
            stdout=self.out,
            stderr=self.err,
            text=True,
        )

    def stderr(self) -> str:
        self.err.flush()
        return Path(self.err.name).read_text()

    def stdout(self) -> str:
        self.out.flush()
        return Path(self.out.name).read_text()

    def wait_for(self, predicate: object, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if callable(predicate) and predicate():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"vigil run exited early:\n{self.stderr()}")
            time.sleep(0.1)
        raise AssertionError(f"condition not met in {timeout}s; stderr:\n{self.stderr()}")

    def stop(self, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.out.close()
            self.err.close()


def test_run_reloads_and_keeps_running_config_on_invalid_edit(
    tmp_path: Path, vigil_env: dict[str, str], feeds: FeedServer
) -> None:
    """An invalid edit is refused with its line; the old config stays; SIGTERM exits 0."""
    feeds.set("/a.xml", rss([OLD]))
    config = write(tmp_path / "feeds.yaml", make_config({"a": feeds.url("/a.xml")}))
    service = Service(vigil_env, config, tmp_path)
    try:
        service.wait_for(lambda: "feed polled" in service.stderr())
        time.sleep(0.1)
        config.write_text(config.read_text() + "\nbogus_key: 1\n")
        os.utime(config, (time.time() + 5, time.time() + 5))
        service.wait_for(lambda: "reload refused" in service.stderr(), timeout=20)
        assert "bogus_key" in service.stderr()
        service.proc.send_signal(signal.SIGHUP)
        service.wait_for(lambda: service.stderr().count("reload refused") >= 2, timeout=20)
        assert service.proc.poll() is None
    finally:
        started = time.monotonic()
        code = service.stop()
    assert code == 0
    assert time.monotonic() - started < 10


def test_second_run_on_same_state_is_refused(
    tmp_path: Path, vigil_env: dict[str, str], feeds: FeedServer
) -> None:
    """One process per state directory: the second `vigil run` exits 2 with a clear message."""
    feeds.set("/a.xml", rss([OLD]))
    config = write(tmp_path / "feeds.yaml", make_config({"a": feeds.url("/a.xml")}))
    service = Service(vigil_env, config, tmp_path)
    try:
        service.wait_for(lambda: "vigil running" in service.stderr())
        second = run_vigil(vigil_env, config, "run", timeout=30)
        assert second.returncode == 2
        assert "already using the state directory" in second.stderr
    finally:
        assert service.stop() == 0


def test_run_polls_again_and_alerts_new_items(
    tmp_path: Path, vigil_env: dict[str, str], feeds: FeedServer
) -> None:
    """The service baselines, then a new matching item is printed once on a later poll."""
    feeds.set("/a.xml", rss([OLD]))
    config = write(
        tmp_path / "feeds.yaml",
        make_config({"a": feeds.url("/a.xml")}).replace(
            "interval: 1m", "interval: 1m\n  jitter: 0"
        ),
    )
    service = Service(vigil_env, config, tmp_path)
    try:
        service.wait_for(lambda: "feed polled" in service.stderr())
        feeds.set("/a.xml", rss([MATCHING, OLD]))
        poll_now(vigil_env["VIGIL_STATE_DIR"])
        service.wait_for(lambda: "Canada and the Netherlands" in service.stdout(), timeout=30)
    finally:
        assert service.stop() == 0
    assert service_output_count(tmp_path) == 1


def service_output_count(log_dir: Path) -> int:
    return (log_dir / "run.out").read_text().count("Canada and the Netherlands")


def test_run_applies_a_valid_edit(
    tmp_path: Path, vigil_env: dict[str, str], feeds: FeedServer
) -> None:
    """Saving a valid feeds.yaml with a new topic reloads it; the new topic then alerts."""
    feeds.set("/a.xml", rss([OLD]))
    config = write(tmp_path / "feeds.yaml", make_config({"a": feeds.url("/a.xml")}))
    service = Service(vigil_env, config, tmp_path)
    try:
        service.wait_for(lambda: "feed polled" in service.stderr())
        text = config.read_text().replace(
            "topics:\n", "topics:\n  weather:\n    keywords: [weather report]\n", 1
        )
        config.write_text(text)
        os.utime(config, (time.time() + 5, time.time() + 5))
        service.wait_for(lambda: "configuration reloaded: 1 feeds, 3 topics" in service.stderr())
        feeds.set("/a.xml", rss([{"title": "The weather report", "guid": "w"}, OLD]))
        poll_now(vigil_env["VIGIL_STATE_DIR"])
        service.wait_for(lambda: "The weather report" in service.stdout())
    finally:
        assert service.stop() == 0
