"""``citewatch login`` and ``citewatch channels``, run as real subprocesses against FakeTelegram."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
from pathlib import Path

from tests.tgserver import FakeTelegram


def tg_env(env: dict[str, str], srv: FakeTelegram, tmp_path: Path) -> dict[str, str]:
    out = dict(env)
    out.update({
        "TG_API_ID": "1", "TG_API_HASH": "h" * 32, "SOURCE": "telethon",
        "TG_SERVER": f"{srv.host}:{srv.port}:{srv.dc_id}",
        "TG_SERVER_KEY": str(srv.public_key_path), "JOIN_DELAY": "0",
        "BACKFILL_DAYS": "0", "CHANNELS": "",
    })
    return out


async def citewatch(env: dict[str, str], *args: str, stdin: str = "",
                    cwd: Path | None = None) -> tuple[int, str, str]:
    """Run the CLI in a subprocess while this loop keeps serving FakeTelegram."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from bot.cli import main; main()", *args,
        env=env, cwd=cwd, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_channels_add_list_remove(env: dict[str, str], srv: FakeTelegram,
                                        tmp_path: Path) -> None:
    srv.add_channel("DIUkraine", title="ГУР МО України")
    srv.add_channel("rybar", title="Рыбарь")
    srv.add_user("someuser")
    e = tg_env(env, srv, tmp_path)
    code, out, err = await citewatch(e, "channels", "add", "https://t.me/s/DIUkraine", "@rybar",
                                     "--join", cwd=tmp_path)
    assert code == 0, err
    assert "watching @DIUkraine (ГУР МО України), joined" in out
    assert srv.world.channel("DIUkraine").joined and srv.world.channel("rybar").joined
    session = tmp_path / "cw.session"
    assert stat.S_IMODE(session.stat().st_mode) == 0o600

    code, out, err = await citewatch(e, "channels", "add", "nosuchchannel", "someuser", cwd=tmp_path)
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("citewatch:")]
    assert len(lines) == 2 and all(line.startswith("citewatch: error: @") for line in lines)
    assert "no public channel" in lines[0] and "not a channel" in lines[1]

    code, out, _ = await citewatch(e, "channels", "list", "--json", cwd=tmp_path)
    rows = {r["username"]: r for r in json.loads(out)}
    assert set(rows) == {"DIUkraine", "rybar"}
    assert rows["DIUkraine"]["joined"] and rows["DIUkraine"]["tg_id"] == srv.world.channel("DIUkraine").id

    code, out, _ = await citewatch(e, "channels", "remove", "DIUkraine", cwd=tmp_path)
    assert code == 0 and "stopped watching @DIUkraine" in out
    code, out, _ = await citewatch(e, "channels", "list", cwd=tmp_path)
    assert "removed" in out.splitlines()[0]
    code, _, err = await citewatch(e, "channels", "remove", "DIUkraine", cwd=tmp_path)
    assert code == 2 and err.strip() == "citewatch: error: @DIUkraine is not being watched"
    # adding the same name again re-activates it without resolving again
    code, _, err = await citewatch(e, "channels", "add", "DIUkraine", cwd=tmp_path)
    assert code == 0, err
    assert srv.count("ResolveUsernameRequest") == 4  # DIUkraine, rybar, two failures


async def test_bad_username_is_a_usage_error(env: dict[str, str], srv: FakeTelegram,
                                             tmp_path: Path) -> None:
    code, _, err = await citewatch(tg_env(env, srv, tmp_path), "channels", "add", "no!", cwd=tmp_path)
    assert code == 2 and "is not a public channel username" in err and srv.calls == []


async def test_login_flow_and_second_process_refused(env: dict[str, str], tmp_path: Path) -> None:
    async with FakeTelegram(require_login=True) as srv:
        e = tg_env(env, srv, tmp_path)
        code, out, err = await citewatch(e, "login", stdin="+15550001234\n12345\n", cwd=tmp_path)
        assert code == 0, err
        assert "logged in as @citewatch_me" in out
        assert "h" * 32 not in out + err
        session = tmp_path / "cw.session"
        assert stat.S_IMODE(session.stat().st_mode) == 0o600
        # the session is now authorised: no second code
        code, out, err = await citewatch(e, "login", cwd=tmp_path)
        assert code == 0 and srv.count("SendCodeRequest") == 1
        # hold the session lock from this process, as a running `citewatch run` would
        from bot.telegram.session import SessionLock

        with SessionLock(session):
            # --join needs the session itself: refused in one line
            code, _, err = await citewatch(e, "channels", "add", "DIUkraine", "--join",
                                           cwd=tmp_path)
            assert code == 2
            assert err.strip() == (f"citewatch: error: another citewatch process is using "
                                   f"session {session} (pid {os.getpid()})")
            # without --join the name is stored unresolved, for the running service to resolve
            code, out, err = await citewatch(e, "channels", "add", "DIUkraine", cwd=tmp_path)
            assert code == 0, err
            assert "added @DIUkraine unresolved" in out
            assert srv.count("ResolveUsernameRequest") == 0
        code, out, _ = await citewatch(e, "channels", "list", "--json", cwd=tmp_path)
        [row] = json.loads(out)
        assert (row["username"], row["tg_id"], row["active"]) == ("DIUkraine", None, True)


async def test_wrong_login_code_is_one_line(env: dict[str, str], tmp_path: Path) -> None:
    async with FakeTelegram(require_login=True) as srv:
        code, _, err = await citewatch(tg_env(env, srv, tmp_path), "login",
                                         stdin="+15550001234\n1\n2\n3\n", cwd=tmp_path)
        assert code == 2
        assert err.strip().splitlines()[-1].startswith("citewatch: error: ")


async def test_login_with_two_step_password(env: dict[str, str], tmp_path: Path) -> None:
    async with FakeTelegram(require_login=True, password="hunter2") as srv:
        e = tg_env(env, srv, tmp_path)
        code, out, err = await citewatch(e, "login", stdin="+15550001234\n12345\nhunter2\n",
                                         cwd=tmp_path)
        assert code == 0, err
        assert "logged in as @citewatch_me" in out
        assert "hunter2" not in out + err  # the password is neither echoed nor logged
        assert srv.count("GetPasswordRequest") == 1 and srv.count("CheckPasswordRequest") == 1
        session = tmp_path / "cw.session"
        assert stat.S_IMODE(session.stat().st_mode) == 0o600
        # the key is authorised now: a second login asks for nothing
        code, out, err = await citewatch(e, "login", cwd=tmp_path)
        assert code == 0 and "logged in as @citewatch_me" in out, err
        assert srv.count("SendCodeRequest") == 1 and srv.count("CheckPasswordRequest") == 1


async def test_wrong_two_step_password_is_one_error_line(env: dict[str, str],
                                                         tmp_path: Path) -> None:
    async with FakeTelegram(require_login=True, password="hunter2") as srv:
        code, out, err = await citewatch(tg_env(env, srv, tmp_path), "login",
                                         stdin="+15550001234\n12345\nnope1\nnope2\nnope3\n",
                                         cwd=tmp_path)
        assert code == 2, err
        errors = [line for line in err.splitlines() if line.startswith("citewatch:")]
        assert errors == [err.strip().splitlines()[-1]]
        assert errors[0].startswith("citewatch: error: login failed: ")
        assert "nope" not in out + err
        assert srv.count("CheckPasswordRequest") == 3  # click's three tries, each a fresh SRP
        assert "logged in" not in out
