"""The state: one SQLite database under the state directory, the only place facts are kept.

`db` opens it one way everywhere (WAL, busy timeout, schema versions, the state lock); `items`
is the seen set; `feeds` the per-feed schedule, validators and health; `subs` the chats and
what they follow; `outbox` every alert before it is a message; `runtime` the small facts the
service publishes for `vigil health` and `status`.

Rules: identity and dedup are database facts (a UNIQUE key, "insert if new" in one
transaction); an item is never marked seen without its outbox rows in the same transaction.
"""
