"""End to end: `citewatch run` with no feed settings finds the news quoting a watched channel.

The only setting beyond the usual test plumbing is GDELT_API_URL: DISCOVER defaults to auto, so the
watched channel (@DIUkraine, read from its t.me/s preview) gets a GDELT query built from its aliases.
The local GDELT answers with three copies of one article (the original, a scraped copy with "[ad_1]"
junk, a mirror) and an unrelated article; the original quotes a stored post. Exactly one alert goes
out for the story, naming the first outlet and listing the two copies.
"""

from __future__ import annotations

import asyncio
import html
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import shared_data
from tests.gdelt_server import FakeGdelt, artlist
from tests.httpserver import Response, TestHTTPServer
from tests.news_pages import ARTICLES_FILE, article_page, real_texts
from tests.test_e2e_service import POST_UK, libretranslate, query, stop_run, translated, wait_for

BODY = [
    "Ukraine's military intelligence says Russian soldiers mobilised last autumn are refusing to "
    "fight in the south of the country, and that desertion is becoming a problem for commanders.",
    'The mobilised contingent "does not want to replenish the composition of the occupation '
    'contingent", according to a translation of a post on Telegram. The command, the post added, '
    "threatens them with criminal liability.",
    "More than 40 cases of soldiers leaving the unit without permission were recorded in the 205th "
    "motorised rifle brigade, the intelligence directorate said. The claims could not be "
    "independently verified.",
    "Russia's defence ministry did not respond to a request for comment on Tuesday. Military "
    "analysts have long pointed to morale problems among mobilised troops, many of whom were sent "
    "to the front with little training and poor equipment, according to independent researchers.",
]


def page(url: str, site: str, published: datetime, paragraphs: list[str]) -> str:
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Mobilised Russians refuse to fight, Kyiv says</title>
<meta property="og:site_name" content="{html.escape(site)}">
<meta property="article:published_time" content="{published.isoformat()}">
<link rel="canonical" href="{url}"></head><body>
<article><h1>Mobilised Russians refuse to fight, Kyiv says</h1>{body}</article>
<footer><a href="/">{html.escape(site)}</a></footer></body></html>"""


@pytest.mark.timeout(150)
async def test_run_discovers_the_story_and_alerts_once(
    tmp_path: Path, env: dict[str, str], http: TestHTTPServer
) -> None:
    from tests.test_webpreview import WebMsg, text_html
    from tests.test_webpreview_source import FakePreview

    now = datetime.now(UTC)
    preview = FakePreview("DIUkraine")
    preview.add(2, "Старий пост {i} про обстановку.", start=now - timedelta(hours=5))
    post_id = max(preview.msgs) + 1
    preview.msgs[post_id] = WebMsg(post_id, text_html(POST_UK), date=now - timedelta(hours=3))
    http.route("/s/DIUkraine", preview)
    http.route("/translate", libretranslate)

    first = http.url("/newsweek/mobilised-russians-refuse")
    farm = http.url("/farm/2026/mobilised-russians-refuse-to-fight?utm_source=x")
    mirror = http.url("/mirror/mobilised")
    other = http.url("/other/unrelated")
    http.route("/newsweek/mobilised-russians-refuse",
               Response(200, page(first, "Newsweek", now - timedelta(hours=2), BODY)))
    junk = ["[ad_1]", BODY[0], BODY[1], "[ad_2]", BODY[2], BODY[3], "[ad_3] Source link"]
    http.route("/farm/2026/mobilised-russians-refuse-to-fight",
               Response(200, page(farm, "Daily Scrape <b>Farm</b>", now - timedelta(hours=1), junk)))
    http.route("/mirror/mobilised",
               Response(200, page(mirror, "Mirror Times", now - timedelta(minutes=30), BODY[:3])))
    [unrelated_text] = real_texts(shared_data(ARTICLES_FILE), 1)
    http.route("/other/unrelated", Response(200, article_page(unrelated_text, title="Other news",
                                                             canonical=other)))
    gd = FakeGdelt(http)
    gd.replies = [artlist([farm, mirror, other, first])]  # newest first, as sort=datedesc lists

    env = {**env, "SOURCE": "auto", "WEB_BASE_URL": http.base, "WEB_INTERVAL": "0.05",
           "TRANSLATOR": "libretranslate", "LIBRETRANSLATE_URL": http.base,
           "TRANSLATE_INTERVAL": "1", "ALERT_INTERVAL": "1", "CITATION_THRESHOLD": "0.5",
           "GDELT_API_URL": gd.url}
    for name in ("DISCOVER", "FEEDS"):
        env.pop(name, None)  # the defaults: discovery on, no feeds
    db = tmp_path / "cw.db"
    out, err = tmp_path / "run.out", tmp_path / "run.log"
    with out.open("ab") as fo, err.open("ab") as fe:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", env=env, stdout=fo, stderr=fe,
            stdin=asyncio.subprocess.DEVNULL)
    try:
        await wait_for(translated(db, post_id), 40, "the stored post translated")
        await wait_for(lambda: "is cited" in out.read_text(errors="replace"), 60, "the alert")
        await asyncio.sleep(4)  # any second alert (a copy alerting again) would show by now
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- log ---\n{err.read_text(errors='replace')[-4000:]}") from None
    finally:
        rc, took = await stop_run(proc)
    text = out.read_text(errors="replace")
    log = err.read_text(errors="replace")
    assert rc == 0 and took < 10, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    # the query GDELT was asked: the channel's aliases, with the word Telegram
    [req] = gd.requests
    q = req.query["query"][0]
    assert q.endswith(") Telegram") and '"Main Intelligence Directorate"' in q and " OR HUR" in q
    assert req.query["mode"] == ["artlist"] and req.query["format"] == ["json"]
    # exactly one alert, for the story: the first outlet named, the copies listed
    assert text.count("is cited (score") == 1, text
    assert f"t.me/DIUkraine/{post_id}" in text
    head = text.split("\n\n")[0]
    assert f"({first})" in head and "Newsweek" in head
    assert "Copies (2): Daily Scrape <b>Farm</b>" in head and "Mirror Times" in head
    assert "/farm/2026/mobilised-russians-refuse-to-fight" in head and mirror in head
    assert other not in text
    assert query(db, "SELECT count(*), min(status) FROM alerts") == [(1, "printed")]
    stories = query(db, "SELECT story_id, count(*) FROM articles WHERE status != 'error'"
                        " GROUP BY story_id ORDER BY count(*) DESC")
    assert [n for _s, n in stories] == [3, 1]
