"""Commands over citations: check one article now, list what was found."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bot.cli import cli
from bot.cli.common import (
    WHEN,
    clean,
    get_settings,
    handle_errors,
    open_db,
    print_csv,
    print_json,
    run_async,
)
from bot.config import Settings
from bot.errors import CitewatchError
from storage import citations as citations_repo
from storage.models import post_url, to_iso

if TYPE_CHECKING:
    from bot.cite.detect import ArticleInput
    from bot.cite.pipeline import Result

# extraction (trafilatura) and the detector load in ~0.25 s: only check-article pays for them

_HTML_HINT = (b"<html", b"<!doctype", b"<body", b"<article", b"<p>", b"<div", b"<head")


async def _load(source: str, settings: Settings) -> tuple[bytes, str]:
    """(bytes, url) of a URL, a file, or stdin ("-")."""
    if source == "-":
        return sys.stdin.buffer.read(), "stdin"
    if source.lower().startswith(("http://", "https://")):
        from bot.news.fetch import Fetcher

        async with Fetcher(settings) as fetcher:
            res = await fetcher.get(source, accept="html")
        return res.body, res.final_url
    path = Path(source)
    if not path.is_file():
        raise CitewatchError(f"no such file or URL: {source}")
    try:
        return path.read_bytes(), path.resolve().as_uri()
    except OSError as exc:
        raise CitewatchError(f"cannot read {source}: {exc.strerror}") from None


def _article(body: bytes, url: str, published: datetime | None) -> ArticleInput:
    """Extract an HTML page; plain text (no markup) is taken as the article text itself."""
    from bot.cite.detect import ArticleInput
    from bot.news.extract import extract_article

    head = body[:2048].lower()
    if any(h in head for h in _HTML_HINT):
        ex = extract_article(body, url)
        return ArticleInput(text=ex.text, published=published or ex.published, url=url,
                            title=ex.title or "", tg_refs=list(ex.tg_refs))
    text = body.decode("utf-8", "replace")
    first = text.strip().splitlines()[0] if text.strip() else ""
    return ArticleInput(text=text, published=published, url=url, title=first[:200])


def _row(r: Result, threshold: float) -> dict[str, Any]:
    return {
        "channel": r.post.channel,
        "message_id": r.post.message_id,
        "post_url": post_url(r.post.channel, r.post.message_id),
        "post_date": to_iso(r.post.date),
        "post_id": r.post.id,
        "score": r.found.score,
        "alert": r.found.score >= threshold,
        "evidence": r.found.evidence,
    }


@cli.command("check-article")
@click.argument("source")
@click.option("--published", type=WHEN, help="when the article appeared (ISO date); default: "
              "the page's date, else now")
@click.option("--json", "as_json", is_flag=True, help="one JSON object")
@handle_errors
@run_async
async def check_article(source: str, published: datetime | None, as_json: bool) -> None:
    """Find which stored posts one article (URL, file or - for stdin) cites, with the evidence."""
    settings = get_settings()
    body, url = await _load(source, settings)
    if not body.strip():
        raise CitewatchError(f"{source}: empty article")
    from bot.news.fetch import looks_binary

    if looks_binary(body[:4096]):  # an image, archive, executable: decoding it would be noise
        raise CitewatchError(f"{'stdin' if source == '-' else source}: binary content, not an "
                             "article (give an HTML page or a text file)")
    article = _article(body, url, published)
    from bot.cite.pipeline import find_citations

    async with open_db(settings) as db:
        results = await find_citations(db, article, settings)
    rows = [_row(r, settings.citation_threshold) for r in results]
    if as_json:
        print_json({
            "article": {"url": url, "title": article.title or None,
                        "published": to_iso(article.published)},
            "threshold": settings.citation_threshold,
            "citations": rows,
        })
        return
    click.echo(f"{clean(article.title or url)}  ({to_iso(article.published) or 'date unknown'})")
    if not rows:
        click.echo("no citations of stored posts")
    for row in rows:
        mark = "ALERT" if row["alert"] else "     "
        click.echo(f"{mark} {row['score']:.2f}  {row['post_url']}  ({row['post_date']})")
        for e in row["evidence"]:
            click.echo(f"        - {clean(e['text'])} [{e['weight']:.2f}]")


#: the columns of ``citations --csv`` (evidence as a JSON list)
CITATION_CSV_COLUMNS = ["id", "found_at", "score", "channel", "message_id", "post_url",
                        "article_id", "article_url", "article_title", "evidence"]


@cli.command("citations")
@click.option("--since", type=WHEN, help="found on or after (ISO date or 7d)")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--min-score", type=click.FloatRange(0, 1), default=0.0, help="only these and better")
@click.option("--alerts-only", is_flag=True, help="only citations scored to alert "
              "(CITATION_THRESHOLD and above)")
@click.option("--json", "as_json", is_flag=True, help="JSON output")
@click.option("--csv", "as_csv", is_flag=True, help="CSV output")
@handle_errors
@run_async
async def citations_cmd(since: datetime | None, limit: int, min_score: float, alerts_only: bool,
                        as_json: bool, as_csv: bool) -> None:
    """Citations found, newest first."""
    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    settings = get_settings()
    if alerts_only:
        min_score = max(min_score, settings.citation_threshold)
    async with open_db(settings, create=False) as db:
        found = await citations_repo.list_recent(db, since=since, limit=limit, min_score=min_score)
    rows = [
        {
            "id": c.id,
            "found_at": to_iso(c.created_at),
            "article": {"id": c.article_id, "url": c.article_url, "title": c.article_title},
            "channel": c.channel,
            "message_id": c.message_id,
            "post_url": post_url(c.channel or "", c.message_id or 0),
            "score": c.score,
            "evidence": c.evidence,
        }
        for c in found
    ]
    if as_json:
        print_json(rows)
        return
    if as_csv:
        print_csv(CITATION_CSV_COLUMNS, (
            [r["id"], r["found_at"], r["score"], r["channel"], r["message_id"], r["post_url"],
             r["article"]["id"], r["article"]["url"], r["article"]["title"],
             r["evidence"]]
            for r in rows))
        return
    if not rows:
        click.echo("no citations yet")
    for row in rows:
        click.echo(f"{row['found_at']}  {row['score']:.2f}  {row['post_url']}  ←  "
                   f"{clean(row['article']['title'] or row['article']['url'])}")
        for e in row["evidence"]:
            click.echo(f"        - {clean(e['text'])}")
