"""The ``citewatch`` command: a thin shell over the library. One module per group of commands."""

from __future__ import annotations

import os
import sys

import click

from bot.errors import CitewatchError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--env-file", type=click.Path(exists=True, dir_okay=False),
              help="settings file to read (default: .env when present)")
@click.option("--db", "db_path", metavar="PATH", help="database file (overrides CITEWATCH_DB)")
@click.version_option(package_name="citewatch", prog_name="citewatch")
@click.pass_context
def cli(ctx: click.Context, env_file: str | None, db_path: str | None) -> None:
    """Watch Telegram channels and find news articles that cite their posts."""
    obj = ctx.ensure_object(dict)
    obj["env_file"] = env_file or ".env"
    obj["db"] = db_path


def _register() -> None:
    # each module adds its commands to ``cli``; registered here, in one place
    from bot.cli import aliases, cite, data, feeds, models, run, status, telegram, translate  # noqa: F401


def main() -> None:
    _register()
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("citewatch: aborted", err=True)
        sys.exit(130)
    except click.exceptions.NoArgsIsHelpError as exc:
        # bare `citewatch` or a group without its subcommand: the whole help is the answer
        click.echo(exc.ctx.get_help() if exc.ctx is not None else "")
        sys.exit(0)
    except click.UsageError as exc:
        # one line, like every other error; the command's --help has the rest
        where = f" (see: {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
        message = " ".join(exc.format_message().split())
        click.echo(f"citewatch: error: {message}{where}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"citewatch: error: {' '.join(exc.format_message().split())}", err=True)
        sys.exit(exc.exit_code)
    except CitewatchError as exc:
        click.echo(f"citewatch: error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("citewatch: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: still one line, the traceback only on request
        if os.environ.get("LOG_LEVEL", "").lower() == "debug":
            raise
        click.echo(f"citewatch: internal error: {type(exc).__name__}: {exc} "
                   "(LOG_LEVEL=debug shows the traceback)", err=True)
        sys.exit(70)
