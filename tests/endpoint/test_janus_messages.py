"""Malformed or hostile hub messages are rejected cleanly, never crash the endpoint."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from endpoint import FailReason
from endpoint._janus_ws import JanusClient, _check_plugin_reply
from endpoint._subscriber import Subscription
from endpoint._videoroom import answerer_is_dtls_server, feeds_of
from endpoint.errors import EndpointError, HubProtocolError, HubRequestError

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_room_events_with_any_shape_raise_only_protocol_errors(data: Any) -> None:
    for parse in (feeds_of, Subscription().update):
        try:
            parse({"publishers": data, "streams": data})
        except HubProtocolError:
            pass
        except (TypeError, KeyError, ValueError, AttributeError) as err:
            pytest.fail(f"{parse.__name__} leaked {err!r} for {data!r}")


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=40) | json_values.map(json.dumps))
def test_client_ignores_garbage_frames(text: str) -> None:
    JanusClient("ws://127.0.0.1:1/")._dispatch_text(text)  # must not raise


@pytest.mark.parametrize(
    "message",
    [{"janus": "event", "sender": [1]}, {"janus": "error", "transaction": "t", "error": 5}],
)
async def test_client_ignores_malformed_envelopes(message: dict[str, Any]) -> None:
    client = JanusClient("ws://127.0.0.1:1/")
    client._pending["t"] = asyncio.get_running_loop().create_future()
    client._dispatch_text(json.dumps(message))  # must not raise


def test_plugin_error_reply_maps_to_reason() -> None:
    reply = {"janus": "event", "plugindata": {"data": {"error_code": 433, "error": "bad pin"}}}
    with pytest.raises(HubRequestError) as caught:
        _check_plugin_reply(reply)
    assert caught.value.reason is FailReason.WRONG_PIN
    with pytest.raises(HubProtocolError):
        _check_plugin_reply({"janus": "event", "plugindata": {"data": {}}, "jsep": {"sdp": 5}})


def test_feeds_skip_publishers_without_streams() -> None:
    data = {"publishers": [{"id": 1, "display": "Xã A", "streams": []}, {"id": 2, "display": "B"}]}
    assert [f.id for f in feeds_of(data)] == [2]


def test_dtls_role_munging_only_touches_setup_lines() -> None:
    offer = "v=0\r\na=setup:actpass\r\na=mid:0\r\na=setup:actpass\r\n"
    assert answerer_is_dtls_server(offer) == offer.replace("actpass", "active")


async def test_request_to_closed_client_raises_endpoint_error() -> None:
    client = JanusClient("ws://127.0.0.1:1/")
    with pytest.raises(EndpointError):
        await asyncio.wait_for(client.send({"janus": "ping"}), 2)
