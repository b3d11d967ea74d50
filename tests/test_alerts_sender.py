"""The alert sender with the real TelegramClient against the in-process Telegram server."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from telethon.tl import types

from bot.alerts.sender import (
    AlertSender,
    LogTransport,
    Pacer,
    TelethonTransport,
    alert_random_id,
    backoff,
)
from storage import alerts
from storage.db import Database
from storage.models import utcnow
from tests.alerts_support import HOSTILE, cite, settings_for, store_post, telegram, within
from tests.conftest import Cli


def _urls(entities: list) -> list[str]:
    return [e.url for e in entities if isinstance(e, types.MessageEntityTextUrl)]


async def test_alert_is_delivered_once_with_the_right_links(db: Database, tmp_path: Path) -> None:
    pid = await store_post(db, 1908)
    await cite(db, [pid], title=HOSTILE)
    [alert] = await alerts.list_all(db)
    async with telegram() as (srv, client):
        sender = AlertSender(db, TelethonTransport(client), settings_for(db.path))
        assert await within(sender.run_once()) == 1
        assert await within(sender.run_once()) == 0  # nothing due any more
    assert len(srv.sent) == 1
    sent = srv.sent[0]
    assert sent.peer == "me" and sent.random_id == alert_random_id(alert.id)
    assert HOSTILE in sent.text  # shown literally, never parsed as markup
    assert _urls(sent.entities) == ["https://news.example/depot?a=1&b=2", "https://t.me/DIUkraine/1908"]
    assert "quotes 83% of the translated post" in sent.text and "links to t.me/DIUkraine/1908" in sent.text
    [done] = await alerts.list_all(db)
    assert (done.status, done.message_id, done.attempts) == ("sent", sent.id, 1)
    last = await alerts.last_sent(db)
    assert last is not None and last.post_url == "https://t.me/DIUkraine/1908"


async def test_several_citations_of_one_article_go_in_one_message(db: Database) -> None:
    ids = [await store_post(db, n) for n in (10, 11, 12)]
    await cite(db, ids)
    await cite(db, [ids[0]], url="https://other.example/b", title="Another article")
    async with telegram() as (srv, client):
        sender = AlertSender(db, TelethonTransport(client), settings_for(db.path))
        assert await within(sender.run_once()) == 2
    assert len(srv.sent) == 2
    first, second = srv.sent
    assert "3 posts are cited" in first.text and "Another article" in second.text
    assert all(f"t.me/DIUkraine/{n}" in first.text for n in (10, 11, 12))
    rows = await alerts.list_all(db)
    assert [r.message_id for r in rows] == [first.id, first.id, first.id, second.id]
    assert first.random_id == alert_random_id(rows[0].id)
    assert second.random_id == alert_random_id(rows[3].id)


async def test_alerts_to_a_username_resolve_the_chat(db: Database) -> None:
    await cite(db, [await store_post(db, 5)], chat="@analyst_bob")
    async with telegram() as (srv, client):
        srv.add_user("analyst_bob")
        sender = AlertSender(db, TelethonTransport(client), settings_for(db.path))
        assert await within(sender.run_once()) == 1
    assert [s.peer for s in srv.sent] == ["analyst_bob"]


async def test_flood_wait_postpones_instead_of_failing(db: Database) -> None:
    await cite(db, [await store_post(db, 7)])
    async with telegram() as (srv, client):
        srv.flood_wait("SendMessageRequest", seconds=40)
        sender = AlertSender(db, TelethonTransport(client), settings_for(db.path))
        assert await within(sender.run_once()) == 0
        [row] = await alerts.list_all(db)
        assert row.status == "pending" and "flood wait of 40s" in (row.last_error or "")
        assert row.next_attempt_at is not None
        assert timedelta(seconds=35) < row.next_attempt_at - utcnow() <= timedelta(seconds=41)
        assert await within(sender.run_once()) == 0  # not due yet: nothing is tried
        assert srv.count("SendMessageRequest") == 1 and srv.sent == []
        # once due (simulated by a new sender and a due time in the past) it goes out
        await alerts.postpone(db, [row.id], utcnow() - timedelta(seconds=1), "test: due now")
        fresh = AlertSender(db, TelethonTransport(client), settings_for(db.path))
        assert await within(fresh.run_once()) == 1
    assert len(srv.sent) == 1
    assert (await alerts.list_all(db))[0].status == "sent"


async def test_write_forbidden_marks_failed_and_status_shows_it(
    db: Database, env: dict[str, str], cli: Cli
) -> None:
    await cite(db, [await store_post(db, 9)])
    async with telegram() as (srv, client):
        srv.fail("SendMessageRequest", "CHAT_WRITE_FORBIDDEN", code=403)
        sender = AlertSender(db, TelethonTransport(client), settings_for(db.path))
        assert await within(sender.run_once()) == 0
        assert await within(sender.run_once()) == 0  # failed alerts are not retried
    assert srv.sent == [] and srv.count("SendMessageRequest") == 1
    [row] = await alerts.list_all(db)
    assert row.status == "failed" and (row.last_error or "").startswith("CHAT_WRITE_FORBIDDEN")

    env["CITEWATCH_DB"] = str(db.path)
    out = cli(env, "status")
    assert out.returncode == 0, out.stderr
    assert "1 failed" in out.stdout and "CHAT_WRITE_FORBIDDEN" in out.stdout
    js = cli(env, "status", "--json")
    report = json.loads(js.stdout)
    assert report["queues"]["alerts"]["failed"] == 1
    assert report["failed_alerts"][0]["reason"].startswith("CHAT_WRITE_FORBIDDEN")
    assert report["failed_alerts"][0]["post"] == "https://t.me/DIUkraine/9"


async def test_unknown_numeric_chat_fails_as_chat_not_found(db: Database) -> None:
    await cite(db, [await store_post(db, 3)], chat="987654321")
    async with telegram() as (srv, client):
        sender = AlertSender(db, TelethonTransport(client), settings_for(db.path))
        assert await within(sender.run_once()) == 0
    assert srv.count("GetDialogsRequest") == 1 and srv.sent == []  # looked, did not guess
    [row] = await alerts.list_all(db)
    assert row.status == "failed" and "chat not found: 987654321" in (row.last_error or "")


async def test_transient_errors_retry_with_back_off(db: Database) -> None:
    await cite(db, [await store_post(db, 4)])
    async with telegram() as (srv, client):
        srv.fail("SendMessageRequest", "RPC_CALL_FAIL", code=500)
        sender = AlertSender(db, TelethonTransport(client), settings_for(db.path))
        assert await within(sender.run_once()) == 0
    [row] = await alerts.list_all(db)
    assert row.status == "pending" and row.attempts == 1 and "RPC_CALL_FAIL" in (row.last_error or "")
    assert row.next_attempt_at is not None and row.next_attempt_at - utcnow() > timedelta(seconds=25)
    assert [backoff(n) for n in (1, 2, 3, 20)] == [30, 60, 120, 3600]


async def test_log_transport_without_credentials(db: Database) -> None:
    await cite(db, [await store_post(db, 8)], title="A & B <i>")
    out = io.StringIO()
    sender = AlertSender(db, LogTransport(out), settings_for(db.path))
    assert await sender.run_once() == 1
    text = out.getvalue()
    assert "A & B <i>" in text and "t.me/DIUkraine/8" in text and "<b>" not in text
    assert (await alerts.list_all(db))[0].status == "printed"  # never "sent": nothing was sent
    assert (await alerts.counts_by_status(db))["sent"] == 0


def test_pacer_keeps_a_gap_and_a_per_minute_cap() -> None:
    p = Pacer(gap=1.0, per_minute=3)
    assert p.delay("me", 100.0) == 0
    p.record("me", 100.0)
    assert p.delay("me", 100.25) == 0.75 and p.delay("other", 100.25) == 0
    p.record("me", 101.0)
    p.record("me", 102.0)
    assert p.delay("me", 103.0) == 57.0  # three in the last minute: wait until the first is 60 s old
    assert p.delay("me", 161.0) == 0
    p.block("other", 130.0)
    assert p.delay("other", 100.0) == 30.0


def test_random_id_is_stable_and_63_bit() -> None:
    assert alert_random_id(1) == alert_random_id(1) != alert_random_id(2)
    assert all(0 <= alert_random_id(i) < 2**63 for i in range(1, 200))


CHILD = """
import asyncio
from bot.alerts.sender import AlertSender, TelethonTransport
from bot.config import load_settings
from bot.telegram.client import make_client
from storage.db import Database

async def main():
    s = load_settings(dotenv_path=None)
    db = await Database.open(s.citewatch_db)
    client = make_client(s)
    await client.connect()
    n = await AlertSender(db, TelethonTransport(client), s).run_once()
    print("sent", n, flush=True)
    await client.close()
    await db.close()

asyncio.run(main())
"""


async def test_exactly_once_across_a_crash_between_sent_and_marked(
    db: Database, env: dict[str, str], tmp_path: Path
) -> None:
    """The child is SIGKILLed after Telegram stored the message, before it saw the answer."""
    import asyncio
    import os
    import signal

    from tests.tgserver import FakeTelegram

    class KillOnSend(FakeTelegram):
        victim: int | None = None

        def _send_from_account(self, conn, req, peer):  # type: ignore[no-untyped-def]
            result = super()._send_from_account(conn, req, peer)  # stored, in srv.sent
            if self.victim is not None:
                os.kill(self.victim, signal.SIGKILL)
                _wait_dead(self.victim)  # before this answer is written to the socket
                self.victim = None
            return result

    await cite(db, [await store_post(db, 1908)])
    [alert] = await alerts.list_all(db)
    srv = KillOnSend()
    await srv.start()
    try:
        env.update({"CITEWATCH_DB": str(db.path), "TG_API_ID": "1", "TG_API_HASH": "x" * 32,
                    "TG_SERVER": f"127.0.0.1:{srv.port}:2",
                    "TG_SERVER_KEY": str(srv.public_key_path), "LOG_LEVEL": "warning"})

        async def run_child(kill: bool) -> tuple[int, str]:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-c", CHILD, env=env, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE)
            if kill:
                srv.victim = proc.pid
            out, err = await within(proc.communicate(), 60)
            return proc.returncode or 0, out.decode() + err.decode()

        code, output = await run_child(kill=True)
        assert code == -signal.SIGKILL, output
        assert len(srv.sent) == 1  # Telegram has the message ...
        [row] = await alerts.list_all(db)
        assert (row.status, row.attempts) == ("pending", 1)  # ... but we never marked it

        code, output = await run_child(kill=False)
        assert code == 0 and "sent 1" in output, output
    finally:
        await srv.stop()
    sends = [c for name, c in srv.calls if name == "messages.SendMessageRequest"]
    assert len(sends) == 2 and {c["random_id"] for c in sends} == {alert_random_id(alert.id)}
    assert len(srv.sent) == 1  # the resend was discarded as a duplicate
    [row] = await alerts.list_all(db)
    assert row.status == "sent"


def _wait_dead(pid: int, timeout: float = 5.0) -> None:
    """Block until ``pid`` is a zombie (killed, not yet reaped by its parent)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return
        if state in {"Z", "X"}:
            return
        time.sleep(0.005)
    raise AssertionError(f"process {pid} did not die")
