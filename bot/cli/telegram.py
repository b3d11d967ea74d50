"""``citewatch login`` and ``citewatch channels add|list|remove``: the account and the watch list."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import click

from bot.cli import cli
from bot.cli.common import clean, get_settings, handle_errors, open_db, print_json, run_async
from bot.config import Settings
from bot.errors import CitewatchError, SourceError
from bot.tglinks import normalize_username
from storage import channels as channels_repo
from storage.db import Database

if TYPE_CHECKING:
    from bot.telegram.source import ChannelSource

# Telethon is imported inside the commands that use it: loading it costs ~0.2 s, which every
# other `citewatch` command (search, stats, ...) should not pay.


@cli.command()
@handle_errors
@run_async
async def login() -> None:
    """Log the Telegram account in (phone, code, 2FA password); the session is kept private."""
    from telethon.errors import RPCError

    from bot.telegram.client import make_client

    settings = get_settings()
    client = make_client(settings)
    try:
        await client.connect()
        if not await client.is_user_authorized():
            await client.start(
                phone=lambda: click.prompt("Phone number (international format)"),
                code_callback=lambda: click.prompt("Login code"),
                password=lambda: click.prompt("Two-step verification password", hide_input=True),
                max_attempts=3,
            )
        me = await client.get_me()
        who = f"@{me.username}" if getattr(me, "username", None) else (me.first_name or "you")
        click.echo(f"logged in as {who}; session stored at {client.session_path} (mode 0600)")
    except CitewatchError:
        raise
    except (ValueError, RuntimeError) as exc:  # Telethon's own wording for bad input
        raise SourceError(f"login failed: {exc}") from None
    except RPCError as exc:  # e.g. a wrong 2FA password after max_attempts tries
        raise SourceError(f"login failed: {str(exc).split(' (caused by')[0]}") from None
    finally:
        await client.close()


@cli.group()
def channels() -> None:
    """The channels citewatch watches."""


def _names(values: tuple[str, ...]) -> list[str]:
    out = []
    for v in values:
        try:
            out.append(normalize_username(v))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="USERNAME") from None
    return out


async def _add(settings: Settings, db: Database, source: ChannelSource, names: list[str],
               join: bool) -> int:
    from bot.telegram.telethon_source import TelethonSource

    failed = 0
    joined_any = False
    for name in names:
        try:
            ch = await source.resolve(name)
            if not ch.active:
                await channels_repo.activate(db, ch.username)
            if join and not ch.joined:
                if not isinstance(source, TelethonSource):
                    raise SourceError("--join needs the Telegram account (SOURCE=telethon)")
                if joined_any and settings.join_delay:
                    await asyncio.sleep(settings.join_delay)  # joins in a burst earn flood waits
                ch = await source.join(ch)
                joined_any = True
        except CitewatchError as exc:
            failed += 1
            click.echo(f"citewatch: error: {exc}", err=True)
            continue
        state = "joined" if ch.joined else "not joined: polled every POLL_INTERVAL"
        click.echo(f"watching @{ch.username}{f' ({ch.title})' if ch.title else ''}, {state}")
    return failed


@channels.command("add")
@click.argument("usernames", nargs=-1, required=True)
@click.option("--join", is_flag=True, help="join too, so new posts arrive live (Telethon only)")
@handle_errors
@run_async
async def channels_add(usernames: tuple[str, ...], join: bool) -> None:
    """Watch channels given as USERNAME, @USERNAME or a t.me link; resolved once and kept."""
    from bot.telegram.session import SessionBusy
    from bot.telegram.source import make_source

    names = _names(usernames)
    settings = get_settings()
    async with open_db(settings) as db:
        source = make_source(settings, db)
        try:
            await source.start()
        except SessionBusy as exc:
            if join:
                raise
            # the running service owns the session; it resolves new rows on its next poll
            for name in names:
                await channels_repo.add(db, name, settings.aliases_for(name))
                await channels_repo.activate(db, name)
                click.echo(f"added @{name} unresolved ({exc}); the running citewatch resolves it "
                           "within POLL_INTERVAL and logs an error if it is not a public channel")
            return
        try:
            failed = await _add(settings, db, source, names, join)
        finally:
            await source.stop()
    if failed:
        raise SystemExit(2)  # each failure was reported on its own line above


@channels.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON output")
@handle_errors
@run_async
async def channels_list(as_json: bool) -> None:
    """Channels: watched (joined or polled), archived (imported, not polled) or removed."""
    settings = get_settings()
    async with open_db(settings) as db:
        rows = await channels_repo.list_all(db)
    if as_json:
        print_json([{
            "username": c.username, "title": c.title, "tg_id": c.tg_id, "joined": c.joined,
            "active": c.active, "state": c.state, "posts": c.post_count,
            "last_message_id": c.last_message_id,
            "last_success_at": c.last_success_at, "last_error": c.last_error,
            "paused_until": c.paused_until,
        } for c in rows])
        return
    if not rows:
        click.echo("no channels (add one with: citewatch channels add USERNAME)")
        return
    for c in rows:
        flags = ["joined" if c.joined else "polled"]
        if not c.active:
            flags = [c.state]
        if c.tg_id is None and c.active:
            flags.append("unresolved")
        if c.paused_until is not None:
            flags.append(f"paused until {c.paused_until.isoformat(timespec='seconds')}")
        line = f"@{c.username:<24} {c.post_count:>7} posts  last id {c.last_message_id:<8} " \
               f"{', '.join(flags)}"
        if c.last_error:
            line += f"  last error: {c.last_error}"
        click.echo(clean(line.replace("\n", " ")))


@channels.command("remove")
@click.argument("username")
@handle_errors
@run_async
async def channels_remove(username: str) -> None:
    """Stop watching a channel; its posts stay searchable."""
    [name] = _names((username,))
    settings = get_settings()
    async with open_db(settings) as db:
        ch = await channels_repo.get(db, name)
        if ch is None or not ch.active:
            raise SourceError(f"@{name} is not being watched")
        await channels_repo.remove(db, ch.username)
    click.echo(f"stopped watching @{ch.username}; its {ch.post_count or 'stored'} posts are kept")
