"""``citewatch check-article`` and ``citewatch citations``, run as the real command on a temp database."""

from __future__ import annotations

import asyncio
import html
import json
from datetime import timedelta
from pathlib import Path

from bot.cite.pipeline import check_article
from bot.config import load_settings
from storage import articles
from storage.db import Database
from storage.models import Article
from tests.conftest import Cli
from tests.test_cite_detect import MODEL_ARTICLE, POST_TIME, SAME_TOPIC_ARTICLE
from tests.test_cite_pipeline import seed


def page(body: str, *, published: str = "2023-05-02T16:00:00+00:00", extra: str = "") -> str:
    paras = "".join(f"<p>{html.escape(p)}</p>" for p in body.split("\n\n") if p.strip())
    return (
        "<!doctype html><html lang=en><head><title>Conscripts refuse contracts</title>"
        f'<meta property="article:published_time" content="{published}">'
        '<link rel="canonical" href="https://news.example/conscripts"></head>'
        f"<body><nav>Home | World</nav><article><h1>Conscripts refuse contracts</h1>{paras}{extra}"
        "</article><footer>© News Example</footer></body></html>"
    )


async def _seed(env: dict[str, str]) -> None:
    db = await Database.open(env["CITEWATCH_DB"])
    try:
        await seed(db)
    finally:
        await db.close()


async def test_check_article_json_on_a_local_file(cli: Cli, env: dict[str, str], tmp_path: Path) -> None:
    await _seed(env)
    f = tmp_path / "article.html"
    f.write_text(page(MODEL_ARTICLE), encoding="utf-8")
    res = cli(env, "check-article", str(f), "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["article"]["title"] == "Conscripts refuse contracts"
    assert out["article"]["published"] == "2023-05-02T16:00:00+00:00"
    assert out["article"]["url"].startswith("file://")
    [c] = out["citations"]
    assert (c["channel"], c["message_id"], c["post_url"]) == (
        "DIUkraine", 1908, "https://t.me/DIUkraine/1908")
    assert c["score"] >= 0.6 and c["alert"] is True
    assert {e["kind"] for e in c["evidence"]} >= {"quote", "time"}
    assert all({"kind", "text", "weight"} <= e.keys() for e in c["evidence"])


def test_check_article_embed_from_stdin_and_published_override(cli: Cli, env: dict[str, str]) -> None:
    asyncio.run(_seed(env))
    embed = ('<blockquote class="telegram-post" data-telegram-post="DIUkraine/1908">'
             '<a href="https://t.me/DIUkraine/1908">post</a></blockquote>')
    body = page(SAME_TOPIC_ARTICLE, extra=embed)
    res = cli(env, "check-article", "-", "--json", stdin=body)
    assert res.returncode == 0, res.stderr
    [c] = json.loads(res.stdout)["citations"]
    assert c["score"] == 1.0 and c["evidence"][0]["kind"] == "embed" and c["alert"] is True
    # without the embed, a page sharing only two numbers with the post: named, but no alert
    weak = "Forty servicemen of the 127th division filed reports, Russian media said. 40 of them."
    res = cli(env, "check-article", "-", "--json", stdin=page(weak))
    out = json.loads(res.stdout)
    assert out["citations"] and all(c["alert"] is False and c["score"] < out["threshold"]
                                    for c in out["citations"]), out
    # the same page dated before the post: never a citation
    res = cli(env, "check-article", "-", "--json", "--published", "2023-04-30T10:00:00Z",
                  stdin=body)
    assert json.loads(res.stdout)["citations"] == []


def test_check_article_plain_text_human_output(cli: Cli, env: dict[str, str], tmp_path: Path) -> None:
    asyncio.run(_seed(env))
    f = tmp_path / "article.txt"
    f.write_text(MODEL_ARTICLE, encoding="utf-8")
    res = cli(env, "check-article", str(f), "--published", "2023-05-02T16:00:00Z")
    assert res.returncode == 0, res.stderr
    assert "https://t.me/DIUkraine/1908" in res.stdout and "ALERT" in res.stdout
    assert "quotes " in res.stdout and "published 31 h after the post" in res.stdout


def test_check_article_bad_input_is_one_line(cli: Cli, env: dict[str, str], tmp_path: Path) -> None:
    res = cli(env, "check-article", str(tmp_path / "missing.html"))
    assert res.returncode == 2 and res.stderr.strip().count("\n") == 0
    assert "no such file or URL" in res.stderr
    empty = tmp_path / "empty.html"
    empty.write_bytes(b"   ")
    res = cli(env, "check-article", str(empty))
    assert res.returncode == 2 and "empty article" in res.stderr
    res = cli(env, "check-article", str(empty), "--published", "yesterday-ish")
    assert res.returncode == 2 and "not a date" in res.stderr


def test_check_article_refuses_binary_input(cli: Cli, env: dict[str, str], tmp_path: Path) -> None:
    """An image, an archive or an executable is not an article: one line, exit 2, no database made."""
    png = tmp_path / "photo.html"  # the name does not matter, the bytes do
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8)
    res = cli(env, "check-article", str(png))
    assert res.returncode == 2, res.stdout
    assert res.stderr.strip().count("\n") == 0 and res.stdout == ""
    assert "photo.html: binary content, not an article (give an HTML page or a text file)" in res.stderr
    assert not Path(env["CITEWATCH_DB"]).exists()
    elf = tmp_path / "tool"
    elf.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(200))
    for args, stdin, name in (((str(elf),), None, str(elf)), (("-",), "caf\u00e9\x00\x01\x02 NULs", "stdin")):
        res = cli(env, "check-article", *args, stdin=stdin)
        assert res.returncode == 2 and res.stdout == "", res.stdout
        assert res.stderr == (f"citewatch: error: {name}: binary content, not an article "
                              "(give an HTML page or a text file)\n"), res.stderr


def test_citations_lists_newest_first(cli: Cli, env: dict[str, str], tmp_path: Path) -> None:
    ids = asyncio.run(_two_checked_articles(env))
    res = cli(env, "citations", "--json")
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert [r["article"]["id"] for r in rows] == [ids[1], ids[0]]
    assert rows[0]["post_url"] == "https://t.me/DIUkraine/1908" and rows[0]["evidence"]
    res = cli(env, "citations", "--since", "2099-01-01", "--json")
    assert res.returncode == 0 and json.loads(res.stdout) == []
    res = cli(env, "citations", "--since", "1d", "--json")
    assert len(json.loads(res.stdout)) == 2
    assert "Story 1" in cli(env, "citations").stdout


async def _two_checked_articles(env: dict[str, str]) -> list[int]:
    db = await Database.open(env["CITEWATCH_DB"])
    try:
        await seed(db)
        s = load_settings(env, dotenv_path=None)
        ids = []
        for i, hours in enumerate((31, 40)):
            aid, _ = await articles.add(db, Article(
                url=f"https://news.example/{i}", text=MODEL_ARTICLE, title=f"Story {i}",
                published=POST_TIME + timedelta(hours=hours)))
            await check_article(db, aid, s)
            ids.append(aid)
    finally:
        await db.close()
    return ids
