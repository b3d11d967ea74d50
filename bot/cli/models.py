"""``citewatch models install|list|remove``: offline translation models in MODELS_DIR."""

from __future__ import annotations

import json
import sys

import click
from tqdm import tqdm

from bot.cli import cli
from bot.cli.common import get_settings, run_async
from bot.errors import ModelInstallError
from bot.translate import install as installer
from bot.translate import packages


def _target(to: str | None) -> str:
    return (to or get_settings().translate_to).split("-")[0].lower()


@cli.group()
def models() -> None:
    """Offline translation models (Argos packages run with CTranslate2)."""


@models.command("install")
@click.argument("langs", nargs=-1, required=True)
@click.option("--to", "to", help="target language (default: TRANSLATE_TO)")
@run_async
async def install_cmd(langs: tuple[str, ...], to: str | None) -> None:
    """Download and install the model for each source language, e.g. ``models install uk ru``."""
    settings = get_settings()
    target = _target(to)
    inst = installer.ModelInstaller(settings)
    try:
        entries = await inst.index()
    except ModelInstallError as exc:
        click.echo(f"citewatch: error: {exc}", err=True)
        sys.exit(1)
    failed = 0
    for lang in dict.fromkeys(x.lower() for x in langs):
        with tqdm(unit="B", unit_scale=True, unit_divisor=1024, desc=f"{lang}→{target}",
                  disable=not sys.stderr.isatty(), file=sys.stderr, leave=False) as bar:
            def progress(done: int, total: int | None, bar: tqdm = bar) -> None:
                if total is not None and bar.total != total:
                    bar.total = total
                bar.update(done - bar.n)

            try:
                package = await inst.install(lang, target, progress=progress, entries=entries)
            except ModelInstallError as exc:
                bar.close()
                click.echo(f"citewatch: error: {lang}→{target}: {exc}", err=True)
                failed += 1
                continue
        click.echo(f"installed {package.version} ({lang}→{target}, {package.size / 1e6:.1f} MB) "
                   f"in {package.path}")
    if failed:
        sys.exit(1)


@models.command("list")
@click.option("--available", is_flag=True, help="also list the models the index offers")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@run_async
async def list_cmd(available: bool, as_json: bool) -> None:
    """Installed models (and, with --available, what the index offers into TRANSLATE_TO)."""
    settings = get_settings()
    have = packages.installed(settings.models_dir)
    offered = []
    if available:
        try:
            entries = await installer.ModelInstaller(settings).index()
        except ModelInstallError as exc:
            click.echo(f"citewatch: error: {exc}", err=True)
            sys.exit(1)
        target = _target(None)
        offered = [e for e in entries if e.to_code == target]
    if as_json:
        click.echo(json.dumps({
            "models_dir": str(settings.models_dir),
            "installed": [{"code": p.code, "from": p.from_code, "to": p.to_code,
                           "version": p.package_version, "path": str(p.path), "bytes": p.size}
                          for p in have],
            **({"available": [{"code": e.code, "from": e.from_code, "to": e.to_code,
                               "version": e.package_version} for e in offered]} if available else {}),
        }, ensure_ascii=False, indent=2))
        return
    if not have:
        click.echo(f"no models installed in {settings.models_dir} "
                   "(install one with: citewatch models install uk ru)")
    for p in have:
        click.echo(f"{p.from_code}→{p.to_code}  {p.package_version:<6} {p.size / 1e6:7.1f} MB  {p.path}")
    if available:
        installed_pairs = {(p.from_code, p.to_code) for p in have}
        click.echo(f"available into {_target(None)}:")
        for e in offered:
            mark = " (installed)" if (e.from_code, e.to_code) in installed_pairs else ""
            click.echo(f"  {e.from_code}  {e.from_name} {e.package_version}{mark}")


@models.command("remove")
@click.argument("langs", nargs=-1, required=True)
@click.option("--to", "to", help="target language (default: TRANSLATE_TO)")
def remove_cmd(langs: tuple[str, ...], to: str | None) -> None:
    """Delete the installed model of each source language."""
    settings = get_settings()
    target = _target(to)
    missing = 0
    for lang in dict.fromkeys(x.lower() for x in langs):
        try:
            gone = installer.remove(settings.models_dir, lang, target)
        except ModelInstallError as exc:
            click.echo(f"citewatch: error: {lang}→{target}: {exc}", err=True)
            missing += 1
            continue
        if not gone:
            click.echo(f"citewatch: error: no {lang}→{target} model installed in {settings.models_dir}",
                       err=True)
            missing += 1
        for p in gone:
            click.echo(f"removed {p.version} ({p.path})")
    if missing:
        sys.exit(1)
