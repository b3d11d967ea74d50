"""The citewatch archive format, both directions: what ``citewatch export`` writes and what
``citewatch import`` reads (our JSON Lines and CSV, and Telegram Desktop's ``result.json``).

Parsing a record and building an export record are pure functions; the readers (``iter_*``,
``detect_format``) open the file they are given, and ``import_records`` stores parsed records.
Files are read line by line / object by object so a malformed record is reported with its line
number and skipped while the rest is imported. Export → import keeps every field, history included.
"""

from __future__ import annotations

import asyncio
import csv
import json
import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from bot.tglinks import normalize_username
from storage import channels as channels_repo
from storage import posts as posts_repo
from storage import search_index, words_ahead
from storage import translations as tr_repo
from storage.db import Database
from storage.models import Post, PostVersion, Translation, UpsertResult

#: an http(s) URL written in a post's text
_HTTP_URL = re.compile(r"https?://[^\s<>\"')\]]+", re.IGNORECASE)
_INT64_MAX = 2**63 - 1
#: what a parser may raise for one bad record (an out-of-range timestamp raises OverflowError/OSError)
RECORD_ERRORS = (ValueError, TypeError, OverflowError, OSError)
#: Telegram Desktop's media_type → our Post.media_kind
_EXPORT_MEDIA_KINDS = {
    "photo": "photo",
    "video_file": "video",
    "animation": "animation",
    "voice_message": "voice",
    "audio_file": "audio",
    "sticker": "sticker",
    "video_message": "round_video",
}
#: the columns ``citewatch export --format csv`` writes, in order (import reads them back)
CSV_COLUMNS = ["channel", "id", "date", "text", "translation", "translation_lang", "views",
               "forwards", "reply_to", "grouped_id", "media_kind", "edit_date", "deleted_at",
               "lang", "links", "versions"]
#: CSV columns holding integers
_CSV_INT_COLUMNS = ("id", "views", "forwards", "reply_to", "grouped_id")
#: CSV columns holding JSON lists
_CSV_JSON_COLUMNS = ("links", "versions")
#: the largest CSV field the import reads (a post's text with its history can exceed csv's 128 KiB)
CSV_FIELD_LIMIT = 2**31 - 1


@dataclass
class ImportRecord:
    post: Post
    translation: str | None = None
    translation_lang: str | None = None
    translation_provider: str = "import"
    #: where the record starts in its file (line, or message number of an export), for reporting
    line: int = 0


@dataclass
class ImportIssue:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def find_links(text: str) -> list[str]:
    seen: dict[str, None] = {}
    for m in _HTTP_URL.finditer(text or ""):
        seen[m.group(0).rstrip(".,;:!?")] = None
    return list(seen)


def parse_date(value: Any) -> datetime:
    """ISO 8601 (naive means UTC) or a unix timestamp."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if not isinstance(value, str) or not value.strip():
        raise ValueError("missing date")
    dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    dt = dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    try:  # stored in UTC: 9999-12-31T23:00-05:00 is a valid ISO time but no UTC one
        dt.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"date out of range: {value.strip()[:40]!r}") from None
    return dt


def flatten_export_text(text: Any) -> tuple[str, list[str]]:
    """Telegram Desktop's ``text`` is a string or a list of strings and entity objects."""
    if isinstance(text, str):
        return text, []
    if not isinstance(text, list):
        raise ValueError("'text' must be a string or a list")
    parts: list[str] = []
    links: list[str] = []
    for piece in text:
        if isinstance(piece, str):
            parts.append(piece)
        elif isinstance(piece, dict):
            parts.append(str(piece.get("text", "")))
            if piece.get("type") == "text_link" and piece.get("href"):
                links.append(str(piece["href"]))
            elif piece.get("type") == "link":
                links.append(str(piece.get("text", "")))
        else:
            raise ValueError("unexpected item in 'text'")
    return "".join(parts), links


def _int_or_none(v: Any, name: str) -> int | None:
    # SQLite stores 64-bit integers: a bigger one would fail the whole batch at insert time
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or not -_INT64_MAX <= v <= _INT64_MAX:
        raise ValueError(f"'{name}' must be an integer")
    return v


def _str_or_none(v: Any, name: str) -> str | None:
    """Optional text fields: anything else would fail the whole batch when bound to SQL."""
    if v is None or v == "":
        return None
    if not isinstance(v, str):
        raise ValueError(f"'{name}' must be a string")
    return v


def _links(v: Any) -> list[str]:
    if v is None or v == "":
        return []
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ValueError("'links' must be a list of strings")
    return v


def _versions(v: Any) -> list[PostVersion]:
    """Earlier texts as our export writes them: ``[{"text", "edit_date", "replaced_at", "translation"}]``."""
    if v is None or v == "":
        return []
    if not isinstance(v, list):
        raise ValueError("'versions' must be a list")
    out = []
    for item in v:
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise ValueError("each of 'versions' needs a 'text' string")
        edit_date = parse_date(item["edit_date"]) if item.get("edit_date") else None
        replaced = item.get("replaced_at")
        translation = item.get("translation")
        if translation is not None and not isinstance(translation, str):
            raise ValueError("a version's 'translation' must be a string")
        out.append(PostVersion(text=item["text"], edit_date=edit_date,
                               replaced_at=parse_date(replaced) if replaced else
                               edit_date or datetime.fromtimestamp(0, UTC),
                               translation=translation or None))
    return out


def parse_jsonl_record(obj: Any, default_channel: str | None) -> ImportRecord:
    if not isinstance(obj, dict):
        raise ValueError("expected a JSON object")
    channel = obj.get("channel") or default_channel
    if not channel:
        raise ValueError("no 'channel' (give --channel)")
    channel = normalize_username(str(channel))
    mid = obj.get("id", obj.get("message_id"))
    if isinstance(mid, bool) or not isinstance(mid, int) or not 0 < mid <= _INT64_MAX:
        raise ValueError("'id' must be a positive integer")
    text = obj.get("text") or ""
    text, entity_links = flatten_export_text(text)
    translation = obj.get("translation")
    if translation is not None and not isinstance(translation, str):
        raise ValueError("'translation' must be a string")
    post = Post(
        channel=channel,
        message_id=mid,
        date=parse_date(obj.get("date")),
        text=text,
        views=_int_or_none(obj.get("views"), "views"),
        forwards=_int_or_none(obj.get("forwards"), "forwards"),
        reply_to=_int_or_none(obj.get("reply_to"), "reply_to"),
        grouped_id=_int_or_none(obj.get("grouped_id"), "grouped_id"),
        media_kind=_str_or_none(obj.get("media_kind"), "media_kind"),
        links=list(dict.fromkeys([*find_links(text), *entity_links, *_links(obj.get("links"))])),
        edit_date=parse_date(obj["edit_date"]) if obj.get("edit_date") else None,
        deleted_at=parse_date(obj["deleted_at"]) if obj.get("deleted_at") else None,
        lang=_str_or_none(obj.get("lang"), "lang"),
        source="import",
        versions=_versions(obj.get("versions")),
    )
    return ImportRecord(
        post=post,
        translation=translation or None,
        translation_lang=(_str_or_none(obj.get("translation_lang"), "translation_lang") or "en")
        if translation
        else None,
        translation_provider=str(obj.get("translation_provider") or "import"),
    )


def iter_jsonl(path: Path, channel: str | None) -> Iterator[ImportRecord | ImportIssue]:
    """Each line decoded on its own: a line that is not UTF-8 is skipped, not stored mangled."""
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8").removeprefix("\ufeff")
            except UnicodeDecodeError as exc:
                yield ImportIssue(lineno, f"not UTF-8 text: {exc.reason} at byte {exc.start}")
                continue
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as exc:
                yield ImportIssue(lineno, f"not valid JSON: {str(exc).splitlines()[0][:200]}")
                continue
            except RecursionError:
                yield ImportIssue(lineno, "not valid JSON: nested too deeply")
                continue
            try:
                rec = parse_jsonl_record(obj, channel)
            except (*RECORD_ERRORS, RecursionError) as exc:
                yield ImportIssue(lineno, _first_line(exc))
                continue
            rec.line = lineno
            yield rec


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or ["bad record"])[0][:200]


def parse_export_message(msg: Any, channel: str) -> ImportRecord | None:
    """One message of a Telegram Desktop export; service messages give None."""
    if not isinstance(msg, dict):
        raise ValueError("expected a message object")
    if msg.get("type", "message") != "message":
        return None
    mid = msg.get("id")
    if isinstance(mid, bool) or not isinstance(mid, int):
        raise ValueError("message without an integer 'id'")
    text, entity_links = flatten_export_text(msg.get("text", ""))
    date_value = msg.get("date_unixtime")
    date = parse_date(int(date_value)) if date_value else parse_date(msg.get("date"))
    media_kind = None
    media: dict[str, Any] | None = None
    if "photo" in msg:
        media_kind = "photo"
        media = {"file": msg.get("photo")}
    elif msg.get("media_type") or msg.get("file"):
        media_kind = _EXPORT_MEDIA_KINDS.get(str(msg.get("media_type")), "document")
        media = {"file": msg.get("file"), "mime_type": msg.get("mime_type"),
                 "size": msg.get("file_size")}
    fwd = {"from": msg["forwarded_from"]} if msg.get("forwarded_from") else None
    edited = msg.get("edited_unixtime") or msg.get("edited")
    return ImportRecord(
        post=Post(
            channel=channel,
            message_id=mid,
            date=date,
            text=text,
            views=_int_or_none(msg.get("views"), "views"),
            forwards=_int_or_none(msg.get("forwards"), "forwards"),
            reply_to=_int_or_none(msg.get("reply_to_message_id"), "reply_to_message_id"),
            fwd_from=fwd,
            media_kind=media_kind,
            media=media,
            links=list(dict.fromkeys([*find_links(text), *entity_links])),
            edit_date=parse_date(int(edited) if str(edited).isdigit() else edited)
            if edited
            else None,
            source="import",
        )
    )


def iter_export(path: Path, channel: str | None) -> Iterator[ImportRecord | ImportIssue]:
    """A Telegram Desktop ``result.json``. Issues carry the message's index as ``line``."""
    with path.open("r", encoding="utf-8") as fh:
        try:
            data = json.load(fh)
        except json.JSONDecodeError as exc:
            yield ImportIssue(exc.lineno, f"not valid JSON: {exc.msg}")
            return
        except UnicodeDecodeError as exc:
            yield ImportIssue(1, f"not UTF-8 text: {exc.reason} at byte {exc.start}")
            return
        except RecursionError:
            yield ImportIssue(1, "not valid JSON: nested too deeply")
            return
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        yield ImportIssue(1, "not a Telegram Desktop export (no 'messages' list)")
        return
    name = channel or data.get("username") or data.get("name")
    try:
        name = normalize_username(str(name)) if name else None
    except ValueError:
        name = None
    if not name:
        yield ImportIssue(1, "the export names no channel username: give --channel")
        return
    for index, msg in enumerate(data["messages"], 1):
        try:
            rec = parse_export_message(msg, name)
        except (*RECORD_ERRORS, RecursionError) as exc:
            yield ImportIssue(index, f"message #{index}: {_first_line(exc)}")
            continue
        if rec is not None:
            rec.line = index
            yield rec


def detect_format(path: Path) -> str:
    """'export' for a result.json, 'csv' for our CSV export, else 'jsonl'.

    The whole first line is parsed (a post can be far longer than any fixed-size head): a JSON Lines
    file's first line is a complete object without 'messages'; a pretty-printed export's is just "{".
    """
    with path.open("rb") as fh:
        first = fh.readline()
        while first and not first.strip():
            first = fh.readline()
    first = first.lstrip(b"\xef\xbb\xbf").strip()
    if first.startswith(b"{"):
        try:
            obj = json.loads(first)
        except ValueError:
            return "export"
        return "export" if isinstance(obj, dict) and "messages" in obj else "jsonl"
    if path.suffix.lower() == ".csv" or first.startswith(b"channel,id,"):
        return "csv"
    return "jsonl"


def csv_row_to_obj(row: dict[str, Any]) -> dict[str, Any]:
    """A CSV row (all text) as the JSON Lines object it stands for: empty means absent."""
    obj: dict[str, Any] = {}
    for k, v in row.items():
        if k is None or v is None or v == "":
            continue
        if k in _CSV_INT_COLUMNS:
            try:
                obj[k] = int(v)
            except ValueError:
                raise ValueError(f"'{k}' must be an integer") from None
        elif k in _CSV_JSON_COLUMNS:
            try:
                obj[k] = json.loads(v)
            except ValueError:
                raise ValueError(f"'{k}' must be a JSON list") from None
        else:
            obj[k] = v
    return obj


def iter_csv(path: Path, channel: str | None) -> Iterator[ImportRecord | ImportIssue]:
    """Our own CSV export read back; issues carry the physical line where the record ends.
    Fields longer than csv's default limit need ``csv.field_size_limit(CSV_FIELD_LIMIT)``, which is
    process-wide: the command that reads sets it."""
    with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "id" not in reader.fieldnames:
            yield ImportIssue(1, "not a citewatch CSV export (no 'id' column)")
            return
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield ImportIssue(reader.line_num, f"bad CSV: {exc}")
                return
            try:
                rec = parse_jsonl_record(csv_row_to_obj(row), channel)
            except RECORD_ERRORS as exc:
                yield ImportIssue(reader.line_num, _first_line(exc))
                continue
            rec.line = reader.line_num
            yield rec


# ---------------------------------------------------------------- export


def export_record(p: Post) -> dict[str, Any]:
    """One stored post (with its translation and earlier texts) as an archive record; None = absent."""
    return {
        "channel": p.channel,
        "id": p.message_id,
        "date": p.date.isoformat(),
        "text": p.text,
        "translation": p.translation,
        "translation_lang": p.translation_lang,
        "views": p.views,
        "forwards": p.forwards,
        "reply_to": p.reply_to,
        "grouped_id": p.grouped_id,
        "media_kind": p.media_kind,
        "edit_date": p.edit_date.isoformat() if p.edit_date else None,
        "deleted_at": p.deleted_at.isoformat() if p.deleted_at else None,
        "lang": p.lang,
        "links": p.links,
        "versions": [
            {k: val for k, val in (
                ("text", v.text),
                ("edit_date", v.edit_date.isoformat() if v.edit_date else None),
                ("replaced_at", v.replaced_at.isoformat()),
                ("translation", v.translation)) if val is not None}
            for v in p.versions
        ] or None,
    }


def jsonl_line(rec: dict[str, Any]) -> str:
    """A record as one JSON Lines line (absent fields left out)."""
    return json.dumps({k: v for k, v in rec.items() if v is not None}, ensure_ascii=False) + "\n"


def csv_row(rec: dict[str, Any]) -> list[Any]:
    """A record as a CSV row in ``CSV_COLUMNS`` order (absent = empty, lists as JSON)."""
    return ["" if rec[k] is None else
            (json.dumps(rec[k], ensure_ascii=False) if k in _CSV_JSON_COLUMNS else rec[k])
            for k in CSV_COLUMNS]


# ---------------------------------------------------------------- import into storage


class Progress(Protocol):
    def update(self, n: int) -> object: ...


#: what storing one record can raise that is the record's fault (a lone surrogate cannot be encoded,
#: a value SQLite refuses); "database is locked" or a full disk (OperationalError) stop the import
#: records per transaction: a crash loses at most the open one, and a re-run stores it again
BATCH = 10_000
STORE_ERRORS = (*RECORD_ERRORS, RecursionError, sqlite3.DataError, sqlite3.IntegrityError,
                sqlite3.InterfaceError, sqlite3.ProgrammingError)


#: index words made beforehand: (post text → words, translation text → words)
Made = tuple[dict[str, str], dict[str, str]]
_NOTHING_MADE: Made = ({}, {})


async def _store_in(conn: Any, batch: list[ImportRecord], watch: bool,
                    made: Made = _NOTHING_MADE) -> UpsertResult:
    """Posts, translations and earlier texts of ``batch`` inside an open transaction. Channels new
    to the database are archives (searchable, never polled) unless ``watch``. ``made``: index
    words made beforehand (``storage.words_ahead``); the rest are made here."""
    names = {r.post.channel for r in batch}
    await channels_repo.ensure_ids(conn, names, archived=not watch)
    if watch:
        await channels_repo.activate_in(conn, names)
    # a translated post is never queued; day ranges widened once per day
    async with tr_repo.queued_by_import(conn), posts_repo.days_by_import(conn):
        result = await _store_posts_in(conn, batch, made)
    await search_index.index_new_in(conn)
    return result


async def _store_posts_in(conn: Any, batch: list[ImportRecord], made: Made) -> UpsertResult:
    """``_store_in``'s posts, earlier texts and translations, not indexed yet."""
    # indexed once each, with the translation that comes along (by the caller)
    result = await posts_repo.upsert_many_in(conn, [r.post for r in batch], index=False,
                                             words=made[0])
    # translations and earlier texts (our own export's) need the posts' row ids: one lookup
    needing = [r for r in batch if r.translation or r.post.versions]
    ids = await posts_repo.ids_for(
        conn, [(r.post.channel, r.post.message_id) for r in needing]) if needing else {}
    if any(r.post.versions for r in needing):  # history survives an export → import trip
        await posts_repo.restore_versions_in(conn, [
            (ids[(r.post.channel.lower(), r.post.message_id)], v)
            for r in needing for v in r.post.versions
        ])
    with_tr = [r for r in needing if r.translation]
    if with_tr:
        await tr_repo.upsert_in(
            conn,
            [
                (
                    Translation(
                        post_id=ids[(r.post.channel.lower(), r.post.message_id)],
                        lang=r.translation_lang or "en",
                        provider=r.translation_provider,
                        text=r.translation or "",
                        source_lang=r.post.lang,
                    ),
                    r.post.text,
                )
                for r in with_tr
            ],
            made[1],
        )
    return result


async def import_records(
    db: Database,
    records: Iterable[ImportRecord | ImportIssue],
    *,
    batch_size: int = BATCH,
    progress: Progress | None = None,
    watch: bool = False,
    words_after: int = words_ahead.START_AFTER,
) -> tuple[UpsertResult, list[ImportIssue]]:
    """Store parsed records in batches, each batch (posts + translations) in one transaction.

    A batch a record cannot be stored in is rolled back and stored record by record, so that one
    record is reported (by its line) and skipped while the rest are kept. New channels are archived
    unless ``watch``. Issues come back in line order.

    An import of more than ``words_after`` records on a host with two cores or more
    starts a worker process that makes the index words of the next batch while this one is written
    (``storage.words_ahead``); until it is ready, and for small imports, they are made here."""
    total = UpsertResult()
    issues: list[ImportIssue] = []

    async def store(recs: list[ImportRecord], made: Made) -> None:
        try:
            async with db.transaction() as conn:
                total.__iadd__(await _store_in(conn, recs, watch, made))
        except STORE_ERRORS:
            for rec in recs:
                try:
                    async with db.transaction() as conn:
                        total.__iadd__(await _store_in(conn, [rec], watch, made))
                except STORE_ERRORS as exc:
                    issues.append(ImportIssue(rec.line, f"cannot be stored: {_first_line(exc)}"))
        if progress is not None:
            progress.update(len(recs))

    batches = _batches(records, batch_size, issues, progress)
    if words_ahead.cores() > 1:
        batches = _tail_halved(batches, max(1, batch_size // TAIL_PARTS))
    ahead: words_ahead.WordsAhead | None = None
    sent = False  # whether the worker is making the words of ``upcoming``
    upcoming = next(batches, None)
    count = 0
    try:
        while upcoming is not None:
            current, upcoming = upcoming, next(batches, None)
            count += len(current)
            made = _NOTHING_MADE
            if sent and ahead is not None:
                made = await asyncio.get_running_loop().run_in_executor(None, ahead.receive)
            sent = False
            if upcoming and (ahead.ready() if ahead else words_ahead.cores() > 1
                             and count + len(upcoming) > words_after):
                texts = await _texts_to_make(db, upcoming)
                if (texts[0] or texts[1]) and ahead is None:
                    ahead = words_ahead.WordsAhead()  # ready in ~0.3 s: waited for, so that
                    # it makes the next batch's words while this one is written
                    await asyncio.get_running_loop().run_in_executor(None, ahead.ready, 10.0)
                if (texts[0] or texts[1]) and ahead is not None and ahead.ready():
                    if made is _NOTHING_MADE and ahead.send(*await _texts_to_make(db, current),
                                                            share=0.5):
                        # the first batch: the worker makes half of its words, this process
                        # the other half
                        made = await asyncio.get_running_loop().run_in_executor(None,
                                                                                ahead.receive)
                    sent = ahead.send(*texts)
            await store(current, made)  # while the worker makes the next batch's words
    finally:
        if ahead is not None:
            ahead.close()
    issues.sort(key=lambda i: i.line)
    return total, issues


def _batches(records: Iterable[ImportRecord | ImportIssue], size: int, issues: list[ImportIssue],
             progress: Progress | None) -> Iterator[list[ImportRecord]]:
    """The records in lists of ``size``; the issues among them go to ``issues`` (and count as
    done for ``progress``)."""
    batch: list[ImportRecord] = []
    for rec in records:
        if isinstance(rec, ImportIssue):
            issues.append(rec)
            if progress is not None:
                progress.update(1)
            continue
        batch.append(rec)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


#: an import of several batches stores its last one in parts of a half, a quarter, ... down to
#: about 1/TAIL_PARTS of a batch
TAIL_PARTS = 16


def _tail_halved(batches: Iterator[list[ImportRecord]], smallest: int
                 ) -> Iterator[list[ImportRecord]]:
    """The batches, the last one (of an import of more than one) cut in halves of halves, each
    part at least ``smallest`` records: 5,000, 2,500, 1,250, 625, 625 of 10,000.

    Why: the words worker makes batch k+1's words while batch k is written, so the last batch was
    written with the worker idle; cut in halves, each part's words are made while the part before
    it is written, and only the last, small part is written alone. A one-batch import (no
    worker) stays one transaction."""
    held = next(batches, None)
    if held is None:
        return
    more = False
    for nxt in batches:
        yield held
        held, more = nxt, True
    while more and len(held) >= 2 * smallest:
        half = len(held) // 2
        yield held[:half]
        held = held[half:]
    yield held


async def _texts_to_make(db: Database, recs: list[ImportRecord]) -> tuple[list[str], list[str]]:
    """(post texts, translation texts) of ``recs`` whose index words will be needed: those of
    posts not stored with the same text already (a re-import of an export needs none)."""
    stored = await db.read(posts_repo.stored_texts, [(r.post.channel, r.post.message_id)
                                                     for r in recs])
    new = [r for r in recs
           if stored.get((r.post.channel.lower(), r.post.message_id)) != (r.post.text or "")]
    return (list(dict.fromkeys(r.post.text or "" for r in new)),
            list(dict.fromkeys(r.translation for r in new if r.translation)))
