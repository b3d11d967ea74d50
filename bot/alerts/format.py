"""Alert messages as Telegram HTML: pure functions of an ``AlertGroup``, no I/O.

Everything that came from a channel or an article is untrusted and goes through ``esc`` (text) or
``href`` (URLs in attributes) — never into the markup unescaped. Telegram counts the limit of 4096
in UTF-16 code units of the text *after* entity parsing, so ``tg_len`` measures exactly that with
Telethon's own parser, and a message that is too long is rebuilt with shorter excerpts (never cut
after rendering, which could split a tag or an ``&amp;``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from datetime import datetime
from urllib.parse import urlsplit

from telethon.extensions import html as tg_html

from bot.news.urls import normalize_url
from storage.alerts import AlertGroup, AlertItem
from storage.models import Article, Evidence

#: Telegram's limit is 4096; keep a margin for what Telegram itself may count differently.
MAX_LEN = 4000
_EXCERPT_STEPS = (320, 200, 120, 60, 0)
_TITLE_MAX = 300
_EVIDENCE_MAX = 8
_COPIES_MAX = 10


def esc(text: str | None) -> str:
    """Escape untrusted text for HTML parse mode."""
    return html.escape(text or "", quote=False)


def href(url: str) -> str:
    """A URL for an ``href="..."``: only http(s), attribute-escaped (quotes too)."""
    u = (url or "").strip()
    return html.escape(u, quote=True) if re.match(r"^https?://[^\s]+$", u, re.I) else ""


def link(url: str, label: str) -> str:
    return f'<a href="{href(url)}">{esc(label)}</a>' if href(url) else esc(label)


def tg_len(message_html: str) -> int:
    """Length as Telegram counts it: UTF-16 code units of the text after parsing the HTML."""
    text, _ = tg_html.parse(message_html)
    return len(text.encode("utf-16-le")) // 2


def plain_text(message_html: str) -> str:
    """The text Telegram would show (for the log transport and tests)."""
    return tg_html.parse(message_html)[0]


_LINK = re.compile(r'<a href="([^"]*)">(.*?)</a>', re.S)


def readable_text(message_html: str) -> str:
    """Plain text that keeps each link's address (stdout has no clickable links)."""

    def keep_href(m: re.Match[str]) -> str:
        href, inner = m.group(1), m.group(2)
        bare = re.sub(r"^https?://", "", html.unescape(href))
        return inner if bare in html.unescape(inner) else f"{inner} ({href})"

    return plain_text(_LINK.sub(keep_href, message_html))


def shorten(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word boundary when one is near, with an ellipsis."""
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    if limit <= 1:
        return "…"[:limit]
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip() + "…"


def _find(haystack: str, needle: str) -> tuple[int, int] | None:
    """Where ``needle`` occurs in ``haystack``, ignoring case and runs of whitespace."""
    words = needle.split()
    if not words:
        return None
    pattern = r"\s+".join(re.escape(w) for w in words)
    m = re.search(pattern, haystack, re.I)
    return (m.start(), m.end()) if m else None


def excerpt(text: str, passage: str | None, limit: int) -> str:
    """HTML excerpt of ``text`` around ``passage`` (marked <b><u>), at most ~``limit`` characters."""
    text = " ".join((text or "").split())
    if limit <= 0 or not text:
        return ""
    span = _find(text, passage) if passage else None
    if span is None:
        return esc(shorten(text, limit))
    start, end = span
    mark_len = min(end - start, max(limit - 2, 1))
    room = max(limit - mark_len, 0)
    before_n = min(start, room // 2)
    after_n = min(len(text) - (start + mark_len), room - before_n)
    before_n = min(start, room - after_n)
    before = text[start - before_n : start]
    marked = text[start : start + mark_len]
    after = text[start + mark_len : start + mark_len + after_n]
    pre = "…" if start - before_n > 0 else ""
    post = "…" if start + mark_len + after_n < len(text) else ""
    # context cut mid-word reads as a different word ("…upiers"): drop the stub
    if pre and not text[start - before_n - 1].isspace() and " " in before:
        before = before[before.index(" ") + 1 :]
    if post and not text[start + mark_len + after_n].isspace() and " " in after:
        after = after[: after.rindex(" ")]
    cut_mark = "…" if mark_len < end - start else ""
    return f"{pre}{esc(before)}<b><u>{esc(marked)}{cut_mark}</u></b>{esc(after)}{post}"


def fmt_date(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%d %H:%M UTC") if dt else "date unknown"


def fmt_hours(seconds: float) -> str:
    h = seconds / 3600
    if abs(h) < 1:
        return f"{round(seconds / 60)} min"
    if abs(h) < 72:
        return f"{round(h)} h"
    return f"{round(h / 24)} days"


def evidence_words(ev: Evidence) -> str:
    """One piece of evidence as words; the detector's ``text`` when it gave one."""
    if ev.get("text"):
        return shorten(str(ev["text"]), 200)
    kind = ev.get("kind", "")
    if kind == "quote" and ev.get("containment") is not None:
        which = "translated" if ev.get("against") == "translation" else "original"
        return f"quotes {round(float(ev['containment']) * 100)}% of the {which} post"
    return str(kind) or "evidence"


def _quote_passages(evidence: Iterable[Evidence]) -> dict[str, str]:
    """The matched post passage per text ('translation' / 'original') from quote evidence."""
    out: dict[str, str] = {}
    for ev in evidence:
        if ev.get("kind") == "quote" and ev.get("post_passage"):
            out.setdefault(str(ev.get("against") or "translation"), str(ev["post_passage"]))
    return out


def _item(n: int, it: AlertItem, article_published: datetime | None, excerpt_len: int) -> str:
    post, cit = it.post, it.citation
    url = post.url
    lines = [
        f"<b>{n}.</b> {link(url, url.removeprefix('https://'))} · @{esc(post.channel)} · "
        f"{esc(fmt_date(post.date))} · score <b>{cit.score:.2f}</b>"
    ]
    passages = _quote_passages(cit.evidence)
    if excerpt_len:
        original = excerpt(post.text, passages.get("original"), excerpt_len)
        if original:
            lines.append(f"<i>Original:</i> {original}")
        if post.translation:
            lang = (post.translation_lang or "en").upper()
            tr = excerpt(post.translation, passages.get("translation"), excerpt_len)
            lines.append(f"<i>{esc(lang)}:</i> {tr}")
    words = [evidence_words(ev) for ev in cit.evidence[:_EVIDENCE_MAX]]
    if not any(ev.get("kind") == "time" for ev in cit.evidence) and article_published and post.date:
        delta = (article_published - post.date).total_seconds()
        if delta >= 0:
            words.append(f"published {fmt_hours(delta)} after the post")
    if words:
        lines.append("Evidence: " + esc("; ".join(words)))
    return "\n".join(lines)


def outlet_name(a: Article) -> str:
    """The outlet as a reader knows it: its site name, else the host of its URL."""
    return a.outlet or urlsplit(a.url).hostname or a.url


def _href(a: Article) -> str:
    """The address we fetched, without trackers (utm_*, fbclid…): GDELT and feeds hand them out.
    Not the page's own canonical link, which the page may point anywhere."""
    return normalize_url(a.url)


def _copies(lead: Article, story: list[Article]) -> str:
    """"Copies (3): outlet, outlet, …" — every other stored copy of the story, linked."""
    others = [c for c in story if c.id != lead.id]
    if not others:
        return ""
    shown = ", ".join(link(_href(c), outlet_name(c)) for c in others[:_COPIES_MAX])
    more = f" and {len(others) - _COPIES_MAX} more" if len(others) > _COPIES_MAX else ""
    return f"Copies ({len(others)}): {shown}{more}"


def _render(group: AlertGroup, excerpt_len: int, items: list[AlertItem], hidden: int) -> str:
    # a story is named by its first outlet, whichever copy the citation was found in
    a = group.story[0] if group.story else group.article
    title = shorten(a.title or a.canonical_url or a.url, _TITLE_MAX)
    best = max(it.citation.score for it in group.items)
    n = len(group.items)
    head = [
        f"🔗 <b>{'A post is' if n == 1 else f'{n} posts are'} cited</b> (score {best:.2f})",
        f"<b>{link(_href(a), title)}</b>",
        " · ".join(esc(x) for x in (outlet_name(a) if group.story else a.outlet,
                                    fmt_date(a.published) if a.published else None) if x),
        _copies(a, group.story),
    ]
    parts = ["\n".join(h for h in head if h)]
    parts += [_item(i + 1, it, a.published, excerpt_len) for i, it in enumerate(items)]
    if hidden:
        parts.append(f"… and {hidden} more cited post{'s' if hidden > 1 else ''} (see /citations)")
    return "\n\n".join(parts)


def format_alert(group: AlertGroup, max_len: int = MAX_LEN) -> str:
    """One HTML message for every citation of one article, ≤ ``max_len`` as Telegram counts.

    Shorter excerpts first; only when even link-only lines do not fit, the weakest citations are
    left out (counted in the last line), so a message is never cut after rendering.
    """
    items = sorted(group.items, key=lambda it: -it.citation.score)

    def fitting(n: int) -> str | None:
        for step in _EXCERPT_STEPS:
            message = _render(group, step, items[:n], len(items) - n)
            if tg_len(message) <= max_len:
                return message
        return None

    found = fitting(len(items))
    if found is not None:
        return found
    lo, hi = 1, len(items) - 1  # the largest n whose link-only rendering fits (monotonic in n)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if tg_len(_render(group, 0, items[:mid], len(items) - mid)) <= max_len:
            lo = mid
        else:
            hi = mid - 1
    return fitting(lo) or _render(group, 0, items[:1], len(items) - 1)
