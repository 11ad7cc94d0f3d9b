"""Full text end to end: `vigil once --json`, `vigil status --json`, `vigil match` as processes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_config
from tests.servers.feeds import FeedServer, FeedServerThread, rss
from tests.servers.pdfgen import make_pdf
from tests.test_e2e import run_vigil, write
from tests.test_fulltext import page

HTML = "text/html; charset=utf-8"


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    """A feed server in a background thread, usable while subprocesses run."""
    with FeedServerThread() as server:
        yield server


def _config(tmp_path: Path, feeds: FeedServer) -> Path:
    text = make_config({"a": feeds.url("/a.xml")}).replace(
        "allow_private_networks: true", "allow_private_networks: true\n  full_text: true"
    )
    return write(tmp_path / "feeds.yaml", text.replace("timeout: 5s", "timeout: 3s"))


def _entry(feeds: FeedServer, n: int) -> dict[str, str]:
    return {"title": f"Next step {n}", "link": feeds.url(f"/news/{n}"), "guid": f"g{n}"}


def test_once_json_matched_in_full_text_and_status_awaiting(
    tmp_path: Path, vigil_env: dict[str, str], feeds: FeedServer
) -> None:
    """A body-only match alerts with matched_in full_text; a slow page waits in status."""
    config = _config(tmp_path, feeds)
    feeds.set("/a.xml", rss([_entry(feeds, 0)]))
    assert run_vigil(vigil_env, config, "once").returncode == 0
    feeds.set("/news/1", page("The Convention Against Torture binds Syria."), content_type=HTML)
    feeds.hang("/news/2")
    feeds.set("/a.xml", rss([_entry(feeds, 2), _entry(feeds, 1), _entry(feeds, 0)]))
    done = run_vigil(vigil_env, config, "once", "--json")
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(x["item_id"], x["matched_in"]) for x in lines] == [("g1", ["full_text"])]
    status = run_vigil(vigil_env, config, "status", "--json")
    record = json.loads(status.stdout.splitlines()[0])
    assert record["awaiting_text"] == 1 and record["full_text"] is True
    assert "within 3 s" in record["last_article_error"]
    text = run_vigil(vigil_env, config, "status")
    assert "1 waiting for their text" in text.stdout


def test_match_explains_paragraph_and_page(tmp_path: Path, vigil_env: dict[str, str]) -> None:
    """`vigil match --file` on a page says the paragraph, on a PDF the page."""
    config = write(tmp_path / "feeds.yaml", make_config({"a": "http://127.0.0.1:9/a.xml"}))
    html = write(tmp_path / "page.html", "")
    html.write_bytes(page("The Convention Against Torture binds Syria."))
    out = run_vigil(vigil_env, config, "match", "--file", str(html))
    assert out.returncode == 0
    assert "in the full text, paragraph 3" in out.stdout
    pdf = tmp_path / "release.pdf"
    pdf.write_bytes(
        make_pdf(
            [
                ["Press release", "Opening", "Page 1"],
                ["Press release", "Convention Against Torture", "Syria", "Page 2"],
            ]
        )
    )
    out = run_vigil(vigil_env, config, "match", "--file", str(pdf))
    assert out.returncode == 0, out.stderr
    assert "in the PDF, page 2" in out.stdout
