"""Why an input is refused, said once and shown in any language: :class:`Reason`.

A pure parser (a digest schedule, quiet hours, a time zone, a search query) serves two
readers: feeds.yaml validation, whose ``feeds.yaml:LINE: key.path: message`` errors are
English like every config error, and a Telegram chat, which reads the reason in its own
language. A :class:`Reason` is a ``ValueError`` that carries an ``N_``-marked message id and
its values, so the parser is written once: ``str(reason)`` is the English sentence (the id
filled in), and the Telegram front end translates the id and fills it with escaped values.

The values say what they are, because each reader shows them differently:

- :class:`Given` is text the user wrote: cut to ``limit`` characters when one is given, quoted
  (``repr``) in the English sentence when ``quoted``; a chat gets it escaped, bounded, control
  characters replaced, in ``<code>``.
- :class:`Syntax` is what to type (``off``, ``daily HH:MM``): as is in the English sentence,
  alternatives joined "a, b or c"; a chat gets each in ``<code>``, joined in its language.
- :class:`Names` is a list of configured ids (the feeds, the topics): joined ", " in the
  English sentence; a chat gets each in ``<code>``, separated the way its language writes a list.
- An ``int`` or ``float`` is a number, shown as is.

Rules: this module imports nothing of the bot (bot/config and bot/search share it without an
import circle); it does no HTML itself — whoever shows a
reason escapes its values (:func:`bot.telegram.replies.reason_text`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Given", "Names", "Reason", "ReasonValue", "Syntax"]


@dataclass(frozen=True, slots=True)
class Given:
    """Text the user wrote; only its first ``limit`` characters are shown when one is given."""

    text: str
    limit: int | None = None
    quoted: bool = True

    @property
    def shown(self) -> str:
        return self.text if self.limit is None else self.text[: self.limit]

    def __str__(self) -> str:
        return repr(self.shown) if self.quoted else self.shown


@dataclass(frozen=True, slots=True, init=False)
class Syntax:
    """Something to type as it is written; several are alternatives ("a, b or c")."""

    words: tuple[str, ...]

    def __init__(self, *words: str) -> None:
        if not words:
            raise ValueError("Syntax needs at least one word")
        object.__setattr__(self, "words", words)

    def __str__(self) -> str:
        if len(self.words) == 1:
            return self.words[0]
        return f"{', '.join(self.words[:-1])} or {self.words[-1]}"


@dataclass(frozen=True, slots=True, init=False)
class Names:
    """Ids from the configuration, listed (possibly none): "a, b, c" in English."""

    words: tuple[str, ...]

    def __init__(self, *words: str) -> None:
        object.__setattr__(self, "words", words)

    def __str__(self) -> str:
        return ", ".join(self.words)


ReasonValue = Given | Syntax | Names | int | float


class Reason(ValueError):
    """A refusal whose ``message`` is a message id (marked ``N_``) with ``{placeholders}``.

    ``str()`` is the English sentence; ``values`` fill the placeholders for a translation.
    """

    def __init__(self, message: str, /, **values: ReasonValue) -> None:
        self.message = message
        self.values: Mapping[str, ReasonValue] = values
        super().__init__(message.format(**{key: str(value) for key, value in values.items()}))
