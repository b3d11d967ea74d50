"""Telethon ``Message`` → ``storage.models.Post``: the one place that knows Telegram's shapes.

Pure: values in, values out. Media is described (kind, file name, size, mime), never downloaded.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from typing import Any

from telethon import helpers
from telethon.tl import types

from storage.models import Post

# Bare URLs in text that Telegram did not mark as entities (and the web preview's plain text).
_URL = re.compile(r"""(?:https?://|www\.|t\.me/)[^\s<>"'«»]+""", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\"»…"


def normalize_url(url: str) -> str:
    u = url.strip().rstrip(_TRAILING)
    if not re.match(r"^[a-z][a-z0-9+.-]*://", u, re.IGNORECASE):
        u = "https://" + u
    return u


def text_links(text: str) -> list[str]:
    """Every URL-looking run in ``text``, normalised to have a scheme."""
    return [normalize_url(m.group(0)) for m in _URL.finditer(text or "")]


def unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))


def entity_links(text: str, entities: list[Any] | None) -> list[str]:
    """URLs from ``MessageEntityTextUrl`` (hidden behind words) and ``MessageEntityUrl`` spans.

    Offsets count UTF-16 code units, hence the surrogate dance.
    """
    out: list[str] = []
    wide = helpers.add_surrogate(text or "")
    for e in entities or []:
        if isinstance(e, types.MessageEntityTextUrl):
            out.append(normalize_url(e.url))
        elif isinstance(e, types.MessageEntityUrl):
            out.append(normalize_url(helpers.del_surrogate(wide[e.offset:e.offset + e.length])))
    return out


def jsonable(v: Any) -> Any:
    """``to_dict()`` output made JSON-safe: datetimes as ISO text, bytes as base64."""
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [jsonable(x) for x in v]
    if isinstance(v, datetime):
        return (v if v.tzinfo else v.replace(tzinfo=UTC)).isoformat()
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    if v is None or isinstance(v, str | int | float | bool):
        return v
    return str(v)


def _photo_size(photo: Any) -> int | None:
    best = None
    for s in getattr(photo, "sizes", None) or []:
        size = getattr(s, "size", None)
        if size is None and isinstance(s, types.PhotoSizeProgressive) and s.sizes:
            size = max(s.sizes)
        if isinstance(size, int) and (best is None or size > best):
            best = size
    return best


def _document_kind(media: types.MessageMediaDocument, doc: types.Document) -> str:
    attrs = doc.attributes or []
    if any(isinstance(a, types.DocumentAttributeSticker) for a in attrs):
        return "sticker"
    if any(isinstance(a, types.DocumentAttributeAnimated) for a in attrs):
        return "gif"
    if media.voice or any(isinstance(a, types.DocumentAttributeAudio) and a.voice for a in attrs):
        return "voice"
    if media.round or media.video or any(isinstance(a, types.DocumentAttributeVideo) for a in attrs):
        return "video"
    if any(isinstance(a, types.DocumentAttributeAudio) for a in attrs):
        return "audio"
    if (doc.mime_type or "").startswith("image/"):
        return "image"
    return "document"


def describe_media(media: Any) -> tuple[str | None, dict[str, Any] | None, list[str]]:
    """(kind, metadata, links) of a message's media; (None, None, []) for none."""
    if media is None or isinstance(media, types.MessageMediaEmpty):
        return None, None, []
    if isinstance(media, types.MessageMediaPhoto):
        photo = media.photo
        meta: dict[str, Any] = {"kind": "photo"}
        if isinstance(photo, types.Photo):
            meta.update(id=photo.id, size=_photo_size(photo), mime_type="image/jpeg")
        return "photo", meta, []
    if isinstance(media, types.MessageMediaDocument):
        doc = media.document
        if not isinstance(doc, types.Document):
            return "document", {"kind": "document"}, []
        kind = _document_kind(media, doc)
        meta = {"kind": kind, "id": doc.id, "size": doc.size, "mime_type": doc.mime_type}
        for a in doc.attributes or []:
            if isinstance(a, types.DocumentAttributeFilename):
                meta["file_name"] = a.file_name
            elif isinstance(a, types.DocumentAttributeVideo | types.DocumentAttributeAudio):
                meta["duration"] = a.duration
        return kind, meta, []
    if isinstance(media, types.MessageMediaWebPage):
        page = media.webpage
        url = getattr(page, "url", None)
        meta = {"kind": "webpage", "url": url, "site_name": getattr(page, "site_name", None),
                "title": getattr(page, "title", None)}
        return "webpage", meta, [normalize_url(url)] if url else []
    if isinstance(media, types.MessageMediaPoll):
        question = media.poll.question
        q = getattr(question, "text", question)
        return "poll", {"kind": "poll", "question": q if isinstance(q, str) else str(q)}, []
    if isinstance(media, types.MessageMediaGeo | types.MessageMediaGeoLive | types.MessageMediaVenue):
        geo = media.geo
        meta = {"kind": "geo", "lat": getattr(geo, "lat", None), "long": getattr(geo, "long", None)}
        return "geo", meta, []
    if isinstance(media, types.MessageMediaContact):
        return "contact", {"kind": "contact"}, []
    name = type(media).__name__.removeprefix("MessageMedia").lower() or "other"
    return name, {"kind": name}, []


def _fwd_from(message: Any) -> dict[str, Any] | None:
    fwd = getattr(message, "fwd_from", None)
    if fwd is None:
        return None
    out: dict[str, Any] = {"date": jsonable(fwd.date)}
    src = fwd.from_id
    if isinstance(src, types.PeerChannel):
        out["channel_id"] = src.channel_id
    elif isinstance(src, types.PeerUser):
        out["user_id"] = src.user_id
    elif isinstance(src, types.PeerChat):
        out["chat_id"] = src.chat_id
    if fwd.channel_post:
        out["message_id"] = fwd.channel_post
    if fwd.from_name:
        out["from_name"] = fwd.from_name
    if fwd.post_author:
        out["post_author"] = fwd.post_author
    # Telethon attaches the source chat when the answer carried it: keep its public name
    chat = getattr(getattr(message, "forward", None), "chat", None)
    username = getattr(chat, "username", None)
    if username:
        out["channel"] = username
        if fwd.channel_post:
            out["url"] = f"https://t.me/{username}/{fwd.channel_post}"
    return out


def _reply_to(message: Any) -> int | None:
    header = getattr(message, "reply_to", None)
    return getattr(header, "reply_to_msg_id", None) if header is not None else None


def message_to_post(message: Any, channel: str, *, source: str = "telethon") -> Post:
    """One channel message as a ``Post`` for ``channel`` (its username)."""
    text = message.message or ""
    kind, meta, media_links = describe_media(message.media)
    links = unique(entity_links(text, message.entities) + text_links(text) + media_links)
    raw = jsonable(message.to_dict())
    return Post(
        channel=channel,
        message_id=message.id,
        date=message.date,
        text=text,
        views=message.views,
        forwards=message.forwards,
        reply_to=_reply_to(message),
        grouped_id=message.grouped_id,
        fwd_from=_fwd_from(message),
        media_kind=kind,
        media=meta,
        links=links,
        edit_date=message.edit_date,
        raw=raw,
        source=source,
    )


def is_content(message: Any) -> bool:
    """Real posts only: service messages (pinned, title changed) and empties are skipped."""
    return isinstance(message, types.Message)
