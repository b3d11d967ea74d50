"""Telegram references in raw article HTML, found BEFORE extraction (which drops links and embeds).

Pure: HTML in, ``TelegramRef`` values out. Three kinds, strongest first:
``embed`` (Telegram's post widget or an iframe of ``t.me/<chan>/<id>?embed=1``), ``link`` (an
``t.me``/``telegram.me`` URL of one post, ``t.me/s/…`` included) and ``channel`` (a link to the channel
only, e.g. a "Join us on Telegram" footer — a mention, never a post citation).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import lxml.html
from lxml import etree

from storage.models import post_url

RefKind = Literal["link", "embed", "channel"]

#: t.me paths that are not channels (invites, sharing, stickers, Instant View, proxies, …)
_NOT_CHANNELS = frozenset({
    "joinchat", "share", "addstickers", "addemoji", "addtheme", "addlist", "iv", "proxy", "socks",
    "login", "setlanguage", "confirmphone", "contact", "invoice", "boost", "giftcode", "bg", "apps",
    "blog", "faq", "privacy", "premium", "stickers", "dl", "web", "api", "k", "z", "a", "c", "s",
    "telegram", "durovsgram", "translations", "multibuy", "nft", "stars", "addpack", "socks5",
})

_USERNAME = r"[A-Za-z][A-Za-z0-9_]{3,31}"
# scheme optional: footers often print a bare "t.me/name"; "//t.me" for protocol-relative embeds
_URL = re.compile(
    r"(?<![\w.@/-])(?:https?:)?(?://)?(?:www\.)?(?:t|telegram)\.(?:me|dog)/"
    rf"(?:s/)?(?P<channel>{_USERNAME})(?![A-Za-z0-9_])"
    r"(?:/(?P<id>\d{1,12})(?!\d))?(?P<query>\?[^\s\"'<>]*)?",
    re.IGNORECASE,
)
_DATA_POST = re.compile(rf"^\s*(?P<channel>{_USERNAME})/(?P<id>\d{{1,12}})\s*$")


@dataclass(frozen=True)
class TelegramRef:
    kind: RefKind
    channel: str
    message_id: int | None
    url: str


def _parse(url: str) -> tuple[str, int | None, bool] | None:
    """(channel, message_id, is_embed) for a t.me URL of a channel or post; None for other paths."""
    m = _URL.search(url)
    if not m or m.group("channel").lower() in _NOT_CHANNELS:
        return None
    mid = int(m.group("id")) if m.group("id") else None
    embed = bool(m.group("query") and re.search(r"(?:^|[?&])embed=", m.group("query")))
    return m.group("channel"), mid, embed and mid is not None


def _make(kind: RefKind, channel: str, mid: int | None) -> TelegramRef:
    url = post_url(channel, mid) if mid is not None else f"https://t.me/{channel}"
    return TelegramRef(kind, channel, mid, url)


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
        if data and (m := _DATA_POST.match(data)) and m.group("channel").lower() not in _NOT_CHANNELS:
            out.append(_make("embed", m.group("channel"), int(m.group("id"))))
        tag = el.tag.lower()
        if tag == "blockquote" and "telegram-post" in (el.get("class") or "").split():
            for a in el.iter("a"):
                hit = _parse(a.get("href") or "")
                if hit and hit[1] is not None:
                    out.append(_make("embed", hit[0], hit[1]))
                    break
        elif tag == "iframe":
            hit = _parse(el.get("src") or el.get("data-src") or "")
            if hit and hit[1] is not None:
                out.append(_make("embed", hit[0], hit[1]))
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
    found: list[TelegramRef] = _embeds(html)
    for m in _URL.finditer(text):
        hit = _parse(m.group(0))
        if hit is None:
            continue
        channel, mid, embed = hit
        if mid is None:
            found.append(_make("channel", channel, None))
        else:
            found.append(_make("embed" if embed else "link", channel, mid))
    rank = {"embed": 0, "link": 1, "channel": 2}
    best: dict[tuple[str, int | None], TelegramRef] = {}
    order: list[tuple[str, int | None]] = []
    for ref in found:
        key = (ref.channel.lower(), ref.message_id)
        if key not in best:
            order.append(key)
            best[key] = ref
        elif rank[ref.kind] < rank[best[key].kind]:
            best[key] = ref
    return [best[k] for k in order]
