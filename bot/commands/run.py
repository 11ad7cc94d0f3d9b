"""`vigil run`: the long-running service (see :mod:`bot.service.app`)."""

from __future__ import annotations

from pathlib import Path

from bot.config import Config
from bot.secrets import Secret
from bot.service.app import Options, api_url_from_env, run_service


async def run(config_path: Path, state_dir: Path, token: Secret | None, config: Config) -> int:
    options = Options(
        config_path=config_path, state_dir=state_dir, token=token, api_url=api_url_from_env()
    )
    return await run_service(options, config)
