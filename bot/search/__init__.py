"""Archive search: what a user types, turned safely into a query over the stored statements.

The stage owns the query grammar (`query`, pure: text in, a :class:`Query` or a
:class:`QueryError` with the reason out), the excerpts with matched words marked in the ORIGINAL
text (`excerpt`, pure), and running a query against the archive (`engine`, which reads
:mod:`bot.store.archive`). `vigil search` and `/search` both go through `engine`, so they answer
the same.

Rules: no user text ever reaches SQLite's FTS5 or PostgreSQL's tsquery unparsed — every term is
normalized with the matcher's own normalizer (:mod:`bot.match.normalize`) and emitted as a quoted
phrase (FTS5) or quoted lexemes (tsquery), so an engine syntax error cannot happen; the index
holds normalized text, so a search and an alert agree on case, accents, Arabic spelling and
attached Arabic prefixes.
"""
