"""Commands over stored posts: search, import, export, stats, reindex."""

from __future__ import annotations

import asyncio
import csv
import shutil
import sys
import tempfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import click
from tqdm import tqdm

from bot.archive import (
    CSV_COLUMNS,
    CSV_FIELD_LIMIT,
    csv_row,
    detect_format,
    export_record,
    import_records,
    iter_csv,
    iter_export,
    iter_jsonl,
    jsonl_line,
)
from bot.cli import cli
from bot.cli.common import (
    WHEN,
    clean,
    color_ok,
    get_settings,
    handle_errors,
    open_db,
    print_csv,
    print_json,
    render_snippet,
    run_async,
)
from bot.tglinks import normalize_username
from storage import posts as posts_repo
from storage import search as search_repo
from storage import search_index
from storage import stats as stats_repo
from storage.fts_query import check_size
from storage.models import Post, SearchHit


def _channel_opt(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return normalize_username(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


# unknown "options" are query text: `citewatch search -russia` must not be a usage error; only
# --help is help, so the "h" of `-hello` is text too
@cli.command(context_settings={"ignore_unknown_options": True, "help_option_names": ["--help"]})
@click.argument("query")
@click.option("--channel", help="only this channel")
@click.option("--since", type=WHEN, help="posts on or after (ISO date or 7d)")
@click.option("--until", type=WHEN, help="posts before (ISO date)")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="JSON output")
@click.option("--csv", "as_csv", is_flag=True, help="CSV output")
@handle_errors
@run_async
async def search(
    query: str,
    channel: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    as_json: bool,
    as_csv: bool,
) -> None:
    """Full-text search of stored posts and their translations (best first)."""
    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    check_size(query)
    settings = get_settings()
    async with open_db(settings, create=False) as db:
        hits = await search_repo.query(
            db, query, channel=_channel_opt(channel), since=since, until=until, limit=limit
        )
        # for machines the whole text too: a snippet is an excerpt, a script wants the post
        wanted = [h.post_id for h in hits] if as_json or as_csv else []
        full = {p.id: p for p in await posts_repo.get_many(db, wanted)}
    if as_json or as_csv:
        rows = [_hit_row(h, full.get(h.post_id)) for h in hits]
        if as_json:
            print_json(rows)
        else:
            print_csv(SEARCH_COLUMNS, [[r[k] for k in SEARCH_COLUMNS] for r in rows])
        return
    if not hits:
        click.echo("no matches", err=True)
        return
    if hits[0].capped:
        click.echo(f"note: {search_repo.CAPPED_NOTE}", err=True)
    style = "ansi" if color_ok() else "plain"
    for h in hits:
        flag = " (deleted)" if h.deleted else ""
        click.echo(f"{h.url}  {h.date:%Y-%m-%d %H:%M}  score {h.score:.2f}{flag}")
        if h.text_snippet:
            # one line per snippet: posts are full of line breaks
            click.echo(f"  {' '.join(render_snippet(h.text_snippet, style).split())}")
        if h.translation_snippet:
            click.echo(f"  en: {' '.join(render_snippet(h.translation_snippet, style).split())}")


#: the columns of ``search --csv``, with or without hits; ``--json`` hits have these keys and
#: ``capped`` (true when the search was capped: other matches may exist, ``storage.search.Found``)
SEARCH_COLUMNS = ["channel", "message_id", "date", "url", "score", "deleted", "snippet",
                  "translation_snippet", "text", "translation"]



def _hit_row(h: SearchHit, post: Post | None) -> dict[str, object]:
    """A hit for machines: snippets with [brackets] around matches, never terminal codes."""
    return {
        "channel": h.channel,
        "message_id": h.message_id,
        "date": h.date.isoformat(),
        "url": h.url,
        "score": round(h.score, 4),
        "deleted": h.deleted,
        "snippet": render_snippet(h.text_snippet),
        "translation_snippet": render_snippet(h.translation_snippet),
        "text": post.text if post else None,
        "translation": post.translation if post else None,
        "capped": h.capped,
    }


def _count_lines(path: Path) -> int | None:
    try:
        with path.open("rb") as fh:
            return sum(1 for _ in fh)
    except OSError:
        return None


@cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--channel", help="channel username for records that name none")
@click.option("--format", "fmt", type=click.Choice(["auto", "jsonl", "export", "csv"]),
              default="auto", help="input format (auto: guessed from the content)")
@click.option("--watch", is_flag=True,
              help="watch the channels too (default: new ones are searchable archives, not polled)")
@handle_errors
def import_cmd(path: Path, channel: str | None, fmt: str, watch: bool) -> None:
    """Load a Telegram Desktop export (result.json), JSON Lines or our CSV export (PATH, or - for
    stdin); safe to repeat. Exits 1 when a record was skipped."""
    if str(path) != "-":
        skipped = asyncio.run(_import(path, path.name, channel, fmt, watch))
    else:  # spooled to a file: the format is guessed from the content, and read in one pass
        with tempfile.TemporaryDirectory(prefix="citewatch-import-") as tmp:
            spool = Path(tmp) / "stdin"
            with spool.open("wb") as out:
                shutil.copyfileobj(sys.stdin.buffer, out)
            skipped = asyncio.run(_import(spool, "stdin", channel, fmt, watch))
    if skipped:
        raise SystemExit(1)


async def _import(path: Path, name: str, channel: str | None, fmt: str, watch: bool) -> int:
    settings = get_settings()
    channel = _channel_opt(channel)
    try:
        kind = detect_format(path) if fmt == "auto" else fmt
    except OSError as exc:
        raise click.FileError(str(path), exc.strerror) from None
    readers = {"export": iter_export, "csv": iter_csv, "jsonl": iter_jsonl}
    if kind == "csv":
        csv.field_size_limit(CSV_FIELD_LIMIT)  # process-wide: this command is the edge that reads
    records = readers[kind](path, channel)
    # a bar only for a human watching a terminal; piped or logged stderr stays clean
    show = sys.stderr.isatty()
    total_lines = _count_lines(path) if show and kind == "jsonl" else None
    with tqdm(total=total_lines, unit="post", disable=not show, file=sys.stderr) as bar:
        async with open_db(settings) as db:
            result, issues = await import_records(db, records, progress=bar, watch=watch)
    for issue in issues[:50]:
        click.echo(f"{clean(name)}: {clean(str(issue))}", err=True)
    if len(issues) > 50:
        click.echo(f"... and {len(issues) - 50} more problems", err=True)
    click.echo(
        f"imported {result.inserted} new, {result.edited} edited, {result.unchanged} unchanged"
        f"; {len(issues)} skipped"
    )
    return len(issues)


@cli.command()
@click.option("--channel")
@click.option("--since", type=WHEN)
@click.option("--until", type=WHEN)
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), required=True)
@handle_errors
@run_async
async def export(channel: str | None, since: datetime | None, until: datetime | None,
                 fmt: str) -> None:
    """Write stored posts (and translations) to stdout; the inverse of import."""
    settings = get_settings()
    writer = csv.writer(sys.stdout) if fmt == "csv" else None
    if writer:
        writer.writerow(CSV_COLUMNS)
    async with open_db(settings, create=False) as db:
        async for p in posts_repo.iter_posts(db, _channel_opt(channel), since, until,
                                             with_versions=True):
            rec = export_record(p)
            if writer:
                writer.writerow(csv_row(rec))
            else:
                sys.stdout.write(jsonl_line(rec))


@cli.command()
@handle_errors
@run_async
async def reindex() -> None:
    """Compute every post's word forms again and re-index the posts whose forms changed (after
    an upgrade of the normaliser's rules or dictionaries); safe to interrupt and to repeat."""
    settings = get_settings()
    async with open_db(settings, create=False) as db:
        checked, posts_done, trs_done = await search_index.reindex(db)
    click.echo(f"checked {checked} posts: re-indexed {posts_done} posts and {trs_done}"
               " translations whose word forms changed")


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@handle_errors
@run_async
async def stats(as_json: bool) -> None:
    """Posts per channel, translated share, articles, citations, alerts by status."""
    settings = get_settings()
    async with open_db(settings, create=False) as db:
        s = await stats_repo.summary(db)
    if as_json:
        print_json(s)
        return
    click.echo(f"{'channel':<24} {'posts':>8} {'translated':>11} {'deleted':>8}")
    for c in s["channels"]:
        click.echo(f"{clean(c['channel']):<24} {c['posts']:>8} {c['translated_share']:>10.0%} "
                   f"{c['deleted']:>8}")
    click.echo(f"posts: {s['posts']} ({s['translated_share']:.0%} translated); "
               f"translation queue: {_counts(s['translation_queue'], 'empty')}")
    click.echo(f"feeds: {s['feeds']}; articles: {s['articles_total']}"
               + (f" ({_counts(s['articles'], '')})" if s["articles"] else ""))
    click.echo(f"citations: {s['citations']}; alerts: {_counts(s['alerts'], 'none')}")


def _counts(by_status: Mapping[str, int], empty: str) -> str:
    """{"pending": 3, "failed": 1} → "3 pending, 1 failed" (a person reads this, not Python)."""
    return ", ".join(f"{n} {status}" for status, n in sorted(by_status.items())) or empty
