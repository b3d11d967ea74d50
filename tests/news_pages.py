"""Realistic article pages and feeds for the news tests, built around real article texts."""

from __future__ import annotations

import html
import json
from pathlib import Path

ARTICLES_FILE = "news_articles_en__hellaskella33__447-gdelt-war-articles_2022-2024.jsonl"


def real_texts(path: Path, n: int = 5, *, telegram: bool | None = None) -> list[str]:
    """The first ``n`` article texts (optionally only those that mention Telegram) of the data set."""
    out = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            if telegram is not None and bool(rec.get("mentions_telegram")) != telegram:
                continue
            if len(rec["text"]) > 800:
                out.append(rec["text"])
            if len(out) == n:
                break
    return out


def article_page(
    text: str,
    *,
    title: str = "Ukraine war latest",
    canonical: str | None = None,
    published: str = "2023-03-14T09:30:00+02:00",
    author: str = "Olena Kovalenko",
    inline: str = "",
    footer: str = 'Join us on Telegram: <a href="https://t.me/dailynewsdesk">t.me/dailynewsdesk</a>',
) -> str:
    """A news page as sites ship them: nav, share buttons, article body, related links, footer."""
    paras = [p for p in text.split("\n") if p.strip()]
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paras[:3])
    body += inline
    body += "\n".join(f"<p>{html.escape(p)}</p>" for p in paras[3:])
    canon = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    return f"""<!DOCTYPE html>
<html lang="en-GB"><head><meta charset="utf-8"><title>{html.escape(title)} | Daily News</title>
{canon}
<meta property="og:title" content="{html.escape(title)}">
<meta property="og:site_name" content="Daily News">
<meta property="article:published_time" content="{published}">
<meta name="author" content="{author}">
<script type="application/ld+json">{{"@type": "NewsArticle", "datePublished": "{published}"}}</script>
</head><body>
<header><nav><a href="/">Home</a> <a href="/world">World</a> <a href="/ukraine">Ukraine</a></nav></header>
<div class="share"><a href="https://t.me/share/url?url=https%3A%2F%2Fnews.example%2Fa">Share on Telegram</a>
<a href="https://twitter.com/intent/tweet?url=x">Tweet</a></div>
<main><article><h1>{html.escape(title)}</h1><p class="byline">By {author}</p>
{body}
</article>
<aside><h3>Related</h3><ul><li><a href="/world/1">Grain deal talks</a></li></ul></aside></main>
<footer><p>{footer}</p><p>Invite: <a href="https://t.me/+AbCdEfGh123">our chat</a>
<a href="https://t.me/joinchat/AAAAAEx">old chat</a></p><p>&copy; Daily News</p></footer>
</body></html>"""


def rss(items: list[tuple[str, str, str]], title: str = "Daily News — World") -> str:
    """RSS 2.0 with (guid, link, title) items."""
    body = "".join(
        f"<item><title>{html.escape(t)}</title><link>{html.escape(link)}</link>"
        f"<guid isPermaLink=\"false\">{html.escape(g)}</guid>"
        f"<pubDate>Tue, 14 Mar 2023 07:30:00 GMT</pubDate><description>Summary</description></item>"
        for g, link, t in items
    )
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>{html.escape(title)}</title><link>https://news.example/</link>"
            f"<description>World news</description>{body}</channel></rss>")


def atom(items: list[tuple[str, str, str]], title: str = "Atom News") -> str:
    body = "".join(
        f'<entry><id>{html.escape(g)}</id><title>{html.escape(t)}</title>'
        f'<link rel="alternate" href="{html.escape(link)}"/><updated>2023-03-14T07:30:00Z</updated>'
        f"<summary>Summary</summary></entry>"
        for g, link, t in items
    )
    return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>{html.escape(title)}</title><id>urn:atom-news</id>"
            f"<updated>2023-03-14T07:30:00Z</updated>{body}</feed>")
