"""The command line in-process: options in any position, help, and start-up errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import make_config


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A valid feeds.yaml in tmp_path."""
    path = tmp_path / "feeds.yaml"
    path.write_text(make_config({"a": "http://127.0.0.1:9/a.xml"}))
    return path


@pytest.mark.parametrize("before", [True, False], ids=["before-command", "after-command"])
def test_config_option_in_either_position(
    config: Path, before: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    """`vigil --config X check` and `vigil check --config X` read the same file."""
    argv = ["--config", str(config), "check"] if before else ["check", "--config", str(config)]
    assert main(argv) == 0
    assert f"{config}: valid" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["run", "once", "check", "match", "status", "health"])
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`vigil COMMAND --help` explains the command and its --config/--state options."""
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--config" in out
    assert "--state" in out


def test_status_without_state_says_so(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`vigil status` on an empty state directory exits 2 and names the missing database."""
    code = main(["status", "--config", str(config), "--state", str(tmp_path / "nothing")])
    assert code == 2
    assert "no state database" in capsys.readouterr().err


def test_health_when_not_running(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`vigil health` exits 1 with the reason when no service is running on that state."""
    state = tmp_path / "state"
    assert main(["once", "--config", str(config), "--state", str(state), "--dry-run"]) == 1
    capsys.readouterr()
    assert main(["health", "--config", str(config), "--state", str(state)]) == 1
    assert "not running" in capsys.readouterr().out


def test_token_file_missing_is_a_clear_error(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """TELEGRAM_BOT_TOKEN_FILE naming a missing file stops with exit 2 and the path."""
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN_FILE", "/nonexistent/token")
    assert main(["check", "--config", str(config)]) == 2
    assert "/nonexistent/token" in capsys.readouterr().err


def test_match_needs_exactly_one_source(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Giving no text (or two sources) to `vigil match` is a usage error, exit 2."""
    assert main(["match", "--config", str(config)]) == 2
    assert "exactly one" in capsys.readouterr().err
