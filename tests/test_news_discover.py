"""Discovery queries: built within GDELT's rules from a channel's names, kept in step with the
watched channels in a real database, shown by `feeds list`, turned off by DISCOVER=off."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from bot.news import gdelt
from bot.news.discover import MAX_QUERY, build_query, discovery_for, spelling_variants, sync
from storage import channels as channels_repo
from storage import feeds as feeds_repo
from storage.db import Database
from storage.models import Channel
from tests.conftest import Cli
from tests.test_news_fetch import make_settings


def _terms(query: str) -> list[str]:
    body = query.removesuffix(" Telegram")
    return re.findall(r'"[^"]+"|[^\s()]+', body.strip("()").replace(" OR ", " "))


def test_query_keeps_gdelt_rules() -> None:
    q, kept = build_query(["Main Intelligence Directorate", "HUR", "GR", "Budanov (official)",
                           'the "agency"', "of Ukraine", "hur", "Telegram", "x" * 300])
    assert q == '("Main Intelligence Directorate" OR HUR OR "Budanov official" OR "the agency") Telegram'
    assert kept == ("Main Intelligence Directorate", "HUR", "Budanov official", "the agency")
    # one name: no parentheses (GDELT allows them only around OR'd terms)
    assert build_query(["Rybar"]) == ("Rybar Telegram", ("Rybar",))
    assert build_query(["AI", "of the"]) == (None, ())
    # too many names: those that do not fit are left out, the query stays within MAX_QUERY
    many = [f"Name{i} Agency{i}" for i in range(60)]
    q, kept = build_query(many)
    assert q is not None and len(q) <= MAX_QUERY and kept[0] == "Name0 Agency0"
    assert q.count('"') % 2 == 0 and q.count("(") == q.count(")") == 1
    gdelt.check_query(q)


def test_default_channel_query_from_aliases_and_title() -> None:
    settings = make_settings(Path("/tmp"))
    d = discovery_for(settings, Channel("DIUkraine", title="Defence Intelligence of Ukraine | ГУР"))
    assert d.query is not None and d.query.endswith(") Telegram") and len(d.query) <= MAX_QUERY
    terms = _terms(d.query)
    assert '"Main Intelligence Directorate"' in terms and "HUR" in terms
    # the title in both spellings (once each, whatever the aliases already said)
    assert terms.count('"Defence Intelligence of Ukraine"') == 1
    assert terms.count('"Defense Intelligence of Ukraine"') == 1
    assert all(len(w) >= 3 for t in terms for w in t.strip('"').split() if w.lower() != "of")
    assert spelling_variants("Centre of Defence") == ["Center of Defense"]
    assert spelling_variants("Rybar") == []
    # CHANNEL_ALIASES replaces the built-in names
    own = make_settings(Path("/tmp"), CHANNEL_ALIASES="DIUkraine=Kyiv spy agency")
    assert discovery_for(own, Channel("DIUkraine")).query == '("Kyiv spy agency" OR DIUkraine) Telegram'


async def test_sync_follows_channels_and_discover_off(db: Database, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, DISCOVER="auto", CHANNELS="DIUkraine,rybar",
                             CHANNEL_ALIASES="rybar=Rybar|Рыбарь")
    await sync(settings, db)  # channels not stored yet: CHANNELS still gets queries
    found = {f.discovered_for: f.url for f in await feeds_repo.discovered(db)}
    assert set(found) == {"DIUkraine", "rybar"}
    assert found["rybar"] == "gdelt:(Rybar OR Рыбарь) Telegram"
    # a resolved title changes the query: the old feed goes, the new one is due at once
    await channels_repo.add(db, "rybar")
    await channels_repo.set_resolved(db, "rybar", tg_id=1, access_hash=2, title="Rybar Main Channel")
    await sync(settings, db)
    found2 = {f.discovered_for: f.url for f in await feeds_repo.discovered(db)}
    assert found2["rybar"] == 'gdelt:(Rybar OR Рыбарь OR "Rybar Main Channel") Telegram'
    assert await feeds_repo.get(db, found["rybar"]) is None
    assert found2["rybar"] in [f.url for f in await feeds_repo.due(db)]
    # `channels alias add/remove` reach the query (the same names detection uses)
    await channels_repo.set_aliases(db, "rybar", ["Rybar agency"], ["Рыбарь"])
    await sync(settings, db)
    found3 = {f.discovered_for: f.url for f in await feeds_repo.discovered(db)}
    assert found3["rybar"] == 'gdelt:(Rybar OR "Rybar Main Channel" OR "Rybar agency") Telegram'
    # a hand-added feed is never touched by discovery
    await feeds_repo.add(db, "https://news.example/rss")
    await sync(make_settings(tmp_path, DISCOVER="off", CHANNELS="DIUkraine"), db)
    assert [f.url for f in await feeds_repo.list_all(db)] == ["https://news.example/rss"]


def test_feeds_list_shows_discovery_and_off_removes_it(env: dict[str, str], cli: Cli) -> None:
    def run(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return cli({**env, **extra}, *args)

    r = run("feeds", "list", DISCOVER="auto")
    assert r.returncode == 0, r.stderr
    assert "gdelt:(" in r.stdout and "discovery query for @DIUkraine" in r.stdout
    assert "DISCOVER=off" in r.stdout
    [feed] = json.loads(run("feeds", "list", "--json", DISCOVER="auto").stdout)
    assert feed["discovered_for"] == "DIUkraine" and feed["kind"] == "gdelt"
    assert '"Main Intelligence Directorate"' in feed["url"]
    r = run("feeds", "list", "--json", DISCOVER="off")
    assert r.returncode == 0 and json.loads(r.stdout) == []
    r = run("run", "--dry-run", DISCOVER="auto")
    assert "discovery: auto (1 GDELT queries)" in r.stdout
    assert f"  {feed['url']}  (@DIUkraine)" in r.stdout.splitlines()
    assert "discovery: off (0 GDELT queries)" in run("run", "--dry-run", DISCOVER="off").stdout
