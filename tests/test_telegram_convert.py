"""Telethon ``Message`` → ``Post`` on real Telethon TL objects, and the session file rules."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from telethon.tl import types

from bot.config import load_settings
from bot.errors import ConfigError, SourceError
from bot.telegram.client import make_client
from bot.telegram.convert import message_to_post
from bot.telegram.session import SessionLock, make_private, session_file

WHEN = datetime(2024, 3, 1, 10, 15, tzinfo=UTC)


def msg(**kw: object) -> types.Message:
    base: dict[str, object] = {"id": 42, "peer_id": types.PeerChannel(1500000001), "date": WHEN,
                               "message": "", "post": True}
    base.update(kw)
    return types.Message(**base)  # type: ignore[arg-type]


def test_text_counts_reply_and_links_from_entities_and_text() -> None:
    text = "🇺🇦 Деталі тут і на gur.gov.ua/news, також https://example.org/a."
    # offsets are UTF-16 code units: the flag emoji is 4 units long
    ents = [types.MessageEntityTextUrl(offset=5, length=6, url="https://hidden.example/x"),
            types.MessageEntityUrl(offset=text.index("gur") + 2, length=len("gur.gov.ua/news"))]
    post = message_to_post(msg(message=text, entities=ents, views=1200, forwards=7,
                               reply_to=types.MessageReplyHeader(reply_to_msg_id=40),
                               edit_date=WHEN), "DIUkraine")
    assert post.channel == "DIUkraine" and post.message_id == 42 and post.date == WHEN
    assert post.text == text and post.views == 1200 and post.forwards == 7
    assert post.reply_to == 40 and post.edit_date == WHEN and post.source == "telethon"
    assert post.links == ["https://hidden.example/x", "https://gur.gov.ua/news",
                          "https://example.org/a"]
    json.dumps(post.raw)  # JSON-safe
    assert post.raw is not None and post.raw["_"] == "Message" and post.raw["date"].startswith("2024")


def test_forwarded_album_photo() -> None:
    photo = types.Photo(id=9, access_hash=1, file_reference=b"\x00\xff", date=WHEN, dc_id=2,
                        sizes=[types.PhotoSize(type="m", w=320, h=200, size=15000),
                               types.PhotoSizeProgressive(type="y", w=1280, h=800,
                                                          sizes=[1000, 90000, 180000])])
    fwd = types.MessageFwdHeader(date=WHEN, from_id=types.PeerChannel(77), channel_post=5)
    post = message_to_post(msg(media=types.MessageMediaPhoto(photo=photo), grouped_id=1234,
                               fwd_from=fwd), "DIUkraine")
    assert post.media_kind == "photo" and post.grouped_id == 1234
    assert post.media == {"kind": "photo", "id": 9, "size": 180000, "mime_type": "image/jpeg"}
    assert post.fwd_from == {"date": WHEN.isoformat(), "channel_id": 77, "message_id": 5}
    json.dumps(post.raw)  # bytes (file_reference) became base64


@pytest.mark.parametrize(("attrs", "flags", "kind"), [
    ([types.DocumentAttributeFilename("report.pdf")], {}, "document"),
    ([types.DocumentAttributeVideo(duration=12.5, w=640, h=360),
      types.DocumentAttributeFilename("clip.mp4")], {"video": True}, "video"),
    ([types.DocumentAttributeAudio(duration=3, voice=True)], {"voice": True}, "voice"),
    ([types.DocumentAttributeAudio(duration=200, title="Song")], {}, "audio"),
    ([types.DocumentAttributeAnimated()], {}, "gif"),
])
def test_documents_are_described_not_downloaded(attrs: list[object], flags: dict[str, bool],
                                                kind: str) -> None:
    doc = types.Document(id=5, access_hash=1, file_reference=b"", date=WHEN, mime_type="x/y",
                         size=2_500_000, dc_id=2, attributes=attrs)
    post = message_to_post(msg(media=types.MessageMediaDocument(document=doc, **flags)), "c")
    assert post.media_kind == kind
    assert post.media is not None and post.media["size"] == 2_500_000
    names = [a.file_name for a in attrs if isinstance(a, types.DocumentAttributeFilename)]
    assert post.media.get("file_name") == (names[0] if names else None)


def test_webpage_preview_adds_its_url() -> None:
    page = types.WebPage(id=1, url="https://news.example/story", display_url="news.example/story",
                         hash=0, site_name="News")
    post = message_to_post(msg(message="read", media=types.MessageMediaWebPage(webpage=page)), "c")
    assert post.media_kind == "webpage" and post.links == ["https://news.example/story"]


def test_session_file_is_private_and_locked(tmp_path: Path) -> None:
    p = make_private(tmp_path / "sub" / "cw")
    assert p == session_file(tmp_path / "sub" / "cw") and p.name == "cw.session"
    assert stat.S_IMODE(p.stat().st_mode) == 0o600
    p.chmod(0o644)
    make_private(p)
    assert stat.S_IMODE(p.stat().st_mode) == 0o600
    with SessionLock(p):
        # a second process is refused with a clear line naming the session and our pid
        code = ("import sys; from bot.telegram.session import SessionLock\n"
                "try:\n    SessionLock(sys.argv[1]).acquire()\n"
                "except Exception as e:\n    print(e); sys.exit(3)\n")
        r = subprocess.run([sys.executable, "-c", code, str(p)], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode == 3
        assert r.stdout.strip().startswith(f"another citewatch process is using session {p} (pid ")
        with pytest.raises(SourceError, match="another citewatch process"):
            SessionLock(p).acquire()  # a second lock in this process is refused too
    SessionLock(p).acquire().release()  # released: free again


def test_make_client_needs_credentials_and_takes_the_lock(tmp_path: Path) -> None:
    env = {"CITEWATCH_DB": str(tmp_path / "db"), "TG_SESSION": str(tmp_path / "s.session")}
    with pytest.raises(ConfigError, match="TG_API_ID"):
        make_client(load_settings(env, dotenv_path=None))
    env.update(TG_API_ID="1", TG_API_HASH="x" * 32, TG_SERVER="127.0.0.1:9:2")
    settings = load_settings(env, dotenv_path=None)
    client = make_client(settings)
    try:
        assert stat.S_IMODE((tmp_path / "s.session").stat().st_mode) == 0o600
        assert client.session.server_address == "127.0.0.1" and client.session.port == 9
        assert client.session.dc_id == 2 and client.flood_sleep_threshold == 60
        with pytest.raises(SourceError, match="another citewatch process"):
            make_client(settings)
    finally:
        client.session.close()
        client.session_lock.release()
    make_client(settings).session_lock.release()
