"""Routing and rendering: which chats get a matched statement, and the message they get.

`chats` decides the recipients (subscriptions, channels from feeds.yaml, personal phrases, the
console when there is no token); `render` writes the alert within Telegram's limits. Both are
pure: values in, values out, no I/O.
"""
