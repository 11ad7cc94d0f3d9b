"""What each `vigil` subcommand does, behind the argument parsing of :mod:`bot.cli`.

One module per command; they compose the stages and the service, and print. `output` holds
the shared ways of printing (JSON lines, times).
"""

from bot.commands.check import check
from bot.commands.match import match
from bot.commands.once import once
from bot.commands.probe import probe
from bot.commands.rebaseline import rebaseline
from bot.commands.run import run
from bot.commands.search import search
from bot.commands.status import health, status

__all__ = ["check", "health", "match", "once", "probe", "rebaseline", "run", "search", "status"]
