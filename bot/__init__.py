"""Vigil: watches statements of ministries, courts and UN bodies and alerts Telegram chats."""

__version__ = "0.1.0"
