"""Routing and rendering: which chats get a matched statement, and the message they get.

`chats` decides the recipients (subscriptions, channels from feeds.yaml, personal phrases, the
console when there is no token); `when` decides when each gets it (at once, held for a digest,
after quiet hours); `render` writes the alert within Telegram's limits, `digest` a digest and
`sources` the "Also published by" line. All pure: values in, values out, no I/O.
"""
