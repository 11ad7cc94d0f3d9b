"""Admin notices: which conditions call for one, and that each is told once (real SQLite)."""

from __future__ import annotations

from pathlib import Path

import pytest
from telegram import InlineKeyboardMarkup

from bot.deliver.sender import SendResult, Status
from bot.i18n import translator
from bot.model import ErrorKind, Outcome
from bot.pipeline import PollReport
from bot.store import feeds as feed_rows
from bot.store.db import connect, transaction
from bot.telegram import notices
from bot.telegram.notices import AdminNotices, notice_for_poll, notice_for_send

ADMINS = (11, 22)


pytestmark = pytest.mark.usefixtures("database")  # each test on SQLite and PostgreSQL


def failed(feed_id: str = "mfa") -> PollReport:
    return PollReport(feed_id, Outcome.FAILED, error_kind=ErrorKind.HTTP_STATUS, error="HTTP 503")


@pytest.mark.parametrize(
    ("errors", "told"), [(1, False), (2, False), (notices.FAILING_AFTER, True), (40, True)]
)
def test_a_feed_is_worth_a_notice_after_consecutive_failures(errors: int, told: bool) -> None:
    notice = notice_for_poll(failed(), errors)
    assert (notice is not None) is told
    if notice is not None:
        assert notice.key == "feed:mfa"
        assert f"failed {errors} polls in a row" in notice.text
        assert "HTTP 503" in notice.text


def test_a_working_poll_clears_the_feed_notice() -> None:
    notice = notice_for_poll(PollReport("mfa", Outcome.NOT_MODIFIED), 0)
    assert notice is not None and notice.clear and notice.key == "feed:mfa"
    assert notice.say(translator("en"), notice.recovered) == "Vigil: feed mfa works again."


@pytest.mark.parametrize(
    ("chat", "result", "key"),
    [
        ("42", SendResult(Status.RATE_LIMITED, retry_after=5), None),
        ("42", SendResult(Status.RATE_LIMITED, retry_after=10072), "flood"),
        ("-1001", SendResult(Status.GONE, error="Forbidden: bot was kicked"), "chat:-1001"),
        ("@watchers", SendResult(Status.GONE, error="chat not found"), "chat:@watchers"),
        ("42", SendResult(Status.GONE, error="Forbidden: bot was blocked by the user"), None),
        ("42", SendResult(Status.PERMANENT, error="message is too long"), None),
    ],
)
def test_send_outcomes_worth_a_notice(chat: str, result: SendResult, key: str | None) -> None:
    notice = notice_for_send(chat, result)
    told = None if notice is None or notice.clear else notice.key
    assert told == key


class Admins:
    """The send side: records texts per admin; can be told to fail."""

    def __init__(self) -> None:
        self.got: list[tuple[int, str]] = []
        self.markups: list[InlineKeyboardMarkup | None] = []
        self.failing = False

    async def send(self, chat_id: int, text: str, markup: InlineKeyboardMarkup | None) -> bool:
        if self.failing:
            return False
        self.got.append((chat_id, text))
        self.markups.append(markup)
        return True


@pytest.fixture
def conn(tmp_path: Path):  # type: ignore[no-untyped-def]
    connection = connect(tmp_path)
    with transaction(connection):
        feed_rows.sync_feeds(connection, {"mfa": "https://example.org/feed"})
    yield connection
    connection.close()


def make(conn, admins: Admins, ids: tuple[int, ...] = ADMINS) -> AdminNotices:  # type: ignore[no-untyped-def]
    return AdminNotices(conn, admins.send, lambda: ids)


async def test_told_once_across_restarts_then_again_after_recovery(conn) -> None:  # type: ignore[no-untyped-def]
    admins = Admins()
    first = make(conn, admins)
    for errors in (3, 4, 5):
        first.post(notice_for_poll(failed(), errors))
    await first.drain()
    assert [chat for chat, _ in admins.got] == [11, 22]

    restarted = make(conn, admins)  # the told key lives in the database, not in memory
    restarted.post(notice_for_poll(failed(), 6))
    await restarted.drain()
    assert len(admins.got) == 2

    restarted.post(notice_for_poll(PollReport("mfa", Outcome.OK), 0))
    await restarted.drain()
    assert admins.got[2:] == [
        (11, "Vigil: feed mfa works again."),
        (22, "Vigil: feed mfa works again."),
    ]

    restarted.post(notice_for_poll(failed(), 3))  # broken again: worth telling again
    await restarted.drain()
    assert len(admins.got) == 6


async def test_recovery_of_a_feed_never_told_sends_nothing(conn) -> None:  # type: ignore[no-untyped-def]
    admins = Admins()
    notifier = make(conn, admins)
    notifier.post(notice_for_poll(PollReport("mfa", Outcome.OK), 0))
    notifier.post(notices.flood_over())
    await notifier.drain()
    assert admins.got == []


async def test_a_notice_nobody_received_is_tried_again(conn) -> None:  # type: ignore[no-untyped-def]
    admins = Admins()
    admins.failing = True
    notifier = make(conn, admins)
    notifier.post(notices.flood_wait(3600))
    await notifier.drain()
    admins.failing = False
    notifier.post(notices.flood_wait(3600))
    await notifier.drain()
    assert len(admins.got) == 2


async def test_clearing_one_feed_leaves_a_feed_with_a_longer_id(conn) -> None:  # type: ignore[no-untyped-def]
    admins = Admins()
    notifier = make(conn, admins, (11,))
    notifier.post(notices.feed_failing("mfa-nl", 3, "network", "refused"))
    notifier.post(notices.feed_recovered("mfa"))
    await notifier.drain()
    notifier.post(notices.feed_failing("mfa-nl", 4, "network", "refused"))
    await notifier.drain()
    assert len(admins.got) == 1


async def test_each_refused_reload_is_told_once_and_an_accepted_one_resets(conn) -> None:  # type: ignore[no-untyped-def]
    admins = Admins()
    notifier = make(conn, admins, (11,))
    bad = "feeds.yaml:7: topics.cat.keywords[0]: must be a string"
    notifier.post(notices.reload_refused(bad))
    await notifier.drain()
    notifier.post(notices.reload_refused(bad))
    notifier.post(notices.reload_refused("feeds.yaml:9: feeds[1].url: only http and https"))
    await notifier.drain()
    assert len(admins.got) == 2
    assert "previous configuration keeps running" in admins.got[0][1] and bad in admins.got[0][1]
    notifier.post(notices.reload_accepted())
    notifier.post(notices.reload_refused(bad))
    await notifier.drain()
    assert len(admins.got) == 3


async def test_no_admins_means_no_sends_and_nothing_marked(conn) -> None:  # type: ignore[no-untyped-def]
    admins = Admins()
    notifier = make(conn, admins, ())
    notifier.post(notices.flood_wait(600))
    await notifier.drain()
    assert admins.got == []
    assert conn.execute("SELECT count(*) FROM runtime WHERE key LIKE 'notice:%'").fetchone()[0] == 0


async def test_deleted_forum_topic_is_told_once_in_each_admins_language(conn) -> None:  # type: ignore[no-untyped-def]
    """A lost forum topic is told once per chat and topic, in the language each admin chose."""
    admins = Admins()
    notifier = AdminNotices(
        conn, admins.send, lambda: (11, 22), lambda admin: "fr" if admin == 22 else None
    )
    gone = SendResult(Status.THREAD_GONE, error="Message thread not found", thread_id=5)
    for _ in range(3):
        notifier.observe_send("-1001", gone)
    await notifier.drain()
    assert [chat for chat, _ in admins.got] == [11, 22]
    english, french = (text for _, text in admins.got)
    assert english.startswith("Vigil: forum topic 5 of chat -1001 is gone (Message thread")
    assert french.startswith("Vigil : le sujet de forum 5 de la discussion -1001 n'existe plus")


async def test_layout_notice_carries_the_accept_button_and_its_recovery_none(conn) -> None:  # type: ignore[no-untyped-def]
    """The layout-changed notice names /rebaseline and carries one "Accept the new layout"
    button (rebase:<feed>); the "works again" that clears it carries none."""
    admins = Admins()
    notifier = make(conn, admins, (11,))
    held = PollReport(
        "mfa", Outcome.FAILED, error_kind=ErrorKind.LAYOUT_CHANGED, error="links moved"
    )
    notifier.post(notice_for_poll(held, 1))
    await notifier.drain()
    notifier.post(notice_for_poll(PollReport("mfa", Outcome.OK), 0))
    await notifier.drain()
    assert "/rebaseline mfa" in admins.got[0][1] and "vigil rebaseline mfa" in admins.got[0][1]
    markup = admins.markups[0]
    assert markup is not None
    [[button]] = markup.inline_keyboard
    assert (button.text, button.callback_data) == ("Accept the new layout", "rebase:mfa")
    assert admins.got[1][1] == "Vigil: feed mfa works again." and admins.markups[1] is None
