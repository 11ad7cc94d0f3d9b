"""Listing pages built the way the common CMSs build them, for page-source tests.

Each builder returns the page and the links (absolute, on https://site.test) of its entries,
in page order. Every page carries the furniture that must never become an item: a header menu,
a language switcher, a breadcrumb, a sidebar of other links, a pager, a footer, social links,
off-site links and ``javascript:``/``mailto:`` links.
"""

from __future__ import annotations

import html

SITE = "https://site.test"
TITLES = [
    "Statement on Syria and the Convention Against Torture",
    "High Commissioner briefs the Human Rights Council on detention",
    "Commission of Inquiry on Syria presents its latest report",
    "Press briefing notes on enforced disappearances in Syria",
    "UN experts urge accountability for chemical weapons attacks",
    "الأمم المتحدة تدعو إلى محاسبة مرتكبي الانتهاكات في سوريا",
    "Committee against Torture opens its seventy-ninth session",
    "Joint statement on the situation of the Syrian refugees",
]


def chrome(main: str, *, title: str = "Press releases") -> str:
    """A whole page around ``main``, with navigation that must be ignored."""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<link rel="alternate" hreflang="fr" href="/fr/press-releases"></head>
<body>
<a class="skip-link" href="#main">Skip to main content</a>
<header class="site-header">
  <a href="/" class="logo">Office of the High Commissioner for Human Rights</a>
  <nav class="main-menu"><ul>
    <li><a href="/en/about-us">About us and our mandate worldwide</a></li>
    <li><a href="/en/countries">Countries and territories we cover</a></li>
    <li><a href="/en/topics">Human rights topics from A to Z</a></li>
  </ul></nav>
  <ul class="language-switcher"><li><a href="/fr/press-releases">Français (French version)</a></li>
    <li><a href="/ar/press-releases">العربية النسخة العربية من الصفحة</a></li></ul>
</header>
<div class="breadcrumb"><a href="/">Home page of the office</a> › <a href="/en/news">News and events of the office</a></div>
<main id="main">{main}</main>
<aside class="sidebar"><h2>Most read</h2><ul>
  <li><a href="/en/press-releases/2019/01/old-but-popular-statement">An old but very popular statement from 2019</a></li>
  <li><a href="/en/press-releases/2018/05/another-popular-one">Another popular statement from long ago</a></li>
</ul></aside>
<footer class="site-footer"><ul>
  <li><a href="/en/privacy-policy">Privacy policy and terms of use of this site</a></li>
  <li><a href="/en/contact-us">Contact the office and media enquiries</a></li>
  <li><a href="https://twitter.com/UNHumanRights">Follow us on X (Twitter) for updates</a></li>
  <li><a href="mailto:press@site.test">Email the press office about anything</a></li>
  <li><a href="javascript:window.print()">Print this page for your own records</a></li>
</ul></footer>
</body></html>"""


def drupal_views(n: int = 6, *, titles: list[str] | None = None) -> tuple[str, list[str]]:
    """A Drupal Views listing: div.views-row with h3 a, a time and a teaser; a pager."""
    names = titles or TITLES
    rows = []
    links = []
    for i in range(n):
        path = f"/en/press-releases/2024/{(i % 12) + 1:02d}/statement-{i}"
        links.append(SITE + path)
        rows.append(
            f"""<div class="views-row views-row-{i + 1} {"odd" if i % 2 else "even"}">
  <h3 class="node__title"><a href="{path}">{html.escape(names[i % len(names)])} ({i})</a></h3>
  <time datetime="2024-{(i % 12) + 1:02d}-1{i % 9}T09:00:00Z">1{i % 9} May 2024</time>
  <div class="teaser">Geneva. The teaser text of statement {i} on Syria.</div>
</div>"""
        )
    main = f"""<div class="view view-press-releases"><div class="view-content">
{"".join(rows)}
</div>
<nav class="pager"><ul class="pager__items">
  <li><a href="?page=1">Next page of press releases ›</a></li>
  <li><a href="?page=5">Last page of press releases »</a></li></ul></nav>
</div>"""
    return chrome(main), links


def wordpress_archive(n: int = 5) -> tuple[str, list[str]]:
    """A WordPress archive: article.post with per-post classes, entry header and footer."""
    articles = []
    links = []
    for i in range(n):
        slug = f"statement-{i}-on-the-situation"
        links.append(f"{SITE}/{slug}/")
        articles.append(
            f"""<article id="post-{100 + i}" class="post-{100 + i} post type-post status-publish format-standard has-post-thumbnail hentry category-news tag-syria-{i}">
  <header class="entry-header"><h2 class="entry-title"><a href="{SITE}/{slug}/" rel="bookmark">{html.escape(TITLES[i % len(TITLES)])}</a></h2>
  <div class="entry-meta"><time class="entry-date published" datetime="2024-03-0{i + 1}T10:00:00+02:00">March {i + 1}, 2024</time></div></header>
  <div class="entry-summary"><p>Summary of statement {i}.</p>
  <a class="more-link" href="{SITE}/{slug}/#more-{100 + i}">Continue reading</a></div>
  <footer class="entry-footer"><span class="cat-links"><a href="{SITE}/category/news/" rel="category tag">News</a></span></footer>
</article>"""
        )
    main = f"""<div id="primary" class="content-area">{"".join(articles)}
<nav class="navigation pagination"><div class="nav-links"><a class="next page-numbers" href="{SITE}/page/2/">Older posts from the archive</a></div></nav>
</div>"""
    return chrome(main, title="News – Syrian National Coalition"), links


def card_grid(n: int = 7) -> tuple[str, list[str]]:
    """A Bootstrap card grid in rows of three (EEAS-like): div.card, h3.card-title a, date."""
    cards = []
    links = []
    for i in range(n):
        path = f"/eeas/syria-statement-{i}_en"
        links.append(SITE + path)
        cards.append(
            f"""<div class="col-md-4"><div class="card">
  <div class="card-header"><span class="badge">Statement</span></div>
  <div class="card-body"><h3 class="card-title"><a href="{path}">{html.escape(TITLES[i % len(TITLES)])}</a></h3></div>
  <div class="card-footer">2{i}.03.2026</div>
</div></div>"""
        )
    grid_rows = [
        '<div class="row">' + "".join(cards[start : start + 3]) + "</div>"
        for start in range(0, n, 3)
    ]
    council = (
        '<div class="row"><div class="col-md-4"><div class="card"><div class="card-body">'
        '<h3 class="card-title"><a href="https://www.consilium.europa.eu/en/press/x">'
        "Council statement published on its own site</a></h3></div></div></div></div>"
    )
    main = f'<div class="container">{"".join(grid_rows)}{council}</div>'
    return chrome(main, title="Press material | EEAS"), links


def telegram_preview(channel: str, posts: list[tuple[int, str, str]]) -> str:
    """A t.me/s/NAME web preview as Telegram serves it: (id, text, ISO date) per post."""
    messages = "".join(
        f"""<div class="tgme_widget_message_wrap js-widget_message_wrap"><div class="tgme_widget_message text_not_supported_wrap js-widget_message" data-post="{channel}/{post_id}" data-view="x">
  <div class="tgme_widget_message_bubble">
    <div class="tgme_widget_message_author accent_color"><a class="tgme_widget_message_owner_name" href="https://t.me/{channel}"><span dir="auto">The channel</span></a></div>
    <div class="tgme_widget_message_text js-message_text" dir="auto">{text.replace(chr(10), "<br/>")}</div>
    <div class="tgme_widget_message_footer compact js-message_footer"><div class="tgme_widget_message_info short js-message_info">
      <span class="tgme_widget_message_views">1.2K</span><span class="tgme_widget_message_meta"><a class="tgme_widget_message_date" href="https://t.me/{channel}/{post_id}"><time datetime="{date}" class="time">10:00</time></a></span>
    </div></div>
  </div></div></div>"""
        for post_id, text, date in posts
    )
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>The channel – Telegram</title></head>
<body class="widget_frame_base tgme_webpreview"><header class="tgme_header"><div class="tgme_channel_info">
<div class="tgme_channel_info_header"><div class="tgme_channel_info_header_title"><span dir="auto">The channel</span></div></div></div></header>
<main class="tgme_main"><section class="tgme_channel_history js-message_history">{messages}</section></main></body></html>"""


def telegram_no_preview(channel: str) -> str:
    """What t.me answers for a channel without a public preview: the landing page, no posts."""
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>Telegram: Contact @{channel}</title></head>
<body><div class="tgme_page_wrap"><div class="tgme_page"><div class="tgme_page_title"><span dir="auto">{channel}</span></div>
<div class="tgme_page_extra">If you have Telegram, you can contact @{channel} right away.</div>
<div class="tgme_page_action"><a class="tgme_action_button_new" href="tg://resolve?domain={channel}">Send Message</a></div></div></div></body></html>"""
