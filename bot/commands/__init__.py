"""What each `vigil` subcommand does, behind the argument parsing of :mod:`bot.cli`.

One module per command; they compose the stages and the service, and print. `output` holds
the shared ways of printing (JSON lines, times). Nothing is imported here: :mod:`bot.cli`
imports the one command it runs, so a quick command never loads the whole pipeline.
"""
