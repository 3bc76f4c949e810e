"""Janus WebSocket signaling: sessions, plugin handles, transactions, keepalive, claim.

Every request carries a transaction id; its reply (``success``/``error``, or an
``ack`` followed by a plugin ``event`` with the same transaction) resolves the
request's future. A session ``keepalive`` is answered with an ``ack`` only, so for it
the ``ack`` is the answer. Other messages are routed by ``sender`` to the handle's
listener. A keepalive goes out every second: its ``ack`` proves the hub still hears
us, and :attr:`JanusClient.heard` (the time anything last arrived) lets the call
notice a dead link within seconds instead of waiting for a request to time out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from endpoint._tasks import Tasks
from endpoint.errors import (
    ConnectionLost,
    FailReason,
    HubProtocolError,
    HubRequestError,
    HubUnreachable,
)

log = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 1.0  # also the heartbeat the call's liveness check listens for
REQUEST_TIMEOUT = 10.0
MAX_MESSAGE = 4 << 20  # bytes; the biggest real hub message (a 25-room SDP) is ~50 kB
SESSION_NOT_FOUND = 458  # JANUS_ERROR_SESSION_NOT_FOUND: nothing left to claim
_ACK_IS_ANSWER = ("keepalive", "trickle")
CLOSE_SECONDS = 2.0  # the hub's answer to our WebSocket close

Json = dict[str, Any]
EventListener = Callable[[Json], None]

# Janus core and VideoRoom error codes → reasons the user can act on.
_REASONS = {
    403: FailReason.UNAUTHORIZED,  # JANUS_ERROR_UNAUTHORIZED (token)
    405: FailReason.UNAUTHORIZED,  # JANUS_ERROR_UNAUTHORIZED_PLUGIN
    426: FailReason.NO_SUCH_ROOM,  # JANUS_VIDEOROOM_ERROR_NO_SUCH_ROOM
    432: FailReason.ROOM_FULL,  # JANUS_VIDEOROOM_ERROR_TOO_MANY_PUBLISHERS
    433: FailReason.WRONG_PIN,  # JANUS_VIDEOROOM_ERROR_UNAUTHORIZED
}


@dataclass(frozen=True)
class Reply:
    """A plugin's answer to a request: its data and, maybe, an SDP."""

    data: Json
    jsep: Json | None


def _request_error(code: int, text: str) -> HubRequestError:
    return HubRequestError(
        f"hub error {code}: {text}", code, _REASONS.get(code, FailReason.HUB_ERROR)
    )


def _check_plugin_reply(message: Json) -> Reply:
    plugindata = message.get("plugindata")
    if not isinstance(plugindata, dict) or not isinstance(plugindata.get("data"), dict):
        raise HubProtocolError(f"reply without plugin data: {str(message)[:200]}")
    data: Json = plugindata["data"]
    if "error_code" in data or "error" in data:
        raise _request_error(int(data.get("error_code", 0)), str(data.get("error", "?")))
    jsep = message.get("jsep")
    if jsep is not None and not (isinstance(jsep, dict) and isinstance(jsep.get("sdp"), str)):
        raise HubProtocolError("malformed jsep from hub")
    return Reply(data, jsep)


class Handle:
    """One attached plugin instance (e.g. a VideoRoom publisher or subscriber)."""

    def __init__(self, client: JanusClient, handle_id: int) -> None:
        self.client = client
        self.id = handle_id
        self.listener: EventListener = lambda message: None

    async def request(self, body: Json, jsep: Json | None = None) -> Reply:
        """Send a plugin message and wait for its synchronous or asynchronous reply."""
        message: Json = {"janus": "message", "handle_id": self.id, "body": body}
        if jsep is not None:
            message["jsep"] = jsep
        return _check_plugin_reply(await self.client.send(message))

    async def detach(self) -> None:
        await self.client.send({"janus": "detach", "handle_id": self.id})

    async def hangup(self) -> None:
        """Close this handle's PeerConnection on the hub (the handle itself stays)."""
        await self.client.send({"janus": "hangup", "handle_id": self.id})


class JanusClient:
    """One WebSocket connection holding one Janus session."""

    def __init__(self, url: str, *, token: str | None = None, ca_file: str | None = None):
        self.url = url
        self._token = token
        self._ca_file = ca_file
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._pending: dict[str, asyncio.Future[Json]] = {}
        self._ack_answers: set[str] = set()  # transactions whose ``ack`` is the final answer
        self._handles: dict[int, Handle] = {}
        self._tasks = Tasks("janus")
        self.session_id: int | None = None
        self.closed = asyncio.Event()
        self.heard = time.monotonic()  # when anything last arrived from the hub
        self.on_lost: Callable[[str], None] = lambda why: None

    @property
    def connected(self) -> bool:
        """The WebSocket is open and has not been given up on."""
        return self._ws is not None and not self._ws.closed and not self.closed.is_set()

    def _ssl(self) -> ssl.SSLContext | bool:
        if not self.url.startswith("wss:"):
            return False
        return ssl.create_default_context(cafile=self._ca_file)  # verifies host + chain

    async def connect(self, timeout: float, claim: int | None = None) -> None:
        """Open the WebSocket and create a session, or take back session *claim* (both
        within *timeout*); a claim the hub refuses raises :class:`HubRequestError`."""
        self._http = aiohttp.ClientSession()
        try:
            async with asyncio.timeout(timeout):
                self._ws = await self._open()
        except (TimeoutError, aiohttp.ClientError, OSError) as err:
            await self.close()
            raise HubUnreachable(f"cannot reach hub {self.url}: {err!r}", _tls_reason(err)) from err
        self.heard = time.monotonic()
        self._tasks.spawn("receive", self._receive())
        if claim is None:
            reply = await self.send({"janus": "create"}, timeout=timeout)
            self.session_id = _int(reply.get("data", {}).get("id"), "session id")
        else:
            await self.send({"janus": "claim", "session_id": claim}, timeout=timeout)
            self.session_id = claim
        self._tasks.spawn("keepalive", self._keepalive())

    async def _open(self) -> aiohttp.ClientWebSocketResponse:
        assert self._http is not None
        return await self._http.ws_connect(
            self.url, protocols=("janus-protocol",), ssl=self._ssl(), max_msg_size=MAX_MESSAGE,
            timeout=aiohttp.ClientWSTimeout(ws_close=CLOSE_SECONDS),
        )  # fmt: skip

    async def attach(self, plugin: str) -> Handle:
        reply = await self.send({"janus": "attach", "plugin": plugin})
        handle = Handle(self, _int(reply.get("data", {}).get("id"), "handle id"))
        self._handles[handle.id] = handle
        return handle

    def adopt(self, handle_id: int) -> Handle:
        """A handle of a claimed session, now answered on this connection."""
        handle = self._handles[handle_id] = Handle(self, handle_id)
        return handle

    async def send(self, message: Json, timeout: float = REQUEST_TIMEOUT) -> Json:
        """Send a request and return its final reply (after any ``ack``)."""
        if self._ws is None or self._ws.closed:
            raise ConnectionLost("not connected to the hub")
        transaction = secrets.token_hex(8)
        message = {**message, "transaction": transaction}
        if self.session_id is not None:
            message.setdefault("session_id", self.session_id)
        if self._token:
            message["token"] = self._token
        future: asyncio.Future[Json] = asyncio.get_running_loop().create_future()
        self._pending[transaction] = future
        if message["janus"] in _ACK_IS_ANSWER:
            self._ack_answers.add(transaction)
        try:
            await self._ws.send_str(json.dumps(message))
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError as err:
            raise HubProtocolError(f"hub did not answer {message.get('janus')!r}") from err
        finally:
            self._pending.pop(transaction, None)
            self._ack_answers.discard(transaction)

    async def _receive(self) -> None:
        assert self._ws is not None
        why = "hub closed the connection"
        try:
            async for frame in self._ws:
                self.heard = time.monotonic()
                if frame.type == aiohttp.WSMsgType.TEXT:
                    self._dispatch_text(frame.data)
                elif frame.type == aiohttp.WSMsgType.ERROR:
                    why = _frame_error(frame.data)
        finally:
            self._lost(why)

    def _dispatch_text(self, text: str) -> None:
        try:
            message = json.loads(text)
            if not isinstance(message, dict) or not isinstance(message.get("janus"), str):
                raise ValueError("not a Janus message")
        except ValueError as err:
            log.warning("ignoring malformed message from hub (%s): %.200s", err, text)
            return
        try:
            self._dispatch(message)
        except (TypeError, ValueError, AttributeError) as err:
            log.warning("ignoring malformed message from hub (%r): %.200s", err, text)

    def _dispatch(self, message: Json) -> None:
        kind = message["janus"]
        transaction = str(message.get("transaction"))
        future = self._pending.get(transaction)
        if kind == "ack" and transaction in self._ack_answers:
            kind = "success"  # a keepalive's only answer
        elif kind == "ack" or kind == "keepalive":
            return
        if future is not None and not future.done():
            if kind == "error":
                error = message.get("error") or {}
                future.set_exception(
                    _request_error(int(error.get("code", 0)), str(error.get("reason")))
                )
            else:
                future.set_result(message)
            return
        handle = self._handles.get(message.get("sender", -1))
        if handle is not None:
            handle.listener(message)
        elif kind not in ("success", "timeout"):
            log.debug("unrouted hub message: %.200s", message)

    async def keepalive(self) -> None:
        """Keep the session alive; returns when the hub has answered."""
        await self.send({"janus": "keepalive"})

    async def _keepalive(self) -> None:
        """One keepalive a second. An unanswered one is not fatal by itself: the call's
        liveness check decides from everything heard (a lossy link delays a single ack)."""
        while True:
            await asyncio.sleep(KEEPALIVE_SECONDS)
            self._tasks.spawn("ping", self._ping())

    async def _ping(self) -> None:
        with contextlib.suppress(HubProtocolError, ConnectionLost, HubRequestError):
            await self.send({"janus": "keepalive"}, timeout=KEEPALIVE_SECONDS * 20)

    def _lost(self, why: str) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionLost(why))
        self.on_lost(why)

    async def close(self, destroy: bool = True) -> None:
        """Close the connection; first destroy the session (best effort) if *destroy*.

        Without *destroy* the hub keeps the session for a later ``claim``, and a
        connection already lost is not given time for a close handshake."""
        alive = self.connected
        if destroy and alive and self.session_id is not None:
            with contextlib.suppress(HubProtocolError, ConnectionLost, HubRequestError):
                await self.send({"janus": "destroy"}, timeout=2.0)
        self.closed.set()
        # The reader must be gone before the close handshake, or aiohttp waits for it.
        await self._tasks.close()
        with contextlib.suppress(TimeoutError, aiohttp.ClientError, OSError):
            if self._ws is not None:
                async with asyncio.timeout(CLOSE_SECONDS + 1 if alive and destroy else 0.2):
                    await self._ws.close()
        if self._http is not None:
            await self._http.close()
        self._ws = self._http = None


def _int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise HubProtocolError(f"hub sent a bad {what}: {value!r}")
    return value


def _frame_error(error: object) -> str:
    """Why the connection ended, from an aiohttp ERROR frame (its data is the exception)."""
    if (
        isinstance(error, aiohttp.WebSocketError)
        and error.code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
    ):
        return f"hub sent a message over the {MAX_MESSAGE >> 20} MB limit"
    return f"connection error: {error or 'unknown'}"


def _tls_reason(err: BaseException) -> FailReason:
    """TLS (give up) only when the hub's certificate is refused; a garbled or cut
    handshake is a link problem worth retrying."""
    if isinstance(err, (ssl.SSLCertVerificationError, aiohttp.ClientConnectorCertificateError)):
        return FailReason.TLS
    return FailReason.HUB_UNREACHABLE
