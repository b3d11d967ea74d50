"""Parse Telegram's public web preview (``https://t.me/s/<channel>``) into ``Post`` records.

Pure: HTML in, values out. The markup is Telegram's widget HTML: one
``div.tgme_widget_message[data-post="chan/ID"]`` per message, text in ``.tgme_widget_message_text``,
time in ``time[datetime]``, views like "1.2K" in ``.tgme_widget_message_views``. An album is one
widget holding several ``?single`` media links; each becomes a post sharing one ``grouped_id``, as
Telethon gives them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import lxml.html
from lxml.html import HtmlElement

from bot.telegram.convert import normalize_url, text_links, unique
from bot.tglinks import parse_post_link
from storage.models import Post

_MEDIA = (  # class fragment → media kind, first match wins
    ("tgme_widget_message_sticker", "sticker"),
    ("tgme_widget_message_roundvideo", "video"),
    ("tgme_widget_message_video", "video"),
    ("tgme_widget_message_voice", "voice"),
    ("tgme_widget_message_document", "document"),
    ("tgme_widget_message_poll", "poll"),
    ("tgme_widget_message_location", "geo"),
    ("tgme_widget_message_photo", "photo"),
)


@dataclass
class PreviewPage:
    """One page of the preview: the channel's title and its posts, oldest first."""

    title: str | None = None
    username: str | None = None
    posts: list[Post] = field(default_factory=list)
    #: the channel's description (press names are derived from it and the title)
    about: str | None = None

    @property
    def min_id(self) -> int | None:
        return min((p.message_id for p in self.posts), default=None)

    @property
    def is_channel(self) -> bool:
        return self.title is not None


def parse_count(text: str | None) -> int | None:
    """'950' → 950, '1.2K' → 1200, '3M' → 3000000 (the preview rounds large counts)."""
    if not text:
        return None
    s = text.strip().replace(",", "").replace("\u00a0", "").upper()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([KMB]?)", s)
    if not m:
        return None
    mult = {"": 1, "K": 1_000, "M": 1_000_000, "B": 1_000_000_000}[m.group(2)]
    return round(float(m.group(1)) * mult)


def _classes(el: HtmlElement) -> list[str]:
    return (el.get("class") or "").split()


def _find(el: HtmlElement, cls: str) -> list[HtmlElement]:
    return el.xpath(f".//*[contains(concat(' ', normalize-space(@class), ' '), ' {cls} ')]")


def _first(el: HtmlElement, cls: str) -> HtmlElement | None:
    found = _find(el, cls)
    return found[0] if found else None


def _text(el: HtmlElement) -> str:
    """Visible text with ``<br>`` as newlines (emoji images keep their character)."""
    for br in el.iter("br"):
        br.tail = "\n" + (br.tail or "")
    return (el.text_content() or "").strip()


def _href_links(el: HtmlElement | None) -> list[str]:
    if el is None:
        return []
    out = []
    for a in el.iter("a"):
        href = (a.get("href") or "").strip()
        if href.lower().startswith(("http://", "https://")):
            out.append(normalize_url(href))
    return out


def _post_ref(href: str | None) -> tuple[str, int] | None:
    return parse_post_link(href or "")


def _parse_time(msg: HtmlElement) -> datetime | None:
    for t in msg.iter("time"):
        value = t.get("datetime")
        if value:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    return None


def _media(msg: HtmlElement) -> tuple[str | None, dict[str, Any] | None]:
    for cls, kind in _MEDIA:
        el = _first(msg, cls)
        if el is None:
            continue
        meta: dict[str, Any] = {"kind": kind}
        if kind == "document":
            title = _first(msg, "tgme_widget_message_document_title")
            extra = _first(msg, "tgme_widget_message_document_extra")
            if title is not None:
                meta["file_name"] = _text(title)
            if extra is not None:
                meta["size_text"] = _text(extra)
        return kind, meta
    return None, None


def _album(msg: HtmlElement) -> list[tuple[int, str]]:
    """(message id, kind) of each item of an album, in order; [] when not an album."""
    wrap = _first(msg, "tgme_widget_message_grouped_wrap")
    if wrap is None:
        return []
    items = []
    for a in wrap.iter("a"):
        ref = _post_ref(a.get("href"))
        if ref is None:
            continue
        kind = "video" if any("video" in c for c in _classes(a)) else "photo"
        items.append((ref[1], kind))
    return items


def parse_message(msg: HtmlElement, channel: str) -> list[Post]:
    """The post(s) of one widget message; [] for service messages or unreadable markup."""
    if "service_message" in _classes(msg):
        return []
    ref = _post_ref("t.me/" + (msg.get("data-post") or ""))
    date = _parse_time(msg)
    if ref is None or date is None:
        return []
    mid = ref[1]
    text_el = _first(msg, "tgme_widget_message_text")
    text = _text(text_el) if text_el is not None else ""
    preview = _first(msg, "tgme_widget_message_link_preview")
    links = unique(_href_links(text_el) + text_links(text)
                   + ([normalize_url(preview.get("href"))] if preview is not None
                      and preview.get("href") else []))
    views_el = _first(msg, "tgme_widget_message_views")
    meta_el = _first(msg, "tgme_widget_message_meta")
    edited = _first(msg, "tgme_widget_message_edited") is not None or (
        meta_el is not None and "edited" in (meta_el.text_content() or "").lower())
    reply = _first(msg, "tgme_widget_message_reply")
    reply_ref = _post_ref(reply.get("href")) if reply is not None else None
    fwd_el = _first(msg, "tgme_widget_message_forwarded_from_name")
    fwd = None
    if fwd_el is not None:
        fwd = {"from_name": _text(fwd_el)}
        fref = _post_ref(fwd_el.get("href"))
        if fref is not None:
            fwd.update(channel=fref[0], message_id=fref[1],
                       url=f"https://t.me/{fref[0]}/{fref[1]}")
    album = _album(msg)
    kind, media = ("album", {"kind": "album", "items": [i for i, _ in album]}) if album \
        else _media(msg)
    if preview is not None and kind is None:
        kind, media = "webpage", {"kind": "webpage", "url": preview.get("href")}
    main = Post(
        channel=channel, message_id=mid, date=date, text=text,
        views=parse_count(views_el.text_content() if views_el is not None else None),
        reply_to=reply_ref[1] if reply_ref else None, fwd_from=fwd, media_kind=kind,
        media=media, links=links, source="web",
        raw={"data_post": msg.get("data-post"), "edited": edited},
    )
    if not album:
        return [main]
    group = min(i for i, _ in album)
    main.grouped_id = group
    out = [main]
    for item_id, item_kind in album:
        if item_id != mid:
            out.append(Post(channel=channel, message_id=item_id, date=date, grouped_id=group,
                            media_kind=item_kind, media={"kind": item_kind}, source="web",
                            views=main.views, raw={"album_of": mid}))
    return out


def parse_page(html: str | bytes, channel: str) -> PreviewPage:
    """A whole ``t.me/s/<channel>`` page. Posts are attributed to ``channel`` (our spelling)."""
    if isinstance(html, bytes):
        html = html.decode("utf-8", errors="replace")
    if not html.strip():
        return PreviewPage()
    doc = lxml.html.fromstring(html)
    page = PreviewPage()
    info = _first(doc, "tgme_channel_info")
    if info is not None:
        title = _first(info, "tgme_channel_info_header_title")
        page.title = _text(title) if title is not None else channel
        uname = _first(info, "tgme_channel_info_header_username")
        if uname is not None:
            page.username = _text(uname).lstrip("@") or None
        about = _first(info, "tgme_channel_info_description")
        if about is not None:
            page.about = _text(about) or None
    posts: dict[int, Post] = {}
    for msg in _find(doc, "tgme_widget_message"):
        if msg.get("data-post") is None:
            continue
        for p in parse_message(msg, channel):
            posts.setdefault(p.message_id, p)
    page.posts = sorted(posts.values(), key=lambda p: p.message_id)
    return page
