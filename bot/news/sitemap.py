"""News sitemaps (Google News sitemap format) as feeds, for outlets without a usable RSS feed.

``<urlset>`` of ``<url><loc>`` with a ``<news:news>`` block (publication name and language,
``publication_date``, ``title``). The bytes are untrusted: parsed with entities, DTDs and network
access off (no XXE, no billion laughs) and a size cap already applied by the fetcher.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from lxml import etree

from bot.news.feeds import FeedEntry, FeedError, ParsedFeed

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(urlset|sitemapindex)[\s>]")


def looks_like_sitemap(body: bytes) -> bool:
    """A sitemap's root element comes first after the XML declaration and comments."""
    return bool(_ROOT.search(body[:4096]))


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           huge_tree=False, recover=False, remove_comments=True)


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _child(el: etree._Element, name: str) -> etree._Element | None:
    for c in el:
        if _local(c.tag) == name:
            return c
    return None


def _text(el: etree._Element | None) -> str | None:
    if el is None:
        return None
    t = " ".join("".join(el.itertext()).split())
    return t or None


def parse_date(value: str | None) -> datetime | None:
    """W3C datetime as sitemaps use it: a date, or a date and time with a zone (UTC if none)."""
    if not value:
        return None
    v = value.strip().replace("Z", "+00:00")
    try:
        dt = datetime.fromisoformat(v)
    except ValueError:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)


def parse_sitemap(body: bytes, url: str) -> ParsedFeed:
    """Entries of a (news) sitemap, newest first. FeedError for an index or malformed XML."""
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError as exc:
        raise FeedError(f"malformed sitemap XML: {' '.join(str(exc).split())}") from None
    kind = _local(root.tag)
    if kind == "sitemapindex":
        first = next((_text(_child(s, "loc")) for s in root if _local(s.tag) == "sitemap"), None)
        hint = f" (add one of its sitemaps, e.g. {first})" if first else ""
        raise FeedError(f"a sitemap index, not a news sitemap{hint}")
    if kind != "urlset":
        raise FeedError("not a sitemap")
    entries: list[FeedEntry] = []
    publication = None
    for item in root:
        if _local(item.tag) != "url":
            continue
        loc = _text(_child(item, "loc"))
        if not loc or not loc.startswith(("http://", "https://")):
            continue
        news = _child(item, "news")
        title = published = None
        if news is not None:
            title = _text(_child(news, "title"))
            published = parse_date(_text(_child(news, "publication_date")))
            pub = _child(news, "publication")
            publication = publication or (_text(_child(pub, "name")) if pub is not None else None)
        if published is None:
            published = parse_date(_text(_child(item, "lastmod")))
        entries.append(FeedEntry(loc, loc, title, published))
    far_past = datetime.min.replace(tzinfo=UTC)
    entries.sort(key=lambda e: e.published or far_past, reverse=True)
    return ParsedFeed(publication, entries, kind="sitemap")
