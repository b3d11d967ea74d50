"""Chat commands: ``/search``, ``/recent``, ``/post``, ``/citations``, ``/status``, ``/channels``, ``/help``.

``answer(db, text)`` is the core: it reads storage and returns HTML chunks, each ≤ the message limit
and split only between lines (every line is complete HTML, so no entity is ever cut). All stored text
is escaped. ``register_commands`` is the thin Telethon edge: it answers only in ALERT_CHAT and
ALLOWED_CHATS; anyone else gets silence and one log line.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable
from typing import Any

from telethon import errors, events

from bot.alerts.format import MAX_LEN, esc, fmt_date, link, shorten, tg_len
from bot.alerts.sender import parse_chat
from bot.config import Settings
from bot.errors import CitewatchError
from bot.status import fmt_lag, gather
from bot.tglinks import normalize_username, parse_post_link
from storage import channels as channels_repo
from storage import citations as citations_repo
from storage import posts as posts_repo
from storage import search as search_repo
from storage.db import Database
from storage.fts_query import check_size
from storage.models import HL_END, HL_START, Post

log = logging.getLogger("citewatch.commands")

MAX_CHUNKS = 5  # longer answers end with a note instead of flooding the chat
SEARCH_LIMIT = 10

HELP = """<b>citewatch commands</b>
/search <i>words</i> — full-text search of stored posts and translations
/recent [<i>channel</i>] — the newest stored posts
/post <i>t.me link</i> — a stored post: text, translation, earlier versions, citations
/citations [<i>n</i>] — the latest citations found in news articles
/status — sources, queues, alerts
/channels — watched channels
/help — this list"""

_COMMAND = re.compile(r"^/([A-Za-z_]+)(?:@\w+)?(?:\s+(.*))?$", re.S)
_ADDRESSEE = re.compile(r"^/[A-Za-z_]+@(\w+)")


def parse_command(text: str) -> tuple[str, str] | None:
    """``"/search@bot  words"`` → ``("search", "words")``; not a command → None."""
    m = _COMMAND.match((text or "").strip())
    return (m.group(1).lower(), (m.group(2) or "").strip()) if m else None


def render_hits(snippet: str) -> str:
    """An FTS snippet as HTML: text escaped, highlight markers as balanced ``<b>`` tags."""
    out, bold = [], False
    for part in re.split(f"([{HL_START}{HL_END}])", " ".join(snippet.split())):
        if part == HL_START:
            if not bold:
                out.append("<b>")
            bold = True
        elif part == HL_END:
            if bold:
                out.append("</b>")
            bold = False
        else:
            out.append(esc(part))
    if bold:
        out.append("</b>")
    return "".join(out)


def paginate(blocks: Iterable[str], limit: int = MAX_LEN, max_chunks: int = MAX_CHUNKS) -> list[str]:
    """Pack blocks (separated by a blank line) into messages ≤ ``limit``, splitting only at lines.

    A single line over the limit (cannot happen with our renderers) is sent as shortened plain text.
    """
    lines: list[str] = []
    for block in blocks:
        if lines:
            lines.append("")
        lines.extend(block.split("\n"))
    chunks: list[str] = []
    current: list[str] = []
    for line in lines:
        if tg_len(line or ".") > limit:
            from bot.alerts.format import plain_text

            line = esc(shorten(plain_text(line), limit // 2))
        if current and tg_len("\n".join([*current, line])) > limit:
            chunks.append("\n".join(current).strip("\n"))
            current = [] if not line else [line]
        else:
            current.append(line)
    if "\n".join(current).strip():
        chunks.append("\n".join(current).strip("\n"))
    if len(chunks) > max_chunks:
        chunks = chunks[:max_chunks]
        chunks[-1] += "\n\n<i>… more not shown; narrow the request.</i>"
        if tg_len(chunks[-1]) > limit:
            chunks[-1] = chunks[-1].rsplit("\n\n", 1)[0]
    return [c for c in chunks if c.strip()]


def _post_line(p: Post) -> str:
    url = p.url
    flags = " · <i>deleted</i>" if p.deleted_at else ""
    return f"{link(url, url.removeprefix('https://'))} · {esc(fmt_date(p.date))}{flags}"


async def _search(db: Database, args: str) -> list[str]:
    if not args:
        return ["Usage: /search <i>words</i>"]
    try:
        check_size(args)
        hits = await search_repo.query(db, args, limit=SEARCH_LIMIT)
    except CitewatchError as exc:
        return [f"⚠️ {esc(str(exc))}"]
    if not hits:
        return [f"Nothing found for <i>{esc(shorten(args, 200))}</i>."]
    blocks = [f"🔎 <b>{len(hits)} result(s)</b> for <i>{esc(shorten(args, 200))}</i>"
              + (f"\n<i>{esc(search_repo.CAPPED_NOTE)}</i>" if hits[0].capped else "")]
    for n, h in enumerate(hits, 1):
        lines = [f"<b>{n}.</b> {link(h.url, h.url.removeprefix('https://'))} · "
                 f"{esc(fmt_date(h.date))}{' · <i>deleted</i>' if h.deleted else ''}"]
        if h.text_snippet:
            lines.append(render_hits(h.text_snippet))
        if h.translation_snippet:
            lines.append("<i>EN:</i> " + render_hits(h.translation_snippet))
        blocks.append("\n".join(lines))
    return blocks


async def _recent(db: Database, args: str) -> list[str]:
    channel = None
    if args:
        try:
            channel = normalize_username(args.split()[0])
        except ValueError as exc:
            return [f"⚠️ {esc(str(exc))}"]
    found = await posts_repo.recent(db, channel, limit=10)
    if not found:
        return ["No stored posts" + (f" from @{esc(channel)}." if channel else ".")]
    blocks = [f"🕑 <b>Newest posts</b>{f' from @{esc(channel)}' if channel else ''}"]
    for p in found:
        body = p.translation or p.text or f"({p.media_kind or 'no text'})"
        blocks.append(_post_line(p) + "\n" + esc(shorten(body, 300)))
    return blocks


def _text_lines(label: str, text: str) -> str:
    """Long stored text, escaped line by line so a page break can fall between any two lines."""
    lines = [esc(line) for line in text.splitlines() if line.strip()]
    return f"<i>{esc(label)}:</i>\n" + "\n".join(lines or ["(empty)"])


async def _post(db: Database, args: str) -> list[str]:
    post_ref = parse_post_link(args.strip())
    if post_ref is None:
        return ["Usage: /post <i>https://t.me/channel/123</i>"]
    p = await posts_repo.get(db, *post_ref)
    if p is None or p.id is None:
        return [f"Not stored: {esc(post_ref[0])}/{post_ref[1]}."]
    blocks = [f"📄 <b>@{esc(p.channel)}</b> · {_post_line(p)}"]
    blocks.append(_text_lines("Original", p.text or f"({p.media_kind or 'no text'})"))
    if p.translation:
        blocks.append(_text_lines(f"Translation ({p.translation_lang or '?'})", p.translation))
    versions = await posts_repo.versions(db, p.id)
    if versions:
        lines = [f"<i>Earlier versions ({len(versions)}):</i>"]
        for v in versions:
            lines.append(f"• {esc(fmt_date(v.edit_date or v.replaced_at))}: {esc(shorten(v.text, 300))}")
            if v.translation:  # what the analyst read then, not a re-translation
                lines.append(f"  <i>translated:</i> {esc(shorten(v.translation, 300))}")
        blocks.append("\n".join(lines))
    cites = await citations_repo.for_post(db, p.id)
    lines = [f"<i>Cited by {len(cites)} article(s):</i>" if cites else "<i>Not cited yet.</i>"]
    lines += [f"• {link(c.article_url or '', shorten(c.article_title or c.article_url or '?', 150))}"
              f" · score {c.score:.2f}" for c in cites]
    blocks.append("\n".join(lines))
    return blocks


async def _citations(db: Database, args: str) -> list[str]:
    n = int(args) if args.isdigit() else 10
    n = max(1, min(n, 50))
    found = await citations_repo.list_recent(db, limit=n)
    if not found:
        return ["No citations found yet."]
    blocks = [f"📰 <b>Latest {len(found)} citation(s)</b>"]
    for c in found:
        post = f"https://t.me/{c.channel}/{c.message_id}"
        blocks.append(
            f"{link(c.article_url or '', shorten(c.article_title or c.article_url or '?', 150))}\n"
            f"cites {link(post, post.removeprefix('https://'))} · score {c.score:.2f}"
        )
    return blocks


async def _status(db: Database, args: str) -> list[str]:
    r = await gather(db)
    blocks = ["📊 <b>citewatch status</b>"]
    lines = [f"@{esc(c.channel)}: {c.posts} posts, ok {fmt_lag(c.lag_seconds)}"
             + (f"; error: {esc(shorten(c.last_error, 150))}" if c.last_error else "")
             for c in r.channels]
    lines += [f"{esc(shorten(f.title or f.feed, 80))}: ok {fmt_lag(f.lag_seconds)}"
              + (f"; error: {esc(shorten(f.last_error, 150))}" if f.last_error else "")
              for f in r.feeds]
    if lines:
        blocks.append("\n".join(lines))
    q = r.queues
    a = q.alerts
    blocks.append(
        f"Translation queue: {q.translations.pending} pending, "
        f"{q.translations.failed} failed\n"
        f"Alerts: {a.get('pending', 0)} pending, {a.get('sent', 0)} sent, "
        + (f"{a['printed']} printed, " if a.get("printed") else "")
        + f"{a.get('failed', 0)} failed"
    )
    if r.last_alert:
        blocks.append(f"Last alert ({r.last_alert.status}): {esc(r.last_alert.sent_at or '?')}")
    for fa in r.failed_alerts[:5]:
        blocks.append(f"Failed alert {fa.id}: {esc(shorten(fa.reason or '?', 200))}")
    return blocks


async def _channels(db: Database, args: str) -> list[str]:
    chans = await channels_repo.list_all(db)
    if not chans:
        return ["No channels."]
    lines = ["📡 <b>Channels</b>"]
    for c in chans:
        state = "" if c.state == "watched" else f" ({c.state})"
        title = f" — {esc(shorten(c.title, 80))}" if c.title else ""
        lines.append(f"{link(f'https://t.me/{c.username}', '@' + c.username)}{title}: "
                     f"{c.post_count} posts{state}")
    return ["\n".join(lines)]


async def _help(db: Database, args: str) -> list[str]:
    return [HELP]


_HANDLERS = {
    "search": _search, "recent": _recent, "post": _post, "citations": _citations,
    "status": _status, "channels": _channels, "help": _help, "start": _help,
}


async def answer(db: Database, text: str) -> list[str]:
    """The HTML messages answering one chat message (empty: not a command, say nothing)."""
    parsed = parse_command(text)
    if parsed is None:
        return []
    name, args = parsed
    handler = _HANDLERS.get(name)
    if handler is None:
        return [f"Unknown command /{esc(shorten(name, 40))}. Try /help."]
    return paginate(await handler(db, args))


class ChatFilter:
    """Which chats may command us: ALERT_CHAT and ALLOWED_CHATS (ids, @usernames, ``me``)."""

    def __init__(self, settings: Settings) -> None:
        entries = [settings.alert_chat, *settings.allowed_chats]
        targets = [parse_chat(e) for e in entries if e.strip()]
        self.ids = {t for t in targets if isinstance(t, int)}
        self.names = {t.lower() for t in targets if isinstance(t, str) and t != "me"}
        self.me = "me" in targets

    def allows(self, chat_id: int | None, username: str | None, my_id: int | None) -> bool:
        if chat_id is not None and chat_id in self.ids:
            return True
        if self.me and my_id is not None and chat_id == my_id:
            return True
        return bool(username) and username.lower() in self.names  # type: ignore[union-attr]


def register_commands(client: Any, db: Database, settings: Settings) -> Any:
    """Attach the command handler to ``client``; returns the handler (to remove it again)."""
    chats = ChatFilter(settings)
    me: dict[str, Any] = {}

    async def on_command(event: Any) -> None:
        if "id" not in me:
            user = await client.get_me()
            me["id"], me["username"] = user.id, (user.username or "").lower()
        addressee = _ADDRESSEE.match((event.raw_text or "").strip())
        if addressee and addressee.group(1).lower() != me["username"]:
            return  # "/help@other_bot": meant for another bot in the same chat
        username = None
        if chats.names:
            chat = await event.get_chat()
            username = getattr(chat, "username", None)
        if not chats.allows(event.chat_id, username, me["id"]):
            log.info("command from chat %s ignored: not ALERT_CHAT or ALLOWED_CHATS", event.chat_id)
            return
        try:
            chunks = await answer(db, event.raw_text)
        except CitewatchError as exc:
            chunks = [f"⚠️ {esc(str(exc))}"]
        try:
            for i, chunk in enumerate(chunks):
                if i:
                    await asyncio.sleep(1.0)  # one message a second per chat
                await client.send_message(event.chat_id, chunk, parse_mode="html",
                                          link_preview=False)
        except errors.RPCError as exc:
            log.warning("answer to chat %s failed: %s", event.chat_id, exc)

    client.add_event_handler(
        on_command, events.NewMessage(func=lambda e: (e.raw_text or "").startswith("/"))
    )
    return on_command
