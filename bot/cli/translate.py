"""``citewatch translate``: run the translation queue by hand until nothing is due."""

from __future__ import annotations

import sys

import click
from tqdm import tqdm

from bot.cli import cli
from bot.cli.common import clean, get_settings, handle_errors, open_db, run_async
from bot.tglinks import normalize_username
from bot.translate.providers import make_translator
from bot.translate.queue import TranslationQueue
from storage import translations as tr_repo


@cli.command()
@click.option("--channel", help="only posts of this channel")
@click.option("--retry-failed", is_flag=True, help="put failed posts back in the queue first")
@handle_errors
@run_async
async def translate(channel: str | None, retry_failed: bool) -> None:
    """Translate queued posts now (the service does this every TRANSLATE_INTERVAL seconds)."""
    settings = get_settings()
    if channel is not None:
        try:
            channel = normalize_username(channel)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--channel") from None
    # a model missing here is installed now (with AUTO_INSTALL_MODELS), not in the background
    translator = make_translator(settings, background_install=False)
    async with open_db(settings) as db:
        if retry_failed:
            n = await tr_repo.retry_failed(db, channel)
            click.echo(f"{n} failed post(s) put back in the queue", err=True)
        queue = TranslationQueue(db, translator, settings, channel=channel)
        depth = await tr_repo.queue_depth(db, channel=channel)
        translated = skipped = failed = retried = 0
        with tqdm(total=depth.due, unit="post", disable=not sys.stderr.isatty(),
                  file=sys.stderr, desc=f"translating ({translator.name})") as bar:
            while True:
                await queue.run_batch()
                s = queue.last
                translated += s.translated
                skipped += s.skipped
                failed += s.failed
                retried += s.retried
                bar.update(s.handled)
                if s.taken == 0 or s.paused_until is not None:
                    break
        depth = await tr_repo.queue_depth(db, channel=channel)
        failures = await tr_repo.failures(db, limit=10, channel=channel) if failed else []
    click.echo(f"translated {translated}, not needed {skipped}, failed {failed}, "
               f"to retry {retried}; queue: {depth.pending} pending, {depth.failed} failed")
    if translator.name == "none" and depth.pending:
        click.echo("no translator configured: posts wait in the queue "
                   "(set TRANSLATOR, see docs/translation.md)", err=True)
    if queue.paused_until is not None:
        click.echo(f"paused until {queue.paused_until.isoformat(timespec='seconds')} "
                   "(rate limit or quota); run again later", err=True)
    for item, reason in failures:
        click.echo(f"  failed: {item.channel}/{item.message_id}: {clean(reason)}", err=True)
