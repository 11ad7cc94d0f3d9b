"""What every bench section shares: feeds.yaml text, the `vigil` command line, its environment.

The topics are a realistic watch list (English, French, Arabic; phrases and prefixes) whose
keywords never occur in the generated statements, so every statement goes through the matcher
and only the statements a section plants (with :data:`PROBE`) raise alerts.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = "Vigil bench probe"  # the keyword of the `probe` topic, planted in statements on purpose

_TOPICS = {
    "caesar": ["Caesar Act", "قانون قيصر", "loi César"],
    "cat": ["Convention Against Torture", "اتفاقية مناهضة التعذيب", "Convention contre la torture"],
    "icc": [
        "International Criminal Court",
        "Cour pénale internationale",
        "المحكمة الجنائية الدولية",
    ],
    "sanctions": ["sanction*", "عقوبات", "embargo*"],
    "detention": ["arbitrary detention", "détention arbitraire", "الاعتقال التعسفي"],
    "refugees": ["refoulement", "non-refoulement", "اللاجئين السوريين"],
    "chemical": ["chemical weapon*", "armes chimiques", "الأسلحة الكيميائية"],
    "missing": ["enforced disappearance*", "disparitions forcées", "الاختفاء القسري"],
    "upr": ["Universal Periodic Review", "Examen périodique universel", "الاستعراض الدوري الشامل"],
    "probe": [PROBE],
}


def topics_yaml(extra_keywords: Mapping[str, Sequence[str]] | None = None) -> str:
    lines = ["topics:"]
    for topic_id, keywords in {**_TOPICS, **(extra_keywords or {})}.items():
        quoted = ", ".join('"' + k.replace('"', '\\"') + '"' for k in keywords)
        lines.append(f"  {topic_id}:\n    name: {topic_id.title()}\n    keywords: [{quoted}]")
    return "\n".join(lines) + "\n"


def config_text(
    urls: Sequence[str],
    *,
    settings: Mapping[str, str] | None = None,
    telegram: Mapping[str, str] | None = None,
    channels: Sequence[tuple[str, str]] = (),
    pages: Sequence[str] = (),
) -> str:
    """feeds.yaml for feeds f0…fN at ``urls`` and page sources p0…pN (automatic mode) at
    ``pages``; ``channels`` are (chat, feed id) pairs."""
    merged = {"allow_private_networks": "true", "interval": "1m", "timeout": "30s"}
    merged.update(settings or {})
    parts = ["settings:"] + [f"  {k}: {v}" for k, v in merged.items()]
    if telegram:
        parts += ["telegram:"] + [f"  {k}: {v}" for k, v in telegram.items()]
    parts.append(topics_yaml())
    parts.append("feeds:")
    parts += [f"  - id: f{n}\n    url: {url}" for n, url in enumerate(urls)]
    parts += [
        f"  - id: p{n}\n    url: {url}\n    page:\n      items: auto" for n, url in enumerate(pages)
    ]
    if channels:
        parts.append("channels:")
        parts += [f'  - chat: "{chat}"\n    feeds: [{feed}]' for chat, feed in channels]
    return "\n".join(parts) + "\n"


def write_config(directory: Path, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "feeds.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def vigil_env(token: str | None = None, api_url: str | None = None) -> dict[str, str]:
    """No proxies (loopback only), no token unless given, the repo on the import path."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    for name in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_BOT_TOKEN_FILE", "TELEGRAM_API_URL"):
        env.pop(name, None)
    if token is not None:
        env["TELEGRAM_BOT_TOKEN"] = token
    if api_url is not None:
        env["TELEGRAM_API_URL"] = api_url
    env["PYTHONPATH"] = str(ROOT)
    return env


def vigil_cmd(command: str, config: Path, state: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bot",
        command,
        "--config",
        str(config),
        "--state",
        str(state),
        *extra,
    ]


def run_once(config: Path, state: Path, env: dict[str, str]) -> tuple[float, str]:
    """Runs `vigil once`; returns its wall time (process start included) and its stderr."""
    started = time.perf_counter()
    done = subprocess.run(
        vigil_cmd("once", config, state),
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"vigil once exited {done.returncode}: {done.stderr[-2000:]}")
    return elapsed, done.stderr


def db_rows(state: Path, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
    """Reads (or writes) the state database of a running Vigil from the bench process."""
    conn = sqlite3.connect(state / "vigil.db", timeout=30.0, isolation_level=None)
    try:
        return list(conn.execute(sql, tuple(params)))
    finally:
        conn.close()


def feed_count(state: Path, condition: str) -> int:
    """Feed rows meeting ``condition``; 0 while a starting service has not created them."""
    if not (state / "vigil.db").exists():
        return 0
    try:
        rows = db_rows(state, f"SELECT count(*) FROM feeds WHERE {condition}")
    except sqlite3.Error:
        return 0
    return int(str(rows[0][0]))


def wait_until(ready: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.2)


def fmt_s(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def fmt_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1000:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} TB"
