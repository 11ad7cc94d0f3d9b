"""The state: one database — SQLite under the state directory, or PostgreSQL by URL — the only
place facts are kept, and the only code that knows which database it talks to.

`db` opens it one way everywhere (schema versions, refusals, transactions, SQLite's state lock);
`backend`, `postgres` (with `pgrows`) and `dialect` put SQLite and PostgreSQL behind one
`Connection` that speaks SQLite's SQL; `items` is the seen set; `feeds` the per-feed schedule,
claims, validators and health; `subs` the chats and what they follow; `outbox` every alert
before it is a message; `runtime` the small facts the service publishes for `vigil health` and
`status`; `replicas` who is alive and who leads; `copy` moves a SQLite state into PostgreSQL;
`rebaseline` decides and marks the acceptance of a page source's new layout (CLI and Telegram
alike).

Rules: identity and dedup are database facts (a UNIQUE key, "insert if new" in one
transaction); an item is never marked seen without its outbox rows in the same transaction.
New SQL is written in the common subset `dialect` documents, so it runs on both.
"""
