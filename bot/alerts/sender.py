"""The outbox sender job: due alerts → one message per (article, chat) → marked sent or failed.

Exactly once across crashes: each message carries a ``random_id`` derived from the smallest alert
id of its group. If the process dies after Telegram stored the message but before we marked the rows,
the resend after restart carries the same ``random_id``; Telegram answers ``RANDOM_ID_DUPLICATE``,
which we take as "already delivered". Pacing keeps under Telegram's limits (about one message a
second per chat, twenty a minute in a group); a flood wait postpones the alerts, it never fails them;
a permanent error (chat not found, write forbidden, bot blocked) marks them failed with the reason.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol, TextIO

from telethon import errors, utils
from telethon.tl import functions, types

from bot import metrics
from bot.alerts.format import format_alert, readable_text
from bot.config import Settings
from bot.errors import AlertError
from bot.tglinks import strip_link_prefix
from storage import alerts as alerts_repo
from storage.alerts import AlertGroup
from storage.db import Database
from storage.models import utcnow

log = logging.getLogger("citewatch.alerts")

PER_CHAT_GAP = 1.0  # seconds between two messages to one chat
PER_MINUTE = 20  # messages per minute to one chat (Telegram's limit for groups)
MAX_INLINE_WAIT = 3.0  # a longer pacing wait ends this run; the next run picks the rest up
MAX_ATTEMPTS = 30  # transient failures before an alert is given up (back-off caps at an hour)
BATCH = 200  # alerts read per run


def alert_random_id(alert_id: int) -> int:
    """A stable 63-bit ``random_id`` for the message that carries alert ``alert_id``."""
    digest = hashlib.sha256(f"citewatch-alert-{alert_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def backoff(attempts: int) -> float:
    """Seconds before retrying after ``attempts`` transient failures: 30 s doubling, at most 1 h."""
    return float(min(30 * 2 ** max(attempts - 1, 0), 3600))


@dataclass
class Delivery:
    """What a transport reports: the message id, or that Telegram had it already (duplicate)."""

    message_id: int | None
    duplicate: bool = False
    printed: bool = False  # shown on stdout only (no Telegram credentials): not "sent"


class Transport(Protocol):
    async def send(self, chat: str, message_html: str, random_id: int) -> Delivery:
        """Deliver or raise ``AlertError`` (``permanent`` / ``retry_after`` say what to do)."""
        ...


def parse_chat(chat: str) -> str | int:
    """ALERT_CHAT / ALLOWED_CHATS entry → ``"me"``, a numeric (marked) id, or a username."""
    s = chat.strip()
    if s.lower() in {"me", "self"}:
        return "me"
    if re.fullmatch(r"-?\d+", s):
        return int(s)
    return strip_link_prefix(s).lstrip("@")


_ERROR_NAMES = {cls: name for name, cls in errors.rpcerrorlist.rpc_errors_dict.items()}


def rpc_reason(exc: errors.RPCError) -> str:
    """``CHAT_WRITE_FORBIDDEN: You can't write in this chat`` — Telethon keeps only the generic
    ``FORBIDDEN`` in ``.message`` for errors it knows, so the name comes from its own table."""
    name = _ERROR_NAMES.get(type(exc)) or str(exc.message)
    words = str(exc).split(" (caused by")[0]
    return f"{name}: {words}" if words and words != name else name


class TelethonTransport:
    """Sends with ``messages.sendMessage`` through a connected Telethon client (user or bot)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._peers: dict[str, Any] = {}

    async def _peer(self, chat: str) -> Any:
        if chat in self._peers:
            return self._peers[chat]
        target = parse_chat(chat)
        try:
            peer = await self.client.get_input_entity(target)
        except ValueError:
            # a numeric id is only known once seen; a user account can look through its dialogs
            if isinstance(target, int) and not await self.client.is_bot():
                await self.client.get_dialogs()
                peer = await self.client.get_input_entity(target)
            else:
                raise
        self._peers[chat] = peer
        return peer

    async def _invoke_once(self, request: Any) -> Any:
        # TelegramClient.__call__ files RANDOM_ID_DUPLICATE under ServerError, retries it six times
        # (12 s) and then raises a bare ValueError; flood waits below FLOOD_SLEEP_MAX are slept
        # inside. We need each answer once, as it is, so we send through the client's sender
        # directly (what __call__ does, minus the retry loop) and process entities the same way.
        if not self.client.is_connected():
            raise ConnectionError("not connected to Telegram")
        result = await self.client._sender.send(request)
        await utils.maybe_async(self.client.session.process_entities(result))
        return result

    async def send(self, chat: str, message_html: str, random_id: int) -> Delivery:
        text, entities = _parse(message_html)
        try:
            peer = await self._peer(chat)
            result = await self._invoke_once(functions.messages.SendMessageRequest(
                peer=peer, message=text, entities=entities or None, random_id=random_id,
            ))
        except errors.RandomIdDuplicateError:
            return Delivery(None, duplicate=True)
        except (errors.FloodWaitError, errors.SlowModeWaitError) as exc:
            raise AlertError(f"flood wait of {exc.seconds}s", retry_after=max(exc.seconds, 1)) from exc
        except (errors.BadRequestError, errors.ForbiddenError) as exc:
            self._peers.pop(chat, None)
            raise AlertError(rpc_reason(exc), permanent=True) from exc
        except errors.RPCError as exc:  # 401 (session trouble), 5xx: keep the alerts, retry later
            raise AlertError(rpc_reason(exc)) from exc
        except ValueError as exc:  # Telethon: "Cannot find any entity corresponding to ..."
            raise AlertError(f"chat not found: {chat} ({exc})", permanent=True) from exc
        except (ConnectionError, OSError, TimeoutError) as exc:
            raise AlertError(f"network: {exc or type(exc).__name__}") from exc
        return Delivery(_message_id(result, random_id))


def _parse(message_html: str) -> tuple[str, list[Any]]:
    from telethon.extensions import html as tg_html

    return tg_html.parse(message_html)


def _message_id(result: Any, random_id: int) -> int | None:
    if isinstance(result, types.UpdateShortSentMessage):
        return int(result.id)
    updates = getattr(result, "updates", None) or []
    for u in updates:
        if isinstance(u, types.UpdateMessageID) and u.random_id == random_id:
            return int(u.id)
    for u in updates:
        if isinstance(u, types.UpdateNewMessage | types.UpdateNewChannelMessage):
            return int(u.message.id)
    return None


class LogTransport:
    """No Telegram credentials: the alert is printed, as text, on stdout; the sender logs one short
    line saying so (the alert itself appears once, not again on stderr)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    async def send(self, chat: str, message_html: str, random_id: int) -> Delivery:
        out = self.stream or sys.stdout
        out.write(readable_text(message_html) + "\n\n")
        out.flush()
        return Delivery(None, printed=True)


class Pacer:
    """Per-chat pacing: a gap between messages, a per-minute cap, and flood-wait blocks."""

    def __init__(self, gap: float = PER_CHAT_GAP, per_minute: int = PER_MINUTE) -> None:
        self.gap, self.per_minute = gap, per_minute
        self._sent: dict[str, deque[float]] = {}
        self._blocked: dict[str, float] = {}

    def delay(self, chat: str, now: float) -> float:
        """Seconds to wait before the next message to ``chat`` may go."""
        wait = self._blocked.get(chat, 0.0) - now
        sent = self._sent.get(chat)
        if sent:
            while sent and sent[0] <= now - 60:
                sent.popleft()
            if sent:
                wait = max(wait, sent[-1] + self.gap - now)
            if len(sent) >= self.per_minute:
                wait = max(wait, sent[0] + 60 - now)
        return max(wait, 0.0)

    def record(self, chat: str, now: float) -> None:
        self._sent.setdefault(chat, deque()).append(now)

    def block(self, chat: str, until: float) -> None:
        self._blocked[chat] = max(self._blocked.get(chat, 0.0), until)


class AlertSender:
    """The job body: ``await sender.run_once()`` delivers what is due and returns messages sent."""

    def __init__(
        self,
        db: Database,
        transport: Transport,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.db, self.transport, self.settings = db, transport, settings
        self.clock, self.sleep = clock, sleep
        self.pacer = Pacer()

    async def run_once(self) -> int:
        sent = 0
        for group in await alerts_repo.due(self.db, limit=BATCH):
            wait = self.pacer.delay(group.chat, self.clock())
            if wait > MAX_INLINE_WAIT:
                continue  # this chat is busy or flood-waited; its alerts stay due for a later run
            if wait > 0:
                await self.sleep(wait)
            sent += await self._deliver(group)
        return sent

    async def _deliver(self, group: AlertGroup) -> int:
        ids = group.alert_ids
        tried_before = {i.alert.id for i in group.items if i.alert.attempts > 0}
        worst = max(i.alert.attempts for i in group.items) + 1
        message = format_alert(group)
        await alerts_repo.begin_attempt(self.db, ids)
        try:
            delivery = await self.transport.send(group.chat, message, alert_random_id(group.first_id))
        except AlertError as exc:
            await self._failed(group, exc, worst)
            return 0
        except Exception as exc:  # a bug in a transport must not wedge the queue on one alert
            log.exception("alert %s: unexpected error", group.first_id)
            await self._failed(group, AlertError(f"{type(exc).__name__}: {exc}"), worst)
            return 0
        self.pacer.record(group.chat, self.clock())
        if delivery.duplicate:
            # delivered before a crash; rows never tried before joined the group later: resend them
            done = [i for i in ids if i in tried_before] or ids
            await alerts_repo.mark_sent(self.db, done, None)
            log.info("alerts %s to %s were already delivered (duplicate random_id)", done, group.chat)
        elif delivery.printed:
            await alerts_repo.mark_sent(self.db, ids, None, status="printed")
            log.info("alert printed on stdout (no Telegram credentials, not sent to %s): article %s,"
                     " %d citation(s)", group.chat, group.article.id, len(ids))
        else:
            await alerts_repo.mark_sent(self.db, ids, delivery.message_id)
            log.info("alert sent to %s: article %s, %d citation(s), message %s", group.chat,
                     group.article.id, len(ids), delivery.message_id)
        if not delivery.printed:
            metrics.ALERTS_SENT.inc()
        return 1

    async def _failed(self, group: AlertGroup, exc: AlertError, attempts: int) -> None:
        ids, chat = group.alert_ids, group.chat
        if exc.retry_after:
            until = utcnow() + timedelta(seconds=exc.retry_after)
            self.pacer.block(chat, self.clock() + exc.retry_after)
            await alerts_repo.postpone(self.db, ids, until, str(exc))
            metrics.FLOOD_WAITS.labels("alerts").inc()
            log.warning("alerts %s to %s postponed: %s", ids, chat, exc)
        elif exc.permanent or attempts >= MAX_ATTEMPTS:
            reason = str(exc) if exc.permanent else f"gave up after {attempts} attempts: {exc}"
            await alerts_repo.mark_failed(self.db, ids, reason)
            metrics.ALERTS_FAILED.inc()
            log.warning("alerts %s to %s failed: %s", ids, chat, reason)
        else:
            delay = backoff(attempts)
            await alerts_repo.postpone(self.db, ids, utcnow() + timedelta(seconds=delay), str(exc))
            log.warning("alerts %s to %s: %s; retry in %.0fs", ids, chat, exc, delay)
