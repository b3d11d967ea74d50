"""Search: bm25 order, filters and formats through the real CLI, and safety for any user string."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import random
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from storage import posts, search
from storage.db import Database
from storage.errors import QueryError
from storage.fts_query import parse, to_fts5
from storage.models import Post
from tests.conftest import Cli

# -- the pure query translator -------------------------------------------------------------------

NASTY = ['"', '""', '"""', "'", "AND", "OR", "NOT", "NEAR", "NEAR(a b)", "*", "-", "--", ":", "(",
         ")", "^", "+", "text:foo", "translation:bar", "{text translation}:x", "a OR", "OR a",
         "NOT a", "-a", "a -", "a*", "*a", "a:b:c", "🇺🇦", "💥 удар", "\x00", "\\", "%", "_", "'; DROP",
         "ЗСУ", "контингент", "\u200b", "\t\n", "a\"b", "AND OR NOT", "near", "rowid:1", "rank:2"]


def _fts_conn() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE f USING fts5(text, translation, "
                 "tokenize = 'unicode61 remove_diacritics 2')")
    conn.execute("INSERT INTO f VALUES ('ЗСУ знищили контингенту a b foo', 'Ukraine forces bar')")
    return conn


def _random_queries(n: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    pieces = [*NASTY, "Розвідка", "ukraine", "a", "foo", " ", '"', "-", "*", ":"]
    return ["".join(rnd.choice(pieces) + rnd.choice(["", " "]) for _ in range(rnd.randint(0, 7)))
            for _ in range(n)]


def test_every_string_becomes_valid_fts5_or_a_query_error() -> None:
    """Property: for thousands of nasty strings the output is accepted by FTS5 (or QueryError)."""
    conn = _fts_conn()
    rnd = random.Random(3)
    strings = [*NASTY, *_random_queries(3000, 1)]
    strings += ["".join(chr(rnd.randrange(1, 0x2FFF)) for _ in range(rnd.randint(1, 12)))
                for _ in range(1000)]
    errors = 0
    for s in strings:
        try:
            match = to_fts5(s)
        except QueryError as exc:
            assert "\n" not in str(exc)
            errors += 1
            continue
        conn.execute("SELECT count(*) FROM f WHERE f MATCH ?", (match,)).fetchone()
    assert 0 < errors < len(strings)  # both outcomes really happen


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ЗСУ", '"ЗСУ"'),
        ("контингент", '"контингент"'),  # a lemma: other forms hold it in the index
        ("контингенту", '("контингенту" OR "контингент")'),  # as written, or any form
        ('"знищили контингенту"', '{text translation} : "знищили контингенту"'),  # exact forms
        ('"контингенту"', '{text translation} : "контингенту"'),
        ("forc*", '{text translation} : "forc"*'),
        ("ukraine OR russia", '(("ukraine" OR "ukrain") OR "russia")'),
        ("ukraine -russia", '("ukraine" OR "ukrain") NOT ("russia")'),
        ("Мар'їнки", '({text translation} : "Мар їнки" OR "марїнка")'),
        ("text:foo", '{text translation} : "text foo"'),  # a column filter is plain text
        ("AND", None),
        ("-only", None),
        ('"', None),
    ],
)
def test_translation_examples(query: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(QueryError):
            to_fts5(query)
    else:
        assert to_fts5(query) == expected


# -- ranking and filters in storage ---------------------------------------------------------------

def _p(ch: str, mid: int, day: int, text: str) -> Post:
    return Post(channel=ch, message_id=mid, date=datetime(2023, 1, day, tzinfo=UTC), text=text)


async def test_bm25_order(db: Database) -> None:
    await posts.upsert_many(db, [
        _p("DIUkraine", 1, 1, "дрон " + "інші слова тут " * 30),
        _p("DIUkraine", 2, 2, "дрон дрон дрон атакував"),
        _p("DIUkraine", 3, 3, "дрон атакував склад " + "ще " * 10),
        _p("DIUkraine", 4, 4, "нічого схожого"),
    ])
    hits = await search.query(db, "дрон")
    assert [h.message_id for h in hits] == [2, 3, 1]
    assert hits[0].score > hits[1].score > hits[2].score
    assert hits[0].url == "https://t.me/DIUkraine/2"
    assert "\x02дрон\x03" in hits[0].text_snippet


async def test_filters_and_limit_on_a_common_word(db: Database) -> None:
    await posts.upsert_many(db, [_p("DIUkraine" if i % 2 else "rybar", i, 1 + i % 28, f"спільне {i}")
                                 for i in range(1, 301)])
    hits = await search.query(db, "спільне", channel="rybar", limit=500)
    assert len(hits) == 150 and {h.channel for h in hits} == {"rybar"}
    hits = await search.query(db, "спільне", since=datetime(2023, 1, 20, tzinfo=UTC),
                              until=datetime(2023, 1, 22, tzinfo=UTC), limit=500)
    assert hits and {h.date.day for h in hits} == {20, 21}
    assert len(await search.query(db, "спільне", limit=7)) == 7


async def _corpus(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Small caps so a few posts make a word "common": 'загальне' is in all 12 posts."""
    monkeypatch.setattr(search, "RARE_CAP", 5)
    rows = [_p("rybar" if i % 3 == 0 else "DIUkraine", i, i, f"загальне слово номер {i}")
            for i in range(1, 11)]
    rows += [
        _p("DIUkraine", 11, 11, "загальне Авдіївка " + "інші слова тут " * 20),
        _p("rybar", 12, 12, "загальне Авдіївка Авдіївка штурм"),
    ]
    await posts.upsert_many(db, rows)


async def test_ranked_by_the_rare_term(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    await _corpus(db, monkeypatch)
    q = parse("загальне Авдіївка")
    counts = {'"загальне"': 12, '"загальний"': 0, '"Авдіївка"': 2}
    plan = search.plan(q, [counts[p] for p in q.probes()])
    assert plan.rank == '"Авдіївка"' and plan.match == '("загальне" OR "загальний") AND "Авдіївка"'
    hits = await search.query(db, "загальне Авдіївка")
    assert [h.message_id for h in hits] == [12, 11]  # the rare term's best bm25 first
    assert hits[0].score > hits[1].score > 0
    # every term is highlighted, the common one too
    assert "\x02загальне\x03" in hits[0].text_snippet and "\x02Авдіївка\x03" in hits[0].text_snippet
    # a common negative still filters
    assert [h.message_id for h in await search.query(db, "Авдіївка -штурм")] == [11]
    assert [h.message_id for h in await search.query(db, "Авдіївка", channel="rybar")] == [12]


async def test_all_common_query_lists_newest_first(db: Database, monkeypatch: pytest.MonkeyPatch
                                                   ) -> None:
    await _corpus(db, monkeypatch)
    hits = await search.query(db, "загальне слово", limit=5)
    assert [h.message_id for h in hits] == [11, 10, 9, 8, 7]  # 11 says "слова": a form of it
    assert all(h.score == 0.0 for h in hits)
    # a phrase of common words is as common as its rarest word: newest first too
    assert [h.message_id for h in await search.query(db, '"загальне слово"', limit=3)] == [10, 9, 8]
    assert "\x02загальне\x03" in hits[0].text_snippet and "\x02слова\x03" in hits[0].text_snippet
    assert "\x02слово\x03" in hits[1].text_snippet  # another form is highlighted as well
    # filters stay exact, whether the walk goes down in slices of 1 post or of all of them
    monkeypatch.setattr(search, "WALK_ROUNDS", 50)
    for cap in (1, 1000):
        monkeypatch.setattr(search, "WALK_CAP", cap)
        hits = await search.query(db, "загальне", channel="rybar",
                                  since=datetime(2023, 1, 3, tzinfo=UTC),
                                  until=datetime(2023, 1, 10, tzinfo=UTC))
        assert [h.message_id for h in hits] == [9, 6, 3]
        assert await search.query(db, "загальне", since=datetime(2030, 1, 1, tzinfo=UTC)) == []
        hits = await search.query(db, "загальне", until=datetime(2023, 1, 3, tzinfo=UTC))
        assert [h.message_id for h in hits] == [2, 1]
        assert not any(h.capped for h in hits)
    # a walk that runs out of rounds before `limit` rows says so (older matches may exist)
    monkeypatch.setattr(search, "WALK_ROUNDS", 2)
    monkeypatch.setattr(search, "WALK_CAP", 1)
    hits = await search.query(db, "загальне", channel="rybar")
    assert [h.message_id for h in hits] == [12] and hits[0].capped  # 1 + 2 newest looked at


async def test_any_form_finds_every_form_and_prefixes_stay_prefixes(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    await _corpus(db, monkeypatch)
    await posts.upsert_many(db, [_p("DIUkraine", 20, 20, "контингенту НАТО"),
                                 _p("DIUkraine", 21, 21, "загальнення і номери"),
                                 _p("DIUkraine", 22, 22, "Україна"),
                                 _p("DIUkraine", 23, 23, "гуманітарна допомога для України"),
                                 _p("DIUkraine", 24, 24, "Обстріл у Макіївці"),
                                 _p("DIUkraine", 25, 25, "Макіївка знову")])

    async def ids(q: str) -> list[int]:
        return [h.message_id for h in await search.query(db, q, limit=50)]

    assert await ids("контингент") == [20]
    assert await ids("контингентом") == [20]
    assert await ids("контин*") == [20]
    # a different word is not a form: "загальнення" is not found by "загальне"; a prefix finds it
    assert 21 not in await ids("загальне")
    assert (await ids("загал*"))[0] == 21
    # the examples, with the form typed first
    assert await ids("Україна") == [22, 23]
    assert await ids("України") == [23, 22]
    assert await ids("Макіївка") == [25, 24]
    assert await ids("Макіївці") == [24, 25]
    # quotes keep the exact form; an exclusion excludes every form; OR still joins
    assert await ids('"Україна"') == [22]
    assert await ids('"України"') == [23]
    assert await ids("допомога -Україна") == []
    assert sorted(await ids("Україна OR контингент")) == [20, 22, 23]


# -- the real CLI ---------------------------------------------------------------------------------

ROWS = [
    {"channel": "DIUkraine", "id": 1, "date": "2023-01-10T10:00:00+00:00",
     "text": "Розвідка: дрони атакували склад у Криму",
     "translation": "Intelligence: drones hit a depot in Crimea"},
    {"channel": "DIUkraine", "id": 2, "date": "2023-02-10T10:00:00+00:00",
     "text": "Дрони, дрони і ще раз дрони над Кримом"},
    {"channel": "rybar", "id": 7, "date": "2023-03-10T10:00:00+00:00", "text": "Дроны над Крымом, дрони"},
]


@pytest.fixture
def filled(cli: Cli, env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    src = tmp_path / "posts.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ROWS))
    proc = cli(env, "import", str(src))
    assert proc.returncode == 0, proc.stderr
    return env


def test_cli_search_text_json_csv(cli: Cli, filled: dict[str, str], tmp_path: Path) -> None:
    proc = cli(filled, "search", "дрони")
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("https://")]
    assert lines[0].startswith("https://t.me/DIUkraine/2")  # three hits beat one
    assert "[Дрони]" in proc.stdout  # highlighted (brackets when not a terminal)

    proc = cli(filled, "search", "drones", "--json")
    out = json.loads(proc.stdout)
    assert [(r["channel"], r["message_id"]) for r in out] == [("DIUkraine", 1)]
    assert out[0]["url"] == "https://t.me/DIUkraine/1" and out[0]["date"].startswith("2023-01-10")
    assert "[drones]" in out[0]["translation_snippet"]
    assert out[0]["capped"] is False  # a search that looked at everything says so

    # another form of the word typed is shown marked in the snippet, in the CLI as in the chat
    proc = cli(filled, "search", "Крим")
    assert proc.returncode == 0, proc.stderr
    assert "[Криму]" in proc.stdout and "[Кримом]" in proc.stdout

    proc = cli(filled, "search", "дрони", "--csv", "--channel", "@rybar")
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [(r["channel"], r["message_id"]) for r in rows] == [("rybar", "7")]


def test_cli_search_filters_and_limit(cli: Cli, filled: dict[str, str], tmp_path: Path) -> None:
    def ids(*args: str) -> list[int]:
        proc = cli(filled, "search", "дрони", "--json", *args)
        assert proc.returncode == 0, proc.stderr
        return sorted(r["message_id"] for r in json.loads(proc.stdout))

    assert ids() == [1, 2, 7]
    assert ids("--channel", "DIUkraine") == [1, 2]
    assert ids("--since", "2023-02-01") == [2, 7]
    assert ids("--until", "2023-02-01") == [1]
    assert ids("--since", "2023-02-01", "--until", "2023-03-01") == [2]
    assert len(ids("--limit", "1")) == 1


def test_cli_search_nothing_found_and_bad_queries(cli: Cli, filled: dict[str, str], tmp_path: Path) -> None:
    proc = cli(filled, "search", "неіснуючеслово")
    assert proc.returncode == 0 and proc.stdout == "" and "no matches" in proc.stderr
    for q in ['"', "AND", "-дрони", ""]:
        proc = cli(filled, "search", q)
        assert proc.returncode == 2, (q, proc.stderr)
        assert proc.stderr.startswith("citewatch: error: ") and proc.stderr.count("\n") == 1


async def test_many_nasty_strings_through_storage(tmp_path: Path) -> None:
    """Every string returns hits or raises QueryError — never sqlite3 errors — on a real file."""
    db = await Database.open(tmp_path / "cw.db")
    try:
        await posts.upsert_many(db, [_p(r["channel"], r["id"], 5, r["text"]) for r in ROWS])
        for q in [*NASTY, *_random_queries(400, 2)]:
            with contextlib.suppress(QueryError):
                await search.query(db, q, channel="DIUkraine", since=datetime(2020, 1, 1, tzinfo=UTC))
    finally:
        await db.close()


def test_cli_nasty_strings_never_traceback(cli: Cli, filled: dict[str, str], tmp_path: Path) -> None:
    for q in ['"дрони', "text:дрони AND (дрони^", "NEAR(дрони склад)", "💥 OR OR", "-- --"]:
        proc = cli(filled, "search", q)
        assert proc.returncode in (0, 2), (q, proc.stderr)
        assert "Traceback" not in proc.stderr
        if proc.returncode == 2:
            assert proc.stderr.count("\n") == 1


def test_cli_text_output_keeps_each_snippet_on_one_line(
    cli: Cli, env: dict[str, str], tmp_path: Path
) -> None:
    src = tmp_path / "multi.jsonl"
    src.write_text(json.dumps({"channel": "DIUkraine", "id": 1, "date": "2023-01-01T00:00:00Z",
                               "text": "Перший рядок\n\nдрони над Кримом\nтретій рядок",
                               "translation": "First line\n\ndrones over Crimea\nthird line"},
                              ensure_ascii=False) + "\n")
    assert cli(env, "import", str(src)).returncode == 0
    proc = cli(env, "search", "дрони")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 3, proc.stdout  # the link line, the original, the translation
    assert lines[0].startswith("https://t.me/DIUkraine/1")
    assert "[дрони] над Кримом" in lines[1] and lines[2].startswith("  en: ")


# -- ё and е are one letter to the index ----------------------------------------------------------

async def test_yo_and_ye_find_each_other_and_snippets_keep_the_posts_letters(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    await posts.upsert_many(db, [
        _p("rybar", 1, 1, "Ещё одна ёлка сгорела… «Всё» по плану"),
        _p("rybar", 2, 2, "Еще одна елка сгорела, все по плану"),
        _p("DIUkraine", 3, 3, "Ще одна ялинка згоріла"),  # Ukrainian: untouched
    ])
    for q in ("ещё", "еще", "ЁЛКА", "елка", '"еще одна"', "ёлк*"):
        assert sorted(h.message_id for h in await search.query(db, q)) == [1, 2], q
    hits = {h.message_id: h for h in await search.query(db, "ещё ёлка")}
    assert "\x02Ещё\x03" in hits[1].text_snippet and "\x02ёлка\x03" in hits[1].text_snippet
    assert "\x02Еще\x03" in hits[2].text_snippet  # each post's own spelling
    assert "«Всё»" in hits[1].text_snippet
    # the newest-first path (every word common) restores letters too
    monkeypatch.setattr(search, "RARE_CAP", 1)
    hits = {h.message_id: h for h in await search.query(db, "ёлка")}
    assert "\x02ёлка\x03" in hits[1].text_snippet and hits[1].score == 0.0
    # an edit re-indexes the folded text
    await posts.upsert_many(db, [_p("rybar", 2, 2, "Тишина")])
    assert [h.message_id for h in await search.query(db, "ещё")] == [1]


def test_unfold_snippet_places_the_text_among_marks_and_ellipses() -> None:
    from storage.fold import fold, unfold_snippet

    original = "Начало. Ещё одна ёлка… и всё. Конец"
    folded = fold(original)
    assert folded == "Начало. Еще одна елка… и все. Конец" and fold("Ще ялинка") == "Ще ялинка"
    assert unfold_snippet("…\x02Еще\x03 одна \x02елка\x03…", original) == "…\x02Ещё\x03 одна \x02ёлка\x03…"
    # the original's own ellipsis at the snippet's end is text, not a cut mark
    assert unfold_snippet("одна елка…", original) == "одна ёлка…"
    assert unfold_snippet("…и \x02все\x03. Конец", original) == "…и \x02всё\x03. Конец"
    assert unfold_snippet("Начало. Еще", original) == "Начало. Ещё"
    assert unfold_snippet("не из этого текста", original) == "не из этого текста"
    assert unfold_snippet("елка", "елка без ё") == "елка"  # nothing to restore: as is
    assert unfold_snippet("", original) == ""


def test_index_folds_as_the_queries_do() -> None:
    from storage.fold import SQL_FOLD
    from storage.search_index import SCHEMA

    assert SQL_FOLD.format("p.text") in SCHEMA and SQL_FOLD.format("old.text") in SCHEMA
    assert to_fts5("ЕЩЁ") == '"ЕЩЕ"'


async def test_day_spans_are_kept_by_trigger_and_a_backfilled_post_is_found(db: Database) -> None:
    """post_days holds each day's smallest and largest post id as posts are stored, so a date
    filter is a rowid range at once — also for an old post stored late (a backfill)."""
    await posts.upsert_many(db, [_p("DIUkraine", i, 10 + i, f"спільне {i}") for i in range(1, 6)])
    await posts.upsert_many(db, [_p("rybar", 99, 11, "спільне пізно")])  # dated day 11, stored last
    spans = dict((d, (lo, hi)) for d, lo, hi in await db.fetchall("SELECT day, lo, hi FROM post_days"))
    late = await db.fetchval("SELECT id FROM posts WHERE message_id = 99")
    first = await db.fetchval("SELECT id FROM posts WHERE message_id = 1")
    assert spans["2023-01-11"] == (first, late)
    assert spans == {d: (lo, hi) for d, lo, hi in await db.fetchall(
        "SELECT substr(date, 1, 10), min(id), max(id) FROM posts GROUP BY 1")}
    hits = await search.query(db, "спільне", since=datetime(2023, 1, 11, tzinfo=UTC),
                              until=datetime(2023, 1, 12, tzinfo=UTC))
    assert sorted(h.message_id for h in hits) == [1, 99]
