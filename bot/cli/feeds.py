"""``citewatch feeds …``: followed RSS/Atom feeds, news sitemaps and ``gdelt:QUERY`` searches (added
by hand or, with DISCOVER=auto, one per watched channel), OPML import, and a poll by hand."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bot.cli import cli
from bot.cli.common import clean, get_settings, handle_errors, open_db, print_json, run_async
from bot.config import parse_urls
from bot.news.fetch import Fetcher
from storage import articles as articles_repo
from storage import feeds as feeds_repo
from storage.models import Feed


def _check_urls(urls: tuple[str, ...]) -> list[str]:
    """http(s) URLs as FEEDS takes them, and ``gdelt:QUERY`` (a query may contain commas)."""
    from bot.news import gdelt

    out = []
    try:
        for u in urls:
            if gdelt.is_gdelt(u.strip()):
                out.append(gdelt.feed_url(gdelt.check_query(gdelt.query_of(u.strip()))))
            else:
                out.extend(parse_urls(u))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return out


_KINDS = {"rss": "RSS feed", "atom": "Atom feed", "sitemap": "news sitemap", "gdelt": "GDELT search"}


async def _probe(fetcher: Fetcher, url: str) -> tuple[str | None, str]:
    """What the URL is (kind, words for the user); a failure is reported, the feed still added."""
    from bot.errors import CitewatchError
    from bot.news.feeds import parse_feed

    try:
        res = await fetcher.get(url, {"Accept": "application/rss+xml, application/atom+xml, "
                                                "application/xml;q=0.9, */*;q=0.5"}, accept="feed")
        parsed = parse_feed(res.body, res.final_url, res.headers.get("content-type", ""))
    except CitewatchError as exc:
        return None, f"not checked now: {exc}"
    return parsed.kind, f"{_KINDS[parsed.kind]}, {len(parsed.entries)} entries"


@cli.group()
def feeds() -> None:
    """Follow RSS/Atom feeds; their new articles are checked for citations."""


@feeds.command("add")
@click.argument("urls", nargs=-1, required=True)
@click.option("--interval", type=click.IntRange(60), help="seconds between polls (default FEED_INTERVAL)")
@click.option("--no-check", is_flag=True, help="do not fetch the URL to tell what it is")
@handle_errors
@run_async
async def add_cmd(urls: tuple[str, ...], interval: int | None, no_check: bool) -> None:
    """Follow RSS/Atom feeds, news sitemaps (sitemap-news.xml) or GDELT searches ('gdelt:QUERY').

    Each URL is fetched once to tell which of them it is (a failure is shown; the URL is added)."""
    from bot.news import gdelt

    checked = _check_urls(urls)
    settings = get_settings()
    async with open_db(settings) as db, Fetcher(settings) as fetcher:
        for url in checked:
            kind, words = ("gdelt", _KINDS["gdelt"]) if gdelt.is_gdelt(url) else (None, "")
            if kind is None and not no_check:
                kind, words = await _probe(fetcher, url)
            _feed, created = await feeds_repo.add(db, url, interval=interval, kind=kind)
            click.echo(f"{'added' if created else 'already followed'}: {url}"
                       + (f" ({words})" if words else ""))


def _feed_dict(f: Feed) -> dict[str, object]:
    return {
        "url": f.url, "title": f.title, "interval": f.interval, "kind": f.kind,
        "discovered_for": f.discovered_for,
        "next_poll_at": f.next_poll_at, "last_success_at": f.last_success_at,
        "error_count": f.error_count, "last_error": f.last_error, "last_error_at": f.last_error_at,
    }


@feeds.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON output")
@handle_errors
@run_async
async def list_cmd(as_json: bool) -> None:
    """Followed feeds with their last success and last error."""
    async with open_db(get_settings()) as db:
        from bot.news.poller import seed_feeds  # loads trafilatura: only where needed

        await seed_feeds(get_settings(), db)
        all_feeds = await feeds_repo.list_all(db)
    if as_json:
        print_json([_feed_dict(f) for f in all_feeds])
        return
    if not all_feeds:
        click.echo("no feeds (add one with: citewatch feeds add URL)", err=True)
    for f in all_feeds:
        ok = f"{f.last_success_at:%Y-%m-%d %H:%M}" if f.last_success_at else "never"
        click.echo(clean(f"{f.url}  {f.title or ''}".rstrip()))  # titles and errors are the web's
        if f.discovered_for:
            click.echo(f"  discovery query for @{f.discovered_for} (DISCOVER=off turns it off)")
        line = f"  {_KINDS.get(f.kind or '', 'feed')}; last success: {ok}"
        if f.last_error:
            line += f"; last error ({f.error_count} in a row): {f.last_error}"
        click.echo(clean(line))


@feeds.command("remove")
@click.argument("url")
@handle_errors
@run_async
async def remove_cmd(url: str) -> None:
    """Stop following a feed (its articles are kept)."""
    async with open_db(get_settings()) as db:
        if not await feeds_repo.remove(db, url.strip()):
            raise click.ClickException(f"not a followed feed: {url}")
    click.echo(f"removed: {url}")


@feeds.command("import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@handle_errors
@run_async
async def import_cmd(file: Path) -> None:
    """Follow every feed of an OPML file (as exported by feed readers); '-' reads stdin."""
    data = sys.stdin.buffer.read() if str(file) == "-" else _read(file)
    from bot.news.opml import parse_opml

    found = parse_opml(data)
    new = 0
    async with open_db(get_settings()) as db:
        for item in found:
            _feed, created = await feeds_repo.add(db, item.url, title=item.title)
            new += created
    click.echo(f"{len(found)} feeds in {file.name}: {new} added, {len(found) - new} already followed")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from None


@feeds.command("poll")
@click.option("--all", "poll_all", is_flag=True, help="poll every feed, not only those due")
@click.option("--json", "as_json", is_flag=True, help="JSON output")
@handle_errors
@run_async
async def poll_cmd(poll_all: bool, as_json: bool) -> None:
    """Poll due feeds once and fetch their new articles; prints what was fetched."""
    settings = get_settings()
    from bot.news.poller import FeedPoller, seed_feeds

    async with open_db(settings) as db, Fetcher(settings) as fetcher:
        await seed_feeds(settings, db)
        poller = FeedPoller(db, settings, fetcher)
        if poll_all:
            results = [await poller.poll_feed(f) for f in await feeds_repo.list_all(db)]
        else:
            await poller.poll_due()
            results = poller.results
        stored = {i: await articles_repo.get(db, i) for r in results for i in r.new_articles}
    if as_json:
        print_json([
            {"feed": r.feed, "status": r.status, "error": r.error,
             "articles": [{"id": a.id, "url": a.canonical_url, "title": a.title,
                           "published": a.published, "tg_refs": a.tg_refs}
                          for i in r.new_articles if (a := stored[i]) is not None],
             "failed": [{"url": u, "reason": why} for u, why in r.failed_articles]}
            for r in results
        ])
        return
    if not results:
        click.echo("no feed is due (use --all to poll every feed)", err=True)
    for r in results:
        click.echo(clean(f"{r.feed}: {r.status}" + (f" — {r.error}" if r.error else
                                                  f", {len(r.new_articles)} new articles")))
        for i in r.new_articles:
            a = stored[i]
            if a is not None:
                refs = f"  [{len(a.tg_refs)} Telegram refs]" if a.tg_refs else ""
                click.echo(clean(f"  + {a.canonical_url}  {a.title or ''}{refs}"))
        for url, why in r.failed_articles:
            click.echo(clean(f"  ! {url}: {why}"))
