"""Delivery: the outbox drained to Telegram (or the terminal), paced, fair and at least once.

`worker` takes due rows (and sent rows whose message must be edited to add a source) and
records a final outcome for each; `limits` paces by Telegram's
published limits; `sender` is the classified result every sender reports; `telegram` and
`console` are the two senders behind that one interface.

Rule: a row leaves `pending` only on a final outcome, so a crash costs at most one duplicate.
"""
