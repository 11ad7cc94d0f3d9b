"""Who gets an alert for a matched item, and its rendered text (shared by the poll and full text).

Rules: topics route through the channels and subscribers (:func:`bot.route.chats.route_item`),
personal phrases through the chats that track them (compiled once per set of phrases and cached
on the runtime); the alert is rendered from the spot that matched, in the item's fields or its
page's text; ``matched_in`` names every field where a keyword (not a context word) matched.
Each chat gets its own :class:`Delivery`: the alert rendered in the chat's language (once per
language among the chats, not once per chat), its forum topic, whether it rings (a statement
matching an ``urgent`` topic always does) and the link to preview when the chat shows previews.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.config import Feed
from bot.i18n import DEFAULT_LANGUAGE, N_, translator
from bot.match.topics import Matcher
from bot.model import Item, TopicMatch
from bot.pipeline.report import PlannedAlert
from bot.pipeline.runtime import Phrase, Runtime
from bot.route.chats import CONSOLE_CHAT, delivery_targets, route_item
from bot.route.render import Rendered, render_alert
from bot.sources.identity import normalize_link
from bot.store import subs
from bot.store.outbox import Delivery

TRACKED_PHRASES = N_("your tracked phrases")


def statement_key(feed_id: str, item: Item) -> str:
    """The same statement seen through two feeds shares its canonical link."""
    if item.link:
        return "link:" + normalize_link(item.link)
    return f"item:{feed_id}:{item.key}"


def tracked_by(
    rt: Runtime,
    tracks: dict[str, tuple[str, ...]],
    item: Item,
    full_text: str = "",
    pdf: str = "",
) -> tuple[tuple[str, ...], tuple[TopicMatch, ...]]:
    """Chats whose personal phrases match the item, and the phrase matches themselves."""
    if rt.console or not tracks:
        return (), ()
    cache_key = frozenset((chat, phrase) for chat, phrases in tracks.items() for phrase in phrases)
    compiled = rt.track_matchers.get(cache_key)
    if compiled is None:
        owners: dict[str, list[str]] = {}
        for chat, phrases in tracks.items():
            for phrase in phrases:
                owners.setdefault(phrase, []).append(chat)
        ids = {phrase: f"p{n}" for n, phrase in enumerate(sorted(owners))}
        specs = [Phrase(ids[p], (p,)) for p in sorted(owners)]
        compiled = (
            Matcher.compile(specs),
            {ids[p]: tuple(chats) for p, chats in owners.items()},
        )
        rt.track_matchers.clear()
        rt.track_matchers[cache_key] = compiled
    matcher, chats_of = compiled
    out: dict[str, None] = {}
    found = matcher.match_item(item, full_text, pdf)
    for match in found:
        for chat in chats_of.get(match.topic_id, ()):
            out[chat] = None
    return tuple(out), found


def matched_in(*groups: Sequence[TopicMatch]) -> tuple[str, ...]:
    """The fields where a keyword matched, in field order."""
    fields = {str(hit.field) for group in groups for match in group for hit in match.hits}
    order = ("title", "summary", "content", "full_text", "pdf")
    return tuple(name for name in order if name in fields)


def plan_alert(
    feed: Feed,
    item: Item,
    matches: Sequence[TopicMatch],
    tracked: tuple[str, ...],
    rt: Runtime,
    audience: subs.Audience,
    *,
    tracked_matches: Sequence[TopicMatch] = (),
    full_text: str = "",
    pdf: str = "",
) -> PlannedAlert | None:
    """The alert for one matched item and every chat it goes to, or None when no chat wants it."""
    topic_ids = tuple(m.topic_id for m in matches)
    if rt.console:
        chats: tuple[str, ...] = (CONSOLE_CHAT,) if topic_ids else ()
    else:
        chats = route_item(
            feed_id=feed.id,
            topic_ids=topic_ids,
            channels=rt.config.channels,
            subscribers=audience.subscribers,
            tracked_by=tracked,
            muted=audience.muted,
        )
    if not chats:
        return None
    topics = [rt.config.topic(t) for t in topic_ids]
    targets = delivery_targets(
        chats,
        feed_id=feed.id,
        topic_ids=topic_ids,
        urgent=any(t.urgent for t in topics),
        channels=rt.config.channels,
        prefs=audience.prefs,
        threads=audience.threads,
        track_threads=audience.track_threads,
        default_language=DEFAULT_LANGUAGE,
    )
    shown = list(matches) or list(tracked_matches)
    rendered: dict[str, Rendered] = {}  # once per language among the chats, not once per chat
    for language in dict.fromkeys(t.language for t in targets):
        tr = translator(language)
        names = [t.label(language) for t in topics]
        if tracked and not names:
            names = [tr(TRACKED_PHRASES)]
        rendered[language] = render_alert(
            item,
            feed_name=feed.name,
            topic_names=names,
            matches=shown,
            tz=rt.tz,
            full_text=full_text,
            pdf=pdf,
            tr=tr,
        )
    deliveries = tuple(
        Delivery(
            t.chat,
            rendered[t.language].html,
            rendered[t.language].plain,
            thread_id=t.thread,
            silent=t.silent,
            preview_url=item.link if t.preview else None,
            language=t.language,
        )
        for t in targets
    )
    return PlannedAlert(
        feed_id=feed.id,
        item=item,
        topics=topic_ids,
        chats=chats,
        statement_key=statement_key(feed.id, item),
        text_html=deliveries[0].text_html,
        text_plain=deliveries[0].text_plain,
        matched_in=matched_in(matches, tracked_matches),
        deliveries=deliveries,
    )
