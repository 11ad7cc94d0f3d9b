"""Accepting a page source's new layout from a phone: /rebaseline ID and the notice's button.

When a listing page changes its layout, Vigil holds its alerts and tells the admins
(:func:`bot.telegram.notices.layout_changed`, with an "Accept the new layout" button). Both the
command and the button do what `vigil rebaseline ID` does, through the same store call
(:func:`bot.store.rebaseline.accept_layout`): the next poll remembers the page's entries without
alerting. Only Vigil's administrators may (``Need.ADMIN``, checked by the gate before anything
here runs). The button acts only while the feed is still held: a stale button (the feed removed
or no longer held) and a second press change nothing and say why.

Rules: an unknown id is echoed, shortened and escaped, and no feed ids are listed. Command
replies are HTML; a button's answer is the same sentence as plain text, at most 200 characters.
"""

from __future__ import annotations

from bot.i18n import N_, Tr
from bot.store.rebaseline import Acceptance, Verdict, accept_layout
from bot.telegram.replies import code, echo, span
from bot.telegram.request import Request

MAX_ANSWER = 200

_TEXTS = {
    Verdict.UNKNOWN: N_("Vigil has no source {feed}; {status} shows the sources it polls."),
    Verdict.NEVER_POLLED: N_(
        "Source {feed} has not been polled yet; its first poll is a baseline anyway."
    ),
    Verdict.ALREADY: N_(
        "Already accepted: the next poll of {feed} ({next}; every {interval}) remembers "
        "the entries on its page without alerting."
    ),
    Verdict.NOT_HELD: N_(
        "Source {feed} is no longer held for a layout change; there is nothing to accept."
    ),
    Verdict.MARKED: N_(
        "Accepted: the next poll of {feed} ({next}; every {interval}) remembers the entries "
        "on its page without alerting. Later polls alert as usual."
    ),
}


def acceptance_text(
    feed: str, accepted: Acceptance, now: float, interval: float, tr: Tr, *, html: bool = True
) -> str:
    """What a re-baseline request came to, in ``tr``'s language (pure).

    ``feed`` is the id as the admin wrote it; ``html`` False gives plain text for a button.
    """
    shown = code(echo(feed)) if html else feed
    due = accepted.next_poll_at
    if due is None or due <= now:
        next_poll = tr("due now")
    else:
        next_poll = tr("in {span}", span=span(due - now, tr))
    return tr(
        _TEXTS[accepted.verdict],
        feed=shown,
        status="/status",
        next=next_poll,
        interval=span(interval, tr),
    )


def _interval(req: Request, feed_id: str) -> float:
    config = req.config
    feed = next((f for f in config.feeds if f.id == feed_id), None)
    return config.settings.interval if feed is None else config.feed_interval(feed)


async def cmd_rebaseline(req: Request) -> None:
    """/rebaseline ID: the next poll of a page source remembers its entries without alerting."""
    words = req.args.split()
    if len(words) != 1:
        await req.reply(
            req.tr(
                "Usage: {usage} — after Vigil held a page source's alerts because its layout "
                "changed, accept the new layout.",
                usage="/rebaseline ID",
            )
        )
        return
    configured = {f.id: f.url for f in req.config.feeds}
    accepted = accept_layout(req.host.conn, configured, words[0])
    interval = _interval(req, words[0])
    await req.reply(acceptance_text(words[0], accepted, req.now, interval, req.tr))


def press_answer(req: Request, feed_id: str) -> str:
    """The "Accept the new layout" button: acts only while the feed is held."""
    configured = {f.id: f.url for f in req.config.feeds}
    accepted = accept_layout(req.host.conn, configured, feed_id, held_only=True)
    interval = _interval(req, feed_id)
    text = acceptance_text(feed_id, accepted, req.now, interval, req.tr, html=False)
    return text[:MAX_ANSWER]
