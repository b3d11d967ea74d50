"""`citewatch import`/`export`/`stats` through the real console script, on real SQLite files."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.archive import ImportRecord, detect_format, flatten_export_text, import_records
from storage import channels
from storage.db import Database
from storage.models import Post
from tests.conftest import Cli
from tests.terminal import on_a_terminal


def q(env: dict[str, str], sql: str) -> list[tuple]:
    with sqlite3.connect(env["CITEWATCH_DB"]) as conn:
        return conn.execute(sql).fetchall()


def counts(env: dict[str, str]) -> tuple:
    return tuple(q(env, f"SELECT count(*) FROM {t}")[0][0]
                 for t in ("posts", "post_versions", "translations", "posts_fts", "channels"))


EXPORT = {
    "name": "Головне управління розвідки МОУ",
    "type": "public_channel",
    "id": 1234567890,
    "messages": [
        {"id": 1, "type": "service", "date": "2022-02-24T05:00:00", "action": "create_channel"},
        {"id": 2, "type": "message", "date": "2023-01-24T21:28:11", "date_unixtime": "1674588491",
         "text": "Простий текст допису", "views": 1500},
        {"id": 3, "type": "message", "date": "2023-01-25T10:00:00", "date_unixtime": "1674640800",
         "edited": "2023-01-25T11:00:00", "edited_unixtime": "1674644400",
         "photo": "photos/photo_1.jpg",
         "text": ["Заява ", {"type": "bold", "text": "ГУР"}, ": деталі ",
                  {"type": "text_link", "text": "тут", "href": "https://gur.gov.ua/content/x.html"},
                  " і ", {"type": "link", "text": "https://t.me/DIUkraine/1"}],
         "text_entities": []},
        {"id": "broken", "type": "message", "date": "2023-01-26T10:00:00", "text": "x"},
    ],
}


def test_flatten_export_text_captures_text_link_hrefs() -> None:
    text, links = flatten_export_text(EXPORT["messages"][2]["text"])  # type: ignore[index]
    assert text == "Заява ГУР: деталі тут і https://t.me/DIUkraine/1"
    assert links == ["https://gur.gov.ua/content/x.html", "https://t.me/DIUkraine/1"]


def test_import_telegram_desktop_export(cli: Cli, env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_text(json.dumps(EXPORT, ensure_ascii=False, indent=1))
    assert detect_format(path) == "export"
    proc = cli(env, "import", str(path))  # the export names no username
    assert proc.returncode == 1 and "give --channel" in proc.stderr
    proc = cli(env, "import", str(path), "--channel", "https://t.me/DIUkraine")
    assert proc.returncode == 1, proc.stderr  # message #4 is skipped
    assert "imported 2 new, 0 edited, 0 unchanged; 1 skipped" in proc.stdout
    assert "message #4" in proc.stderr
    rows = q(env, "SELECT message_id, text, views, date, media_kind, links, edit_date FROM posts"
                  " ORDER BY message_id")
    assert rows[0] == (2, "Простий текст допису", 1500, "2023-01-24T19:28:11+00:00", None, "[]", None)
    assert rows[1][1] == "Заява ГУР: деталі тут і https://t.me/DIUkraine/1"
    assert rows[1][4] == "photo"
    assert json.loads(rows[1][5]) == ["https://t.me/DIUkraine/1", "https://gur.gov.ua/content/x.html"]
    assert rows[1][6] == "2023-01-25T11:00:00+00:00"


JSONL_OK = [
    {"channel": "DIUkraine", "id": 1908, "date": "2023-01-24T19:28:11+00:00",
     "text": "Розвідка: знищено склад", "translation": "Intelligence: a depot destroyed",
     "translation_lang": "en", "views": 123},
    {"channel": "DIUkraine", "id": 1909, "date": "2023-01-25T08:00:00Z", "text": "Без перекладу"},
    {"channel": "rybar", "id": 5, "date": "2023-01-26T08:00:00", "text": "Рыбарь пишет",
     "translation": "Rybar writes"},
]


def _write_jsonl(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_jsonl_import_twice_changes_nothing(cli: Cli, env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "posts.jsonl"
    _write_jsonl(path, [json.dumps(r, ensure_ascii=False) for r in JSONL_OK])
    assert detect_format(path) == "jsonl"
    proc = cli(env, "import", str(path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "imported 3 new, 0 edited, 0 unchanged; 0 skipped"
    first = counts(env)
    assert first == (3, 0, 2, 3, 2)
    tr = q(env, "SELECT t.lang, t.provider, t.text FROM translations t JOIN posts p ON p.id = t.post_id"
                " WHERE p.message_id = 1908")
    assert tr == [("en", "import", "Intelligence: a depot destroyed")]
    queue = q(env, "SELECT count(*) FROM translation_queue")[0][0]
    assert queue == 1  # only the post without a translation waits

    proc = cli(env, "import", str(path))
    assert proc.stdout.strip() == "imported 0 new, 0 edited, 3 unchanged; 0 skipped"
    assert counts(env) == first
    assert q(env, "SELECT count(*) FROM translation_queue")[0][0] == queue


def test_malformed_lines_reported_and_skipped(cli: Cli, env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    good = [json.dumps(r, ensure_ascii=False) for r in JSONL_OK]
    _write_jsonl(path, [
        good[0],
        "{not json",                                                        # line 2
        json.dumps({"channel": "DIUkraine", "id": -1, "date": "2023-01-01"}),  # 3
        "",                                                                 # 4: blank is fine
        json.dumps({"channel": "DIUkraine", "id": 5, "date": "yesterday"}),  # 5
        good[1],
        json.dumps({"channel": "DIUkraine", "id": 6, "date": "2023-01-01", "media_kind": {"x": 1}}),
        json.dumps({"channel": "DIUkraine", "id": 2**70, "date": "2023-01-01"}),  # 8
        json.dumps({"channel": "DIUkraine", "id": 7, "date": 1e30}),         # 9: timestamp overflow
        json.dumps({"channel": "no spaces allowed", "id": 8, "date": "2023-01-01"}),  # 10
        "[1, 2, 3]",                                                        # 11
        good[2],
        json.dumps({"channel": "DIUkraine", "id": 9, "date": "2023-01-01",  # 13
                    "versions": [{"text": "old", "replaced_at": "someday"}]}),
    ])
    proc = cli(env, "import", str(path))
    assert proc.returncode == 1, proc.stderr  # something was skipped
    assert "Traceback" not in proc.stderr
    assert proc.stdout.strip() == "imported 3 new, 0 edited, 0 unchanged; 9 skipped"
    reported = [ln.split(":")[1].strip() for ln in proc.stderr.splitlines()]
    assert reported == ["line 2", "line 3", "line 5", "line 7", "line 8", "line 9", "line 10",
                        "line 11", "line 13"]
    assert "line 2: not valid JSON" in proc.stderr
    assert "'media_kind' must be a string" in proc.stderr
    assert counts(env)[0] == 3


def test_long_first_line_is_still_jsonl(cli: Cli, env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    rec = {"channel": "DIUkraine", "id": 1, "date": "2023-01-01", "text": "слово " * 3000}
    _write_jsonl(path, [json.dumps(rec, ensure_ascii=False)])
    assert detect_format(path) == "jsonl"
    proc = cli(env, "import", str(path))
    assert proc.stdout.strip() == "imported 1 new, 0 edited, 0 unchanged; 0 skipped"


def test_edit_through_reimport_keeps_history(cli: Cli, env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    _write_jsonl(path, [json.dumps(JSONL_OK[1], ensure_ascii=False)])
    cli(env, "import", str(path))
    _write_jsonl(path, [json.dumps({**JSONL_OK[1], "text": "Змінений текст"}, ensure_ascii=False)])
    proc = cli(env, "import", str(path))
    assert proc.stdout.strip() == "imported 0 new, 1 edited, 0 unchanged; 0 skipped"
    assert q(env, "SELECT text FROM post_versions") == [("Без перекладу",)]


def test_no_progress_bar_when_piped_but_one_on_a_terminal(
    cli: Cli, env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "p.jsonl"
    _write_jsonl(path, [json.dumps({"channel": "DIUkraine", "id": i, "date": "2023-01-01",
                                    "text": f"допис {i}"}) for i in range(1, 301)])
    proc = cli(env, "import", str(path))
    assert proc.stderr == ""  # piped: no bar, no carriage returns
    # stderr on a pseudo-terminal: the bar is drawn there
    code, tty, out = on_a_terminal(env, tmp_path, "import", str(path), tty="stderr")
    assert code == 0 and b"300 unchanged" in out
    assert "300/300" in tty and "post" in tty


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_is_the_inverse_of_import(cli: Cli, env: dict[str, str], tmp_path: Path, fmt: str) -> None:
    src = tmp_path / "in.jsonl"
    tricky = {"channel": "DIUkraine", "id": 77, "date": "2023-02-01T00:00:00+00:00",
              "text": 'Рядок 1\nрядок 2, "лапки", коми; https://gur.gov.ua/x', "views": 9,
              "forwards": 2, "reply_to": 1908, "grouped_id": 13, "media_kind": "video",
              "edit_date": "2023-02-02T00:00:00+00:00", "lang": "uk",
              "translation": 'Line 1\nline 2, "quotes"'}
    _write_jsonl(src, [json.dumps(r, ensure_ascii=False) for r in [*JSONL_OK, tricky]])
    cli(env, "import", str(src))
    edited = tmp_path / "edit.jsonl"  # post 77 is then edited: its first text must travel too
    _write_jsonl(edited, [json.dumps({**tricky, "text": "Виправлений текст", "translation": "Fixed",
                                      "edit_date": "2023-02-03T00:00:00+00:00"}, ensure_ascii=False)])
    assert "1 edited" in cli(env, "import", str(edited)).stdout
    cli(env, "search", "x")
    with sqlite3.connect(env["CITEWATCH_DB"]) as conn:  # a deletion travels too
        conn.execute("UPDATE posts SET deleted_at = '2023-03-01T00:00:00+00:00' WHERE message_id = 5")
    proc = cli(env, "export", "--format", fmt)
    assert proc.returncode == 0, proc.stderr
    dumped = tmp_path / f"out.{fmt}"
    dumped.write_text(proc.stdout, encoding="utf-8")
    if fmt == "jsonl":
        assert len(proc.stdout.splitlines()) == 4

    env2 = {**env, "CITEWATCH_DB": str(tmp_path / "fresh.db")}
    proc = cli(env2, "import", str(dumped))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "imported 4 new, 0 edited, 0 unchanged; 0 skipped"
    cols = ("c.username, p.message_id, p.date, p.text, p.views, p.forwards, p.reply_to, p.grouped_id,"
            " p.media_kind, p.links, p.edit_date, p.deleted_at, p.lang, t.lang, t.text")
    sql = (f"SELECT {cols} FROM posts p JOIN channels c ON c.id = p.channel_id"
           " LEFT JOIN translations t ON t.post_id = p.id ORDER BY c.username, p.message_id")
    assert q(env2, sql) == q(env, sql)
    history = ("SELECT c.username, p.message_id, v.text, v.edit_date, v.replaced_at, v.translation"
               " FROM post_versions v"
               " JOIN posts p ON p.id = v.post_id JOIN channels c ON c.id = p.channel_id")
    assert q(env2, history) == q(env, history)
    assert [(r[2], r[5]) for r in q(env2, history)] == [(tricky["text"], tricky["translation"])]
    # importing the same file again, even over a database that has the history, adds nothing
    assert "0 edited, 4 unchanged" in cli(env2, "import", str(dumped)).stdout
    assert "0 edited, 4 unchanged" in cli(env, "import", str(dumped)).stdout
    assert q(env2, history) == q(env, history) and len(q(env, history)) == 1
    again = cli(env2, "export", "--format", fmt)
    # and exporting the copy gives the same records (order follows internal channel ids)
    assert sorted(again.stdout.splitlines()) == sorted(dumped.read_text().splitlines())


def test_export_filters(cli: Cli, env: dict[str, str], tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    _write_jsonl(src, [json.dumps(r, ensure_ascii=False) for r in JSONL_OK])
    cli(env, "import", str(src))
    proc = cli(env, "export", "--format", "jsonl", "--channel", "rybar")
    assert [json.loads(ln)["id"] for ln in proc.stdout.splitlines()] == [5]
    proc = cli(env, "export", "--format", "jsonl", "--since", "2023-01-25")
    assert sorted(json.loads(ln)["id"] for ln in proc.stdout.splitlines()) == [5, 1909]


def test_stats_numbers(cli: Cli, env: dict[str, str], tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    _write_jsonl(src, [json.dumps(r, ensure_ascii=False) for r in JSONL_OK])
    cli(env, "import", str(src))
    with sqlite3.connect(env["CITEWATCH_DB"]) as conn:
        conn.execute("UPDATE posts SET deleted_at = '2024-01-01' WHERE message_id = 1909")
    proc = cli(env, "stats", "--json")
    s = json.loads(proc.stdout)
    by = {c["channel"]: c for c in s["channels"]}
    assert by["DIUkraine"]["posts"] == 2 and by["DIUkraine"]["translated"] == 1
    assert by["DIUkraine"]["translated_share"] == 0.5 and by["DIUkraine"]["deleted"] == 1
    assert by["rybar"]["posts"] == 1 and by["rybar"]["translated_share"] == 1.0
    assert s["posts"] == 3 and s["translated"] == 2 and s["translated_share"] == round(2 / 3, 4)
    assert s["translation_queue"] == {"pending": 1}
    assert s["citations"] == 0 and s["articles_total"] == 0 and s["alerts"] == {}
    text = cli(env, "stats").stdout
    assert "DIUkraine" in text and "50%" in text and "posts: 3 (67% translated)" in text


def test_records_that_cannot_be_stored_are_skipped_and_the_rest_kept(cli: Cli, env: dict[str, str],
                                                                     tmp_path: Path) -> None:
    """One poison record used to roll back its whole batch and abort the import."""
    def rec(i: int, **kw: object) -> bytes:
        return json.dumps({"channel": "DIUkraine", "id": i, "date": "2023-01-01",
                           "text": f"допис {i}", **kw}).encode()

    path = tmp_path / "poison.jsonl"
    path.write_bytes(b"\n".join([
        rec(1),
        rec(2, date="9999-12-31T23:00:00-05:00"),            # 2: no such time in UTC
        rec(3, text="lone \ud800 surrogate"),                # 3: not storable as UTF-8
        b"[" * 100_000 + b"]" * 100_000,                      # 4: 100k-deep nesting
        b'{"channel": "DIUkraine", "id": 5, "date": "2023-01-01", "text": "bad \xff\xfe"}',  # 5
        rec(6, translation="lone \udfff in a translation"),  # 6
        rec(7),
    ]) + b"\n")
    proc = cli(env, "import", str(path))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stdout.strip() == "imported 2 new, 0 edited, 0 unchanged; 5 skipped"
    lines = proc.stderr.splitlines()
    assert [ln.split(":")[1].strip() for ln in lines] == ["line 2", "line 3", "line 4", "line 5",
                                                          "line 6"]
    assert "date out of range" in lines[0] and "surrogates not allowed" in lines[1]
    assert "nested too deeply" in lines[2] and "not UTF-8" in lines[3]
    assert q(env, "SELECT message_id FROM posts ORDER BY 1") == [(1,), (7,)]
    assert q(env, "SELECT count(*) FROM translations")[0][0] == 0


def test_import_reads_stdin(cli: Cli, env: dict[str, str]) -> None:
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in JSONL_OK)
    proc = cli(env, "import", "-", stdin=lines)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "imported 3 new, 0 edited, 0 unchanged; 0 skipped"
    bad = cli(env, "import", "-", stdin="{oops\n")
    assert bad.returncode == 1 and bad.stderr.startswith("stdin: line 1: not valid JSON")


def test_imported_channels_are_archives_unless_watch(cli: Cli, env: dict[str, str],
                                                     tmp_path: Path) -> None:
    """A 200-channel archive used to become 200 watched channels, all polled at the next start."""
    path = tmp_path / "many.jsonl"
    _write_jsonl(path, [json.dumps({"channel": f"chan{i:03d}", "id": 1, "date": "2023-01-01",
                                    "text": "архів"}) for i in range(200)])
    assert cli(env, "import", str(path)).returncode == 0
    listed = json.loads(cli(env, "channels", "list", "--json").stdout)
    assert len(listed) == 200 and {c["state"] for c in listed} == {"archived"}
    assert "@chan000" in cli(env, "channels", "list").stdout.split("archived")[0]
    # the service watches CHANNELS (DIUkraine) only; archived channels stay searchable
    dry = cli(env, "run", "--dry-run")
    assert "channels: diukraine;" in dry.stdout, dry.stdout
    assert "t.me/chan007/1" in cli(env, "search", "архів", "--limit", "200").stdout
    status = cli(env, "status")
    assert "  chan007: 1 posts, last success never (archived)" in status.stdout.splitlines()
    states = {c["channel"]: c["state"] for c in json.loads(cli(env, "status", "--json").stdout)["channels"]}
    assert states["chan007"] == "archived"
    # --watch: new and archived channels become watched
    _write_jsonl(path, [json.dumps({"channel": c, "id": 2, "date": "2023-01-02", "text": "x"})
                        for c in ("chan001", "fresh")])
    assert cli(env, "import", "--watch", str(path)).returncode == 0
    states = {c["username"]: c["state"] for c in json.loads(cli(env, "channels", "list", "--json").stdout)}
    assert states["chan001"] == states["fresh"] == "watched" and states["chan002"] == "archived"
    assert "channels: chan001, diukraine, fresh;" in cli(env, "run", "--dry-run").stdout


async def test_a_configured_channel_imported_as_an_archive_is_watched(db: Database) -> None:
    from bot.config import load_settings
    from bot.telegram.watcher import seed_channels

    await import_records(db, [ImportRecord(Post(channel="DIUkraine", message_id=1,
                                                 date=datetime(2023, 1, 1, tzinfo=UTC)))])
    await import_records(db, [ImportRecord(Post(channel="rybar", message_id=1,
                                                 date=datetime(2023, 1, 1, tzinfo=UTC)))])
    await channels.add(db, "gone")
    await channels.remove(db, "gone")
    assert [c.username for c in await channels.list_active(db)] == []
    settings = load_settings({"CHANNELS": "DIUkraine,gone", "CITEWATCH_DB": str(db.path)},
                             dotenv_path=None)
    assert await seed_channels(settings, db) == ["DIUkraine"]
    # CHANNELS watches its archived channel; one removed by hand stays removed
    assert [c.username for c in await channels.list_active(db)] == ["DIUkraine"]
