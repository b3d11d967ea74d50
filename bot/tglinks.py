"""Telegram links: the one parser for every ``t.me`` URL form and the one reference type.

Pure (no Telethon, no httpx, no I/O) so that config, news, citation detection and alerts all read
links the same way. Accepted hosts: ``t.me``, ``telegram.me``, ``telegram.dog``, optionally with
``www.``; with or without a scheme (``https://``, ``http://``, protocol-relative ``//``). ``/s/``
(the web preview) is the same channel. Paths that are not channels (``joinchat``, ``+invite``,
``c/<id>`` private links, ``share``, ``addstickers``, ``iv``, …) are no channel reference.
A reference stored in the database (``Article.tg_refs``) is the JSON dict
``{kind, channel, message_id, url}``: ``TelegramRef.to_json`` / ``TelegramRef.from_json`` are the one
conversion.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from storage.models import post_url

RefKind = Literal["link", "embed", "channel"]

#: a public username as Telegram allows it (the pattern text, for building larger patterns)
USERNAME_PATTERN = r"[A-Za-z][A-Za-z0-9_]{3,31}"
#: a whole string that is a public username
USERNAME = re.compile(rf"{USERNAME_PATTERN}\Z")

#: ``t.me`` paths that are not channels (invites, sharing, stickers, Instant View, proxies, …)
NOT_CHANNEL_PATHS = frozenset({
    "joinchat", "share", "addstickers", "addemoji", "addtheme", "addlist", "iv", "proxy", "socks",
    "login", "setlanguage", "confirmphone", "contact", "invoice", "boost", "giftcode", "bg", "apps",
    "blog", "faq", "privacy", "premium", "stickers", "dl", "web", "api", "k", "z", "a", "c", "s",
    "telegram", "durovsgram", "translations", "multibuy", "nft", "stars", "addpack", "socks5",
})

#: the part of a Telegram URL before the channel name (scheme optional: footers often print a bare
#: "t.me/name"; "//t.me" for protocol-relative embeds)
LINK_PREFIX_PATTERN = r"(?:https?:)?(?://)?(?:www\.)?(?:t|telegram)\.(?:me|dog)/(?:s/)?"
#: a Telegram link at the start of a string
LINK_PREFIX = re.compile(LINK_PREFIX_PATTERN, re.IGNORECASE)
#: a link to a channel or one of its posts, anywhere in text or HTML (not inside another word or URL)
TELEGRAM_URL = re.compile(
    rf"(?<![\w.@/-]){LINK_PREFIX_PATTERN}(?P<channel>{USERNAME_PATTERN})(?![A-Za-z0-9_])"
    r"(?:/(?P<id>\d{1,12})(?!\d))?(?P<query>\?[^\s\"'<>]*)?",
    re.IGNORECASE,
)
#: every Telegram link contains one of these (same case rule): a cheap scan before the full pattern
TELEGRAM_URL_HINT = re.compile(r"\.(?:me|dog)/", re.IGNORECASE)
#: the ``embed=`` parameter Telegram's post widget puts in an iframe's URL
EMBED_QUERY = re.compile(r"(?:^|[?&])embed=")


def channel_link(channel: str) -> str:
    """The canonical URL of a channel."""
    return f"https://t.me/{channel}"


@dataclass(frozen=True)
class TelegramRef:
    """An explicit reference to a Telegram channel (``message_id`` None) or to one of its posts."""

    kind: RefKind
    channel: str
    message_id: int | None
    url: str = ""

    @classmethod
    def of(cls, kind: RefKind, channel: str, message_id: int | None) -> TelegramRef:
        """A reference with its canonical URL."""
        url = post_url(channel, message_id) if message_id is not None else channel_link(channel)
        return cls(kind, channel, message_id, url)

    def to_json(self) -> dict[str, Any]:
        """The stored form (``Article.tg_refs``): ``{kind, channel, message_id, url}``."""
        return {"kind": self.kind, "channel": self.channel, "message_id": self.message_id,
                "url": self.url}

    @classmethod
    def from_json(cls, obj: TelegramRef | Mapping[str, Any]) -> TelegramRef | None:
        """A stored dict (or a ref, unchanged) as a ref; None when it names no channel."""
        if isinstance(obj, TelegramRef):
            return obj
        channel = obj.get("channel")
        if not channel or not isinstance(channel, str):
            return None
        mid = obj.get("message_id")
        try:
            mid = int(mid) if mid is not None else None
        except (TypeError, ValueError):
            mid = None
        kind = obj.get("kind")
        return cls(kind if kind in ("link", "embed", "channel") else "link", channel, mid,
                   str(obj.get("url") or ""))


def refs_from_json(items: Iterable[TelegramRef | Mapping[str, Any]]) -> list[TelegramRef]:
    """Stored dicts (or refs) as refs, unusable entries dropped."""
    return [r for r in (TelegramRef.from_json(x) for x in items) if r is not None]


def refs_to_json(refs: Iterable[TelegramRef]) -> list[dict[str, Any]]:
    """Refs in their stored form."""
    return [r.to_json() for r in refs]


class TelegramLink(NamedTuple):
    channel: str
    message_id: int | None
    embed: bool  # an embed widget's URL (``?embed=1``) of one post


def _link(m: re.Match[str]) -> TelegramLink | None:
    if m.group("channel").lower() in NOT_CHANNEL_PATHS:
        return None
    mid = int(m.group("id")) if m.group("id") else None
    embed = bool(m.group("query") and EMBED_QUERY.search(m.group("query")))
    return TelegramLink(m.group("channel"), mid, embed and mid is not None)


def parse_link(url: str) -> TelegramLink | None:
    """The first Telegram link in ``url``; None when there is none or it is no channel's."""
    m = TELEGRAM_URL.search(url)
    return _link(m) if m else None


def parse_post_link(url: str) -> tuple[str, int] | None:
    """(channel, message_id) of a link to one post; None for anything else."""
    link = parse_link(url)
    return (link.channel, link.message_id) if link and link.message_id is not None else None


def find_links(text: str) -> Iterator[TelegramRef]:
    """Every Telegram link in ``text`` in order: ``embed``, ``link`` (a post) or ``channel``."""
    if not TELEGRAM_URL_HINT.search(text):
        return  # a cheap scan first: the full pattern is tried at every position
    for m in TELEGRAM_URL.finditer(text):
        link = _link(m)
        if link is None:
            continue
        if link.message_id is None:
            yield TelegramRef.of("channel", link.channel, None)
        else:
            yield TelegramRef.of("embed" if link.embed else "link", link.channel, link.message_id)


def strip_link_prefix(s: str) -> str:
    """``https://t.me/s/name/1`` → ``name/1``; text without a Telegram link prefix is unchanged."""
    m = LINK_PREFIX.match(s)
    return s[m.end():] if m else s


def normalize_username(raw: str) -> str:
    """``name``, ``@name``, ``t.me/name`` or ``https://t.me/s/name`` → ``name``; ValueError otherwise."""
    s = strip_link_prefix(raw.strip())
    s = s.lstrip("@").split("/")[0].split("?")[0]
    if not USERNAME.match(s):
        raise ValueError(f"{raw!r} is not a public channel username")
    return s
