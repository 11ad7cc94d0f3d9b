"""`python -m bot` is the same as the `vigil` console script."""

from bot.cli import main

raise SystemExit(main())
