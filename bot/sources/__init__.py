"""Reading sources: a fetched body becomes items with stable identities and plain text.

`feed` reads RSS, Atom and RDF through feedparser (`xmldoc` decodes the body and strips DTDs
first); `identity` says what makes two sightings the same item; `text` turns HTML into text;
`reader` runs parsing off the event loop (threads, or `workers` child processes in bursts).

Rules: reading is pure CPU and never raises — a bad body is an ``error_kind`` in the result;
identity is never a position, a date or a hash of a row that can change in place.
"""
