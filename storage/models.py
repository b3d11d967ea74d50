"""Typed records that cross the storage boundary. ``bot/`` builds these at its edges."""

from __future__ import annotations

import json
import sqlite3
import types
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from functools import cache
from typing import Any, Required, TypedDict, TypeVar, Union, get_args, get_origin, get_type_hints

T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_iso(dt: datetime | None) -> str | None:
    """One text form for every stored time, so that string order is time order."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat(timespec="seconds")


def from_iso(s: str | None) -> datetime | None:
    if not s:
        return None
    dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _json_list(v: str | None) -> list[Any]:
    return json.loads(v or "[]")


def _json_or_none(v: str | None) -> Any:
    return json.loads(v) if v else None


def _decoder(tp: Any) -> Callable[[Any], Any] | None:
    """How a column's stored form becomes a field of type ``tp``: times are ISO text, booleans are
    0/1, lists and dicts are JSON; anything else is stored as it is."""
    args = get_args(tp) if get_origin(tp) in (Union, types.UnionType) else (tp,)
    base = next(a for a in args if a is not type(None))
    kind = get_origin(base) or base
    return {datetime: from_iso, bool: bool, list: _json_list, dict: _json_or_none}.get(kind)


@cache
def _columns(cls: type) -> tuple[tuple[str, Callable[[Any], Any] | None], ...]:
    hints = get_type_hints(cls)
    return tuple((f.name, _decoder(hints[f.name])) for f in fields(cls))


def from_row(cls: type[T], r: sqlite3.Row, **given: Any) -> T:
    """A record of dataclass ``cls`` from a row: one rule for every table instead of one hand-written
    mapping per record. Fields without a column keep their default; ``given`` wins over columns."""
    keys = set(r.keys())
    values = dict(given)
    for name, decode in _columns(cls):
        if name in keys and name not in values:
            v = r[name]
            values[name] = decode(v) if decode else v
    return cls(**values)


def post_url(channel: str, message_id: int) -> str:
    return f"https://t.me/{channel}/{message_id}"


@dataclass
class Channel:
    username: str
    id: int | None = None
    tg_id: int | None = None
    access_hash: int | None = None
    title: str | None = None
    last_message_id: int = 0
    joined: bool = False
    active: bool = True
    aliases: list[str] = field(default_factory=list)
    added_at: datetime | None = None
    resolved_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    paused_until: datetime | None = None
    error_count: int = 0  # errors in a row since the last success
    post_count: int = 0
    #: the channel's description, as resolved (aliases are derived from it and the title)
    about: str | None = None
    #: names removed with ``channels alias remove`` (hides a default or a title name too)
    aliases_removed: list[str] = field(default_factory=list)
    #: came from an import and never watched: searchable, not polled (``active`` is False)
    archived: bool = False

    @property
    def state(self) -> str:
        """watched (polled), archived (imported, never watched) or removed (watched once)."""
        return "watched" if self.active else "archived" if self.archived else "removed"


@dataclass(frozen=True)
class ChannelNames:
    """What a channel's press names are derived from (``bot.cite.aliases.effective``)."""

    aliases: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    title: str | None = None
    about: str | None = None


@dataclass
class Post:
    """A channel message as we keep it. ``channel`` is the username."""

    channel: str
    message_id: int
    date: datetime
    text: str = ""
    views: int | None = None
    forwards: int | None = None
    reply_to: int | None = None
    grouped_id: int | None = None
    fwd_from: dict[str, Any] | None = None
    media_kind: str | None = None
    media: dict[str, Any] | None = None
    links: list[str] = field(default_factory=list)
    edit_date: datetime | None = None
    raw: dict[str, Any] | None = None
    source: str = "import"
    lang: str | None = None
    # filled when read back
    id: int | None = None
    deleted_at: datetime | None = None
    translation: str | None = None
    translation_lang: str | None = None
    # earlier texts: filled by export reads and by imports of our own export
    versions: list[PostVersion] = field(default_factory=list)

    @property
    def url(self) -> str:
        return post_url(self.channel, self.message_id)


@dataclass(slots=True)
class CandidateText:
    """What the citation detector compares of a stored post (``storage.candidates``): its text and
    latest translation, read without parsing the post's JSON columns. Not frozen: ~50 are built
    per article, and a frozen dataclass is four times slower to build. ``words`` and
    ``translation_words`` are the stored normal forms of each text's words (``posts.words``,
    ``translations.words``): the detector builds its stem sets from them instead of lemmatising
    every candidate again."""

    post_id: int
    channel: str
    message_id: int
    date: datetime
    text: str | None
    translation: str | None
    words: str | None = None
    translation_words: str | None = None


@dataclass
class PostVersion:
    text: str
    edit_date: datetime | None
    replaced_at: datetime
    translation: str | None = None


@dataclass
class Translation:
    post_id: int
    lang: str
    provider: str
    text: str
    source_lang: str | None = None
    created_at: datetime | None = None
    #: what made it: model version (``translate-uk_en@1.9``; None when the service does not say)
    model: str | None = None
    #: version of the glossary applied (``glossary@<hash>``), None when none was
    glossary: str | None = None


@dataclass
class UpsertResult:
    inserted: int = 0
    edited: int = 0
    unchanged: int = 0

    def __iadd__(self, other: UpsertResult) -> UpsertResult:
        self.inserted += other.inserted
        self.edited += other.edited
        self.unchanged += other.unchanged
        return self


@dataclass
class SearchHit:
    """One search result. Snippets mark matches with HL_START/HL_END for the caller to render."""

    post_id: int
    channel: str
    message_id: int
    date: datetime
    score: float
    text_snippet: str
    translation_snippet: str
    deleted: bool = False
    #: the search was capped (``storage.search.Found``): other matches may exist
    capped: bool = False

    @property
    def url(self) -> str:
        return post_url(self.channel, self.message_id)


HL_START = "\x02"
HL_END = "\x03"


@dataclass
class Feed:
    url: str
    id: int | None = None
    title: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    interval: int | None = None
    next_poll_at: datetime | None = None
    error_count: int = 0
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    added_at: datetime | None = None
    kind: str | None = None  # "rss", "atom", "sitemap", "gdelt" once polled
    discovered_for: str | None = None  # the channel whose DISCOVER=auto query this is
    covered_at: datetime | None = None  # the last poll that left no entry over (fetch caps)


@dataclass
class Article:
    url: str
    canonical_url: str | None = None
    id: int | None = None
    feed_id: int | None = None
    entry_id: str | None = None
    title: str | None = None
    author: str | None = None
    outlet: str | None = None
    published: datetime | None = None
    lang: str | None = None
    text: str = ""
    tg_refs: list[dict[str, Any]] = field(default_factory=list)
    status: str = "new"
    error: str | None = None
    fetched_at: datetime | None = None
    checked_at: datetime | None = None
    story_id: int | None = None  # the first stored copy's id (storage/stories.py)


class Evidence(TypedDict, total=False):
    """One reason the detector gives for a citation, stored as JSON in ``citations.evidence`` (a
    dict, so the stored shape is exactly these keys). Always ``kind``, ``text`` (words for humans)
    and ``weight``; the rest depends on the kind."""

    kind: Required[str]  # "link" | "embed" | "quote" | "mention" | "shared" | "time" | "guard"
    text: Required[str]
    weight: Required[float]
    url: str  # link, embed
    containment: float  # quote: share of the post's words the article matches
    passage_match: float
    article_passage: str
    post_passage: str
    against: str  # "translation" | "original"
    passages: int  # quote: article sentences that match the post, added up
    span: str  # quote: the best of the article's quoted spans found in the post
    spans: list[dict[str, Any]]  # quote: every span found: span, post_passage, match
    distinctive: bool  # quote: a long quoted span found nearly word for word
    name: str  # mention: the name or username found, and what made it a Telegram mention
    cue: str
    on: list[str]  # mention: the day(s) the article says the post was published ("02-11")
    numbers: list[str]  # shared facts
    dates: list[str]
    names: list[str]
    units: list[str]  # shared: numbers with their unit word ("12 occupi")
    keys: list[str]  # shared: names met across scripts, by their transliteration keys
    guard: str  # guard: what held the score back ("no-attribution" | "thin" | "relay")
    hours: float  # time: hours from the post to the article


@dataclass
class Citation:
    article_id: int
    post_id: int
    score: float
    evidence: list[Evidence] = field(default_factory=list)
    id: int | None = None
    created_at: datetime | None = None
    # joined in when read back
    channel: str | None = None
    message_id: int | None = None
    article_url: str | None = None
    article_title: str | None = None


@dataclass
class Alert:
    citation_id: int
    chat: str
    id: int | None = None
    status: str = "pending"
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    message_id: int | None = None
    created_at: datetime | None = None
    sent_at: datetime | None = None
    article_id: int | None = None
