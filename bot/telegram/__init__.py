"""Telegram: commands, buttons and membership, run inside Vigil's own asyncio lifecycle.

`frontend` drives python-telegram-bot; every update passes `gate` (rate limits, the one access
check, with `access` as its pure rules) before a `handlers` command runs; `replies` and
`keyboards` are the texts and buttons; `outgoing` sends replies paced with the alerts;
`membership` reacts to being added or removed; `notices` tells admins what only a person can
fix. `host` is what all of them may use of the service (a protocol, not the service).
"""
