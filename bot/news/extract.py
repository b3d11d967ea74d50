"""One article page → ``ExtractedArticle``: trafilatura for the main text, our own code for the rest.

Pure (bytes/str in, a value out). Telegram refs are found on the raw HTML first, because extraction
drops links and embeds. The publication time is read from page metadata at full precision (trafilatura
keeps only the date); the canonical URL is accepted only on the page's own site (see ``same_site``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

import lxml.html
import trafilatura
from lxml import etree

from bot.news.refs import find_telegram_refs
from bot.news.urls import normalize_url, same_site
from bot.tglinks import TelegramRef

_DATE_META = (
    "article:published_time", "og:published_time", "article:published", "datepublished",
    "pubdate", "publishdate", "publish-date", "date", "dc.date.issued", "dc.date", "sailthru.date",
    "parsely-pub-date", "dcterms.created",
)
_JSONLD_DATE = re.compile(r'"datePublished"\s*:\s*"([^"]{8,40})"')


@dataclass
class ExtractedArticle:
    title: str | None
    author: str | None
    published: datetime | None  # aware, UTC
    lang: str | None
    text: str
    canonical_url: str
    tg_refs: list[TelegramRef] = field(default_factory=list)
    outlet: str | None = None


def parse_datetime(value: str | None) -> datetime | None:
    """An ISO-like date or time from page metadata as aware UTC; naive times are taken as UTC."""
    if not value:
        return None
    s = value.strip().replace("Z", "+00:00")
    s = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", s)  # +0200 → +02:00
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        try:
            dt = datetime.fromisoformat(s[:10])
        except ValueError:
            return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)


def _meta(tree: lxml.html.HtmlElement) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in tree.iter("meta"):
        key = (m.get("property") or m.get("name") or m.get("itemprop") or "").strip().lower()
        content = (m.get("content") or "").strip()
        if key and content and key not in out:
            out[key] = content
    return out


def _published(tree: lxml.html.HtmlElement, meta: dict[str, str], text: str) -> datetime | None:
    for key in _DATE_META:
        if dt := parse_datetime(meta.get(key)):
            return dt
    if (m := _JSONLD_DATE.search(text)) and (dt := parse_datetime(m.group(1))):
        return dt
    for t in tree.iter("time"):
        if dt := parse_datetime(t.get("datetime")):
            return dt
    return None


def _canonical(tree: lxml.html.HtmlElement, meta: dict[str, str], url: str) -> str:
    final = normalize_url(url)
    candidates = [link.get("href") or "" for link in tree.iter("link")
                  if "canonical" in (link.get("rel") or "").lower().split()]
    candidates.append(meta.get("og:url", ""))
    for href in candidates:
        if not href.strip():
            continue
        cand = normalize_url(href, base=url)
        if not cand.startswith(("http://", "https://")) or not same_site(cand, final):
            continue
        # a canonical pointing at the home page is a common template bug, not this article's URL
        if cand.split("/", 3)[3:] in ([], [""]) and final.split("/", 3)[3:] not in ([], [""]):
            continue
        return cand
    return final


def _lang(tree: lxml.html.HtmlElement, meta: dict[str, str]) -> str | None:
    raw = tree.get("lang") or meta.get("content-language") or meta.get("og:locale") or ""
    code = re.split(r"[-_]", raw.strip().lower())[0]
    return code if re.fullmatch(r"[a-z]{2,3}", code) else None


def extract_article(html: bytes | str, url: str) -> ExtractedArticle:
    """Title, author, publication time, language, main text, canonical URL and Telegram refs.

    Never raises on odd HTML: a page with no recognisable article gives empty ``text``."""
    refs = find_telegram_refs(html)
    text_html = html.decode("utf-8", "replace") if isinstance(html, bytes) else html
    try:
        tree = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return ExtractedArticle(None, None, None, None, "", normalize_url(url), refs)
    meta = _meta(tree)
    published = _published(tree, meta, text_html)
    canonical = _canonical(tree, meta, url)
    lang = _lang(tree, meta)
    try:
        doc = trafilatura.bare_extraction(html, url=url, with_metadata=True, include_comments=False)
    except Exception:  # trafilatura raises assorted errors on hostile markup; the text is just empty
        doc = None
    title = getattr(doc, "title", None) or meta.get("og:title") or _title_tag(tree)
    author = getattr(doc, "author", None) or meta.get("author")
    if published is None and doc is not None:
        published = parse_datetime(getattr(doc, "date", None))
    outlet = getattr(doc, "sitename", None) or meta.get("og:site_name")
    text = (getattr(doc, "text", None) or "").strip()
    lang = lang or getattr(doc, "language", None)
    return ExtractedArticle(title, author, published, lang, text, canonical, refs, outlet)


def _title_tag(tree: lxml.html.HtmlElement) -> str | None:
    t = tree.find(".//title")
    return t.text_content().strip() or None if t is not None else None
