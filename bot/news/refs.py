"""Telegram references in raw article HTML, found BEFORE extraction (which drops links and embeds).

Pure: HTML in, ``TelegramRef`` values out. Three kinds, strongest first:
``embed`` (Telegram's post widget or an iframe of ``t.me/<chan>/<id>?embed=1``), ``link`` (an
``t.me``/``telegram.me`` URL of one post, ``t.me/s/…`` included) and ``channel`` (a link to the channel
only, e.g. a "Join us on Telegram" footer — a mention, never a post citation).
"""

from __future__ import annotations

import re

import lxml.html
from lxml import etree

from bot.tglinks import NOT_CHANNEL_PATHS, USERNAME_PATTERN, TelegramRef, find_links, parse_link

#: the ``data-telegram-post`` attribute of Telegram's widget: ``channel/id``
_WIDGET_POST = re.compile(rf"^\s*(?P<channel>{USERNAME_PATTERN})/(?P<id>\d{{1,12}})\s*$")
#: strongest first: one post referenced several ways is reported as its strongest kind
_KIND_RANK = {"embed": 0, "link": 1, "channel": 2}


def _embeds(html: str | bytes) -> list[TelegramRef]:
    """Telegram's widget: ``<script data-telegram-post="chan/id">``, often rendered as
    ``<blockquote class="telegram-post">`` holding a link to the post, or an iframe of it."""
    try:
        tree = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return []
    out: list[TelegramRef] = []
    for el in tree.iter():
        if not isinstance(el.tag, str):
            continue  # comments, processing instructions
        data = el.get("data-telegram-post")
        if data and (m := _WIDGET_POST.match(data)) and m.group("channel").lower() not in NOT_CHANNEL_PATHS:
            out.append(TelegramRef.of("embed", m.group("channel"), int(m.group("id"))))
        tag = el.tag.lower()
        if tag == "blockquote" and "telegram-post" in (el.get("class") or "").split():
            for a in el.iter("a"):
                hit = parse_link(a.get("href") or "")
                if hit and hit.message_id is not None:
                    out.append(TelegramRef.of("embed", hit.channel, hit.message_id))
                    break
        elif tag == "iframe":
            hit = parse_link(el.get("src") or el.get("data-src") or "")
            if hit and hit.message_id is not None:
                out.append(TelegramRef.of("embed", hit.channel, hit.message_id))
    return out


def find_telegram_refs(html: str | bytes) -> list[TelegramRef]:
    """Every distinct Telegram post or channel the page points at: embeds first, then links in
    document order.

    A post both embedded and linked is reported once, as an embed; a channel is reported as
    ``channel`` only when no post of it is referenced in that same way (the link itself still counts).
    """
    if not html:
        return []
    text = html.decode("utf-8", "replace") if isinstance(html, bytes) else html
    found = _embeds(html) + list(find_links(text))
    best: dict[tuple[str, int | None], TelegramRef] = {}
    order: list[tuple[str, int | None]] = []
    for ref in found:
        key = (ref.channel.lower(), ref.message_id)
        if key not in best:
            order.append(key)
            best[key] = ref
        elif _KIND_RANK[ref.kind] < _KIND_RANK[best[key].kind]:
            best[key] = ref
    return [best[k] for k in order]
