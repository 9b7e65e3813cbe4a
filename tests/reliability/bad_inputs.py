#!/usr/bin/python3
"""reliability:bad_inputs — every bad input in CASES is sent to a real `rtev serve` through
its door (rtev WebSocket, HTTP API, SSE, Socket.IO polling and WebSocket) and its reply is
checked. After EVERY case a canary WebSocket, connected and subscribed once at the start and
never reconnecting, must receive a fresh event published through the HTTP API, and the server
process must still be running: one bad client never costs anyone else their service.

  bad_inputs.py RTEV_BINARY [NAME…]  run the cases, or only those named (and check the table)
  bad_inputs.py --table              print the markdown table of the cases

The table in docs/reliability.md between the bad-inputs markers must equal --table, so the
document cannot drift from what is tested."""
import os
import sys
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "cli"))

from doors import (HTTP, SSE, WS, WsUpgrade, EioRequest, Http, HttpRaw, HttpStatus,  # noqa: E402
                   SioError, SioPacket, SioSend, WsClose, WsConnect, WsError, WsReply, WsSend, code)
from streams import Canary  # noqa: E402
from wire import RawWs  # noqa: E402

TEST_NAME = "reliability:bad_inputs"
DOC = os.path.join(HERE, "..", "..", "docs", "reliability.md")
BEGIN, END = "<!-- bad-inputs:begin -->", "<!-- bad-inputs:end -->"
SECRET, API_KEY = "reliability-secret", "reliability-key"
MAX_MESSAGE = 65536  # rtev serve's default --max-message-bytes
DEEP = "[" * 200 + "]" * 200  # deeper than the 128 levels rtev::parse_json allows
BIG = "x" * (MAX_MESSAGE + 1000)


def pub(ref="p", **fields):
    data = {"room": "lobby", "type": "message_sent", "data": {"n": 1}}
    data.update(fields)
    return {"type": "PUBLISH", "ref": ref, "data": {k: v for k, v in data.items() if v is not DROP}}


def sub(ref="s", **fields):
    data = {"room": "lobby"}
    data.update(fields)
    return {"type": "SUBSCRIBE", "ref": ref, "data": {k: v for k, v in data.items() if v is not DROP}}


def op(name, ref="r", **data):
    return {"type": name, "ref": ref, "data": data}


DROP = object()  # a field left out of pub()/sub()
ROOM_ERR = "data.room:"
TYPE_ERR = "data.type:"
FRAME = RawWs.frame


def fragments(total, pieces):
    """A text message of `total` bytes sent as `pieces` frames (first text, then continuations)."""
    body = ('{"type":"PING","pad":"' + "x" * total + '"}').encode()[:total]
    step = len(body) // pieces + 1
    chunks = [body[i:i + step] for i in range(0, len(body), step)]
    return ("raw", b"".join(FRAME(1 if i == 0 else 0, c, fin=(i == len(chunks) - 1)) for i, c in enumerate(chunks)))


def sse(query, auth="probe", headers=None, label=None):
    return Http("GET", "/api/events" + query, auth=auth, headers=headers, door=SSE, label=label)


def raw_get(target, extra=b""):
    return b"GET " + target + b" HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n" + extra + b"\r\n"


def post_events(extra_headers, body):
    return (b"POST /api/events HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nAuthorization: Bearer "
            + API_KEY.encode() + b"\r\nContent-Type: application/json\r\n" + extra_headers + b"\r\n" + body)


def sio_event_packet(name, payload, ack=None):
    import json
    return "42" + (str(ack) if ack is not None else "") + json.dumps([name, payload])


# One row per bad input: (name, input — which door and what is sent, expected reply).
CASES = [
    # --- rtev WebSocket: JSON -------------------------------------------------------------------
    ("ws_malformed_json", WsSend('{"type":"PING",'), WsError("bad_json")),
    ("ws_not_json", WsSend("hello server"), WsError("bad_json")),
    ("ws_deep_nesting", WsSend(DEEP, label="JSON array nested 200 levels deep"),
     WsError("bad_json", contains="nested deeper than 128 levels")),
    ("ws_deep_nesting_in_data", WsSend('{"type":"PUBLISH","data":{"room":"lobby","type":"t","data":' + DEEP + "}}",
                                       label="PUBLISH whose `data` is nested 200 levels deep"),
     WsError("bad_json", contains="nested deeper than 128 levels")),
    ("ws_top_level_array", WsSend("[1,2,3]"), WsError("bad_request", contains="expected a JSON object")),
    ("ws_top_level_string", WsSend('"PING"'), WsError("bad_request", contains="expected a JSON object")),
    ("ws_missing_op", WsSend({"ref": "r", "data": {}}), WsError("bad_request", starts="type:")),
    ("ws_op_number", WsSend({"type": 7, "ref": "r"}), WsError("bad_request", starts="type:")),
    ("ws_data_array", WsSend({"type": "SUBSCRIBE", "ref": "r", "data": []}), WsError("bad_request", starts="data:")),
    ("ws_unknown_op", WsSend({"type": "FROBNICATE", "ref": "r"}), WsError("unknown_op", contains="FROBNICATE")),
    ("ws_empty_op", WsSend({"type": "", "ref": 9}), WsError("unknown_op")),
    ("ws_invalid_utf8_text_frame", WsSend(("raw", FRAME(1, b'{"type":"PING","x":"\xff\xfe"}')),
                                          label="text frame with invalid UTF-8 (`\\xff\\xfe`)"), WsClose(1007)),
    ("ws_invalid_utf8_in_binary_json", WsSend(b'{"type":"PUBLISH","data":{"room":"lobby","type":"\xff","data":{}}}',
                                              label="binary frame: JSON with invalid UTF-8 in `type`"),
     WsError("bad_json")),
    ("ws_binary_garbage", WsSend(b"\x00\x01\x02\x03", label="binary frame `00 01 02 03`"), WsError("bad_json")),
    ("ws_reserved_opcode", WsSend(("raw", FRAME(3, b"x")), label="frame with reserved opcode 3"), WsClose(1002)),
    ("ws_rsv_bits", WsSend(("raw", FRAME(1, b"{}", rsv=4)), label="frame with RSV1 set, no extension"), WsClose(1002)),
    ("ws_oversized_message", WsSend(BIG, label=f"one {MAX_MESSAGE + 1000}-byte text message"), WsClose(1009)),
    ("ws_oversized_fragmented", WsSend(fragments(MAX_MESSAGE * 2, 8),
                                       label=f"a {MAX_MESSAGE * 2}-byte message in 8 fragments"), WsClose(1009)),
    ("ws_fragmented_ok", WsSend(("raw", FRAME(1, b'{"type":"PI', fin=False) + FRAME(0, b'NG","ref":"f"}')),
                                label='`{"type":"PING","ref":"f"}` in 2 fragments'), WsReply("PONG")),
    # --- rtev WebSocket: fields of every operation ----------------------------------------------
    ("ws_subscribe_no_room", WsSend(sub(room=DROP)), WsError("bad_request", starts="data.room: required")),
    ("ws_subscribe_room_number", WsSend(sub(room=42)), WsError("bad_request", starts="data.room: expected a string")),
    ("ws_subscribe_room_lf", WsSend(sub(room="lob\nby")), WsError("bad_request", starts=ROOM_ERR)),
    ("ws_subscribe_room_nul", WsSend(sub(room="lob\u0000by")), WsError("bad_request", starts=ROOM_ERR)),
    ("ws_subscribe_room_space", WsSend(sub(room="the lobby")), WsError("bad_request", starts=ROOM_ERR)),
    ("ws_subscribe_room_unicode", WsSend(sub(room="café")), WsError("bad_request", starts=ROOM_ERR)),
    ("ws_subscribe_room_too_long", WsSend(sub(room="r" * 129), label="SUBSCRIBE a 129-character room"),
     WsError("bad_request", starts=ROOM_ERR)),
    ("ws_subscribe_other_user", WsSend(sub(room="user:alice")), WsError("forbidden", contains="another user")),
    ("ws_subscribe_role_not_held", WsSend(sub(room="role:admin")), WsError("forbidden", contains="needs role admin")),
    ("ws_subscribe_glob_not_admin", WsSend(sub(room="*")), WsError("forbidden", contains="glob")),
    ("ws_subscribe_presence_not_admin", WsSend(sub(room="presence")), WsError("forbidden", contains="presence")),
    ("ws_subscribe_outside_rooms_claim", WsSend(sub(room="elsewhere"), token="claimed",
                                                label="SUBSCRIBE `elsewhere` with a JWT whose `rooms` claim is `[lobby]`"),
     WsError("forbidden", contains="rooms claim")),
    ("ws_subscribe_since_word", WsSend(sub(since="yesterday")), WsError("bad_request", starts="data.since:")),
    ("ws_subscribe_since_negative", WsSend(sub(since=-5)), WsError("bad_request", starts="data.since:")),
    ("ws_subscribe_since_object", WsSend(sub(since={"seq": 1})), WsError("bad_request", starts="data.since:")),
    ("ws_subscribe_since_bad_time", WsSend(sub(since="2024-13-01T00:00:00Z")),
     WsError("bad_request", starts="data.since:", contains="2024-13-01T00:00:00Z")),
    ("ws_subscribe_epoch_number", WsSend(sub(since=1, epoch=5)), WsError("bad_request", starts="data.epoch:")),
    ("ws_subscribe_types_number", WsSend(sub(types=5)), WsError("bad_request", starts="data.types:")),
    ("ws_subscribe_types_mixed", WsSend(sub(types=["a", 1])), WsError("bad_request", starts="data.types:")),
    ("ws_unsubscribe_room_array", WsSend(op("UNSUBSCRIBE", room=["lobby"])), WsError("bad_request", starts="data.room:")),
    ("ws_publish_no_type", WsSend(pub(type=DROP)), WsError("bad_request", contains="type")),
    ("ws_publish_type_number", WsSend(pub(type=3)), WsError("bad_request", contains="type")),
    ("ws_publish_type_empty", WsSend(pub(type="")), WsError("bad_request", contains="type")),
    ("ws_publish_type_lf", WsSend(pub(type="message\nsent")), WsError("bad_request", starts=TYPE_ERR)),
    ("ws_publish_type_cr", WsSend(pub(type="message\rsent")), WsError("bad_request", starts=TYPE_ERR)),
    ("ws_publish_type_nul", WsSend(pub(type="message\u0000sent")), WsError("bad_request", starts=TYPE_ERR)),
    ("ws_publish_type_esc", WsSend(pub(type="\u001b[31mred")), WsError("bad_request", starts=TYPE_ERR)),
    ("ws_publish_room_tab", WsSend(pub(room="lob\tby")), WsError("bad_request", starts=ROOM_ERR)),
    ("ws_publish_two_targets", WsSend(pub(user_id="probe")), WsError("bad_request", contains="one target")),
    ("ws_publish_no_target", WsSend(pub(room=DROP)),
     WsError("bad_request", contains="missing target: give room, user_id, user_ids or broadcast: true")),
    ("ws_publish_broadcast_false", WsSend(pub(room=DROP, broadcast=False)),
     WsError("bad_request", contains="missing target: give room, user_id, user_ids or broadcast: true")),
    ("ws_publish_other_user", WsSend(pub(room=DROP, user_id="alice")), WsError("forbidden")),
    ("ws_publish_broadcast_not_admin", WsSend(pub(room=DROP, broadcast=True)), WsError("forbidden")),
    ("ws_publish_broadcast_string", WsSend(pub(room=DROP, broadcast="yes")), WsError("bad_request", contains="broadcast")),
    ("ws_publish_user_ids_string", WsSend(pub(room=DROP, user_ids="alice")), WsError("bad_request", contains="user_ids")),
    ("ws_publish_id_number", WsSend(pub(id=5)), WsError("bad_request", contains="id")),
    ("ws_publish_role_room", WsSend(pub(room="role:admin")), WsError("forbidden")),
    ("ws_typing_no_room", WsSend(op("TYPING_START")), WsError("bad_request", starts="data.room: required")),
    ("ws_typing_room_cr", WsSend(op("TYPING_STOP", room="lob\rby")), WsError("bad_request", starts=ROOM_ERR)),
    ("ws_typing_other_user", WsSend(op("TYPING_START", room="user:alice")), WsError("forbidden")),
    ("ws_history_limit_zero", WsSend(op("HISTORY", room="lobby", limit=0)), WsError("bad_request", starts="data.limit:")),
    ("ws_history_limit_string", WsSend(op("HISTORY", room="lobby", limit="10")), WsError("bad_request", starts="data.limit:")),
    ("ws_history_limit_float", WsSend(op("HISTORY", room="lobby", limit=2.5)), WsError("bad_request", starts="data.limit:")),
    ("ws_history_since_word", WsSend(op("HISTORY", room="lobby", since="soon")), WsError("bad_request", contains="since")),
    ("ws_history_until_word", WsSend(op("HISTORY", room="lobby", until="later")), WsError("bad_request", contains="until")),
    ("ws_history_room_nul", WsSend(op("HISTORY", room="a\u0000b")), WsError("bad_request", starts=ROOM_ERR)),
    ("ws_history_forbidden", WsSend(op("HISTORY", room="user:alice")), WsError("forbidden")),
    ("ws_presence_no_room", WsSend(op("PRESENCE")), WsError("bad_request", starts="data.room: required")),
    ("ws_presence_forbidden", WsSend(op("PRESENCE", room="presence")), WsError("forbidden")),
    ("ws_presence_room_lf", WsSend(op("PRESENCE", room="a\nb")), WsError("bad_request", starts=ROOM_ERR)),
    ("ws_ping_data_string", WsSend({"type": "PING", "ref": "r", "data": "x"}), WsError("bad_request", starts="data:")),
    ("ws_unsubscribe_no_room", WsSend(op("UNSUBSCRIBE")), WsError("bad_request", starts="data.room: required")),
    ("ws_typing_room_number", WsSend(op("TYPING_START", room=5)), WsError("bad_request", starts="data.room:")),
    ("ws_history_room_null", WsSend(op("HISTORY", room=None)), WsError("bad_request", starts="data.room: required")),
    ("ws_history_types_number", WsSend(op("HISTORY", room="lobby", types=7)), WsError("bad_request", starts="data.types:")),
    ("ws_presence_room_boolean", WsSend(op("PRESENCE", room=True)), WsError("bad_request", starts="data.room:")),
    ("ws_publish_user_ids_float", WsSend(pub(room=DROP, user_ids=[1.5])), WsError("bad_request", contains="user_ids[0]")),
    ("ws_publish_type_too_long", WsSend(pub(type="t" * 300), label="PUBLISH with a 300-character `type`"),
     WsError("bad_request", contains="type")),
    ("ws_subscribe_since_bad_seq", WsSend(sub(since="seq:abc")), WsError("bad_request", starts="data.since:")),
    ("ws_before_authentication", WsSend(sub(), token=None, label="SUBSCRIBE before authenticating"), WsError("not_authenticated")),
    ("ws_rate_limit_abuse", WsSend(("raw", b"".join(FRAME(1, '{"type":"PING","ref":%d}' % i) for i in range(4000))),
                                   label="4000 PINGs with refs at once (`--rate-limit 100/s --rate-burst 1000`)"),
     WsClose(1008, acks=1000)),
    # --- rtev WebSocket: tokens ---------------------------------------------------------------
    ("ws_jwt_alg_none", WsConnect("alg_none", "JWT with `alg: none`, no signature"),
     WsClose(1008, auth_error="alg")),
    ("ws_jwt_bad_signature", WsConnect("bad_sig", "JWT signed with another secret"),
     WsClose(1008, auth_error="signature")),
    ("ws_jwt_expired", WsConnect("expired", "JWT whose `exp` has passed"), WsClose(1008, auth_error="expired")),
    ("ws_jwt_not_yet_valid", WsConnect("nbf_future", "JWT whose `nbf` is in the future"),
     WsClose(1008, auth_error="nbf")),
    ("ws_jwt_no_subject", WsConnect("no_sub", "JWT without `sub` / `user_id`"), WsClose(1008, auth_error="sub")),
    ("ws_jwt_roles_number", WsConnect("roles_number", "JWT whose `roles` is a number"),
     WsClose(1008, auth_error="roles")),
    ("ws_token_garbage", WsConnect("not.a.jwt!", "`?token=not.a.jwt!`", how="query"),
     WsClose(1008, auth_error="JWT")),
    ("ws_authenticate_token_array", WsConnect([1], "`authenticate` message with token `[1]`", how="message"),
     WsClose(1008, auth_error="token")),
    ("ws_token_two_parts", WsConnect("abc.def", "`authenticate` message with token `abc.def`", how="message"),
     WsClose(1008, auth_error="3 dot-separated parts")),
    # --- HTTP API ---------------------------------------------------------------------------
    ("http_malformed_json", Http("POST", "/api/events", '{"type":'), HttpStatus(400, "bad_json")),
    ("http_deep_nesting", Http("POST", "/api/events", DEEP, label="POST /api/events, body nested 200 levels deep"),
     HttpStatus(400, "bad_json", contains="nested deeper than 128 levels")),
    ("http_invalid_utf8_body", Http("POST", "/api/events", b'{"room":"lobby","type":"\xff","data":{}}',
                                    label="POST /api/events, invalid UTF-8 (`\\xff`) in a JSON string"),
     HttpStatus(400, "bad_json")),
    ("http_empty_list", Http("POST", "/api/events", []), HttpStatus(400, "bad_request", contains="empty")),
    ("http_bad_item_in_list", Http("POST", "/api/events", [{"room": "lobby", "type": "a", "data": {}}, {"room": "lobby", "type": 5, "data": {}}]),
     HttpStatus(400, "bad_request", contains="[1].type")),
    ("http_type_lf", Http("POST", "/api/events", {"room": "lobby", "type": "a\nb", "data": {}}),
     HttpStatus(400, "bad_request", contains="type")),
    ("http_room_nul", Http("POST", "/api/events", {"room": "a\u0000b", "type": "a", "data": {}}),
     HttpStatus(400, "bad_request", contains="room")),
    ("http_no_target", Http("POST", "/api/events", {"type": "a", "data": {}}),
     HttpStatus(400, "bad_request", contains="missing target: give room, user_id, user_ids or broadcast: true")),
    ("http_no_target_in_list", Http("POST", "/api/events", [{"room": "lobby", "type": "a", "data": {}},
                                                            {"type": "a", "data": {}}]),
     HttpStatus(400, "bad_request", contains="[1]: missing target")),
    ("http_no_api_key", Http("POST", "/api/events", {"room": "lobby", "type": "a", "data": {}}, auth=None),
     HttpStatus(401, "unauthorized")),
    ("http_wrong_api_key", Http("POST", "/api/events", {"room": "lobby", "type": "a", "data": {}}, auth="wrong-key"),
     HttpStatus(403, "forbidden")),
    ("http_api_key_in_query", Http("POST", f"/api/events?token={API_KEY}", {"room": "lobby", "type": "a", "data": {}},
                                   auth=None, label="`POST /api/events?token=<the API key>`"),
     HttpStatus(401, "unauthorized")),
    ("http_body_too_large", HttpRaw(post_events(b"Content-Length: %d\r\n" % (MAX_MESSAGE * 16 + 1), b""),
                                    f"POST /api/events announcing `Content-Length: {MAX_MESSAGE * 16 + 1}` (API key)"),
     HttpStatus(413, "too_large")),
    ("http_content_length_garbage", HttpRaw(post_events(b"Content-Length: abc\r\n", b"{}"), "POST /api/events with `Content-Length: abc` (API key)"),
     HttpStatus(400, any_4xx=True)),
    ("http_chunked_body", HttpRaw(post_events(b"Transfer-Encoding: chunked\r\n", b"2\r\n{}\r\n0\r\n\r\n"),
                                  "POST /api/events with `Transfer-Encoding: chunked` (API key)"),
     HttpStatus(411, "length_required")),
    ("http_header_without_colon", HttpRaw(raw_get(b"/health", b"NoColonHere\r\n"), "`GET /health` with a header line `NoColonHere`"),
     HttpStatus(400, "bad_request", contains="no ':'")),
    ("http_header_named_like_the_start_of_a_known_one", HttpRaw(raw_get(b"/health", b"A: v\r\n"),
                                                                "`GET /health` with a header `A: v` (`a` begins `accept`)"),
     HttpStatus(400, "bad_request", contains="header 'a' cannot be read")),
    ("http_oversized_header", HttpRaw(raw_get(b"/health", b"Cookie: " + b"a" * 20000 + b"\r\n"), "`GET /health` with a 20 000-byte `Cookie` header"),
     HttpStatus(431, "header_too_large")),
    ("http_oversized_unknown_header", HttpRaw(raw_get(b"/health", b"X-Big: " + b"a" * 20000 + b"\r\n"),
                                               "`GET /health` with a 20 000-byte `X-Big` header"),
     HttpStatus(431, "header_too_large", contains="x-big")),
    ("http_head_over_32kb", HttpRaw(raw_get(b"/health", b"".join(b"X-Pad-%d: %s\r\n" % (i, b"p" * 4000) for i in range(9))),
                                    "`GET /health` with nine 4 000-byte headers (a 36 KB head)"),
     HttpStatus(431, "header_too_large", contains="32768")),
    ("http_too_many_fields", Http("GET", "/health?" + "&".join(f"p{i}=v" for i in range(100)), label="`GET /health?p0=v&…&p99=v` (100 query parameters)"),
     HttpStatus(431, "header_too_large", contains="80")),
    ("http_folded_header", HttpRaw(raw_get(b"/health", b"X-Fold: 1\r\n  folded\r\n"), "`GET /health` with a folded header line"),
     HttpStatus(400, "bad_request", contains="folded")),
    ("http_version_2", HttpRaw(raw_get(b"/health").replace(b"HTTP/1.1", b"HTTP/2.0", 1), "`GET /health HTTP/2.0`"),
     HttpStatus(505, "http_version_not_supported")),
    ("http_request_line_garbage", HttpRaw(b"hello there\r\n\r\n", "`hello there` as a request line"),
     HttpStatus(400, "bad_request", contains="request line")),
    ("http_oversized_url", HttpRaw(raw_get(b"/health?" + b"a" * 12000), "`GET /health?aaa…`, a 12 000-byte URL"), HttpStatus(414)),
    ("http_query_percent_ff", Http("GET", "/api/history?room=%FF"), HttpStatus(400, "bad_request", contains="room")),
    ("http_query_bad_escape", Http("GET", "/api/history?room=lobby&since=%G1"), HttpStatus(400, "bad_request", contains="since")),
    ("http_path_bad_escape", Http("GET", "/api/hist%zzory"), HttpStatus(400, "bad_request", contains="path")),
    ("http_query_overlong_utf8", Http("GET", "/api/history?types=%C0%AF"), HttpStatus(400, "bad_request", contains="types")),
    ("http_head", HttpRaw(b"HEAD /health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n", "`HEAD /health`",
                          head_only=True), HttpStatus(200, no_body=True)),
    ("http_unknown_method", HttpRaw(raw_get(b"/health").replace(b"GET", b"BREW", 1), "`BREW /health`"),
     HttpStatus(501, "not_implemented", contains="BREW")),
    ("http_tls_on_plain_port", HttpRaw(b"\x16\x03\x01\x00\x2a\x01\x00\x00\x26\x03\x03" + b"\x00" * 32 + b"\r\n\r\n",
                                       "a TLS ClientHello on the plain port"), HttpStatus(400, "bad_request", contains="http://")),
    ("http_unknown_path", Http("GET", "/api/nope"), HttpStatus(404, "not_found")),
    ("http_wrong_method", Http("DELETE", "/api/history"), HttpStatus(405, "method_not_allowed")),
    ("http_history_limit_zero", Http("GET", "/api/history?room=lobby&limit=0"), HttpStatus(400, "bad_request", contains="limit")),
    ("http_history_limit_word", Http("GET", "/api/history?room=lobby&limit=ten"), HttpStatus(400, "bad_request", contains="limit")),
    ("http_history_since_word", Http("GET", "/api/history?room=lobby&since=someday"), HttpStatus(400, "bad_request", contains="since")),
    ("http_history_no_token", Http("GET", "/api/history?room=lobby", auth=None), HttpStatus(401, "unauthorized")),
    ("http_history_other_user", Http("GET", "/api/history?room=user:alice", auth="probe"), HttpStatus(403, "forbidden")),
    ("http_history_all_rooms_not_admin", Http("GET", "/api/history", auth="probe"), HttpStatus(403, "forbidden")),
    ("http_history_bad_jwt", Http("GET", "/api/history?room=lobby", auth="bad_sig"), HttpStatus(401, "unauthorized")),
    ("http_history_room_lf", Http("GET", "/api/history?room=a%0Ab", auth="probe"),
     HttpStatus(400, "bad_request", contains="room")),
    ("http_user_path_percent_ff", Http("GET", "/api/users/%FF"), HttpStatus(400, any_4xx=True)),
    ("http_user_without_key", Http("GET", "/api/users/alice", auth=None), HttpStatus(401, "unauthorized")),
    ("http_disconnect_without_key", Http("POST", "/api/users/alice/disconnect", "", auth=None), HttpStatus(401, "unauthorized")),
    # --- SSE --------------------------------------------------------------------------------
    ("sse_other_user_room", sse("?rooms=user:alice"), HttpStatus(403, "forbidden")),
    ("sse_glob_not_admin", sse("?rooms=*"), HttpStatus(403, "forbidden")),
    ("sse_room_lf", sse("?rooms=lob%0Aby"),
     HttpStatus(400, "bad_request", contains="rooms")),
    ("sse_room_percent_ff", sse("?rooms=%FF"), HttpStatus(400, "bad_request", contains="rooms")),
    ("sse_types_nul", sse("?rooms=lobby&types=a%00b"),
     HttpStatus(400, "bad_request", contains="types")),
    ("sse_since_word", sse("?rooms=lobby&since=whenever"), HttpStatus(400, "bad_request", contains="since")),
    ("sse_last_event_id_garbage", sse("?rooms=lobby", headers={"Last-Event-ID": "zzz"}),
     HttpStatus(400, "bad_request", contains="since")),
    ("sse_no_token", sse("?rooms=lobby", auth=None), HttpStatus(401, "unauthorized")),
    ("sse_jwt_alg_none", sse("?rooms=lobby", auth="alg_none"),
     HttpStatus(401, "unauthorized", contains="alg")),
    ("sse_jwt_expired", sse("?rooms=lobby", auth="expired"),
     HttpStatus(401, "unauthorized", contains="expired")),
    # --- Socket.IO / Engine.IO --------------------------------------------------------------
    ("eio_old_version", EioRequest("GET", "/socket.io/?EIO=3&transport=polling"), HttpStatus(400, 5)),
    ("eio_unknown_transport", EioRequest("GET", "/socket.io/?EIO=4&transport=carrier-pigeon"), HttpStatus(400, 0)),
    ("eio_unknown_sid", EioRequest("GET", "/socket.io/?EIO=4&transport=polling&sid=nope"), HttpStatus(400, 1)),
    ("eio_post_without_sid", EioRequest("POST", "/socket.io/?EIO=4&transport=polling", "40"), HttpStatus(400, 2)),
    ("eio_ws_unknown_sid", WsUpgrade("/socket.io/?EIO=4&transport=websocket&sid=nope", "WebSocket upgrade with `sid=nope`"),
     HttpStatus(400, 1)),
    ("eio_ws_old_version", WsUpgrade("/socket.io/?EIO=3&transport=websocket", "WebSocket upgrade with `EIO=3`"),
     HttpStatus(400, 5)),
    ("ws_upgrade_unknown_path", WsUpgrade("/not-a-socket", "WebSocket upgrade to `/not-a-socket`", door=WS),
     HttpStatus(404)),
    ("sio_poll_unparsable_packet", SioSend(b"x!", label="POST body `x!` (no Engine.IO packet type)"),
     HttpStatus(400, 3)),
    ("sio_poll_unknown_event", SioSend(sio_event_packet("frobnicate", {})), SioError("unknown_event", contains="frobnicate")),
    ("sio_poll_deep_nesting", SioSend("42" + '["publish",' + DEEP + "]", label="EVENT whose payload is nested 200 levels deep"),
     SioError(None, contains="nested deeper than 128 levels")),
    ("sio_poll_malformed_json", SioSend('42["publish",{"room":'), SioError("bad_json")),
    ("sio_poll_payload_number", SioSend(sio_event_packet("publish", 5)), SioError("bad_request", contains="object")),
    ("sio_poll_join_room_lf", SioSend(sio_event_packet("join", {"room": "a\nb"})), SioError("bad_request", contains="room")),
    ("sio_poll_publish_no_target", SioSend(sio_event_packet("publish", {"type": "a", "data": {}})),
     SioError("bad_request", contains="missing target: give room, user_id, user_ids or broadcast: true")),
    ("sio_poll_publish_type_nul", SioSend(sio_event_packet("publish", {"room": "lobby", "type": "a\u0000b", "data": {}})),
     SioError("bad_request", contains="type")),
    ("sio_poll_join_forbidden_ack", SioSend(sio_event_packet("join", {"room": "user:alice"}, ack=7)),
     SioError("forbidden", via_ack=True)),
    ("sio_poll_history_limit_zero", SioSend(sio_event_packet("history", {"room": "lobby", "limit": 0})),
     SioError("bad_request", contains="limit")),
    ("sio_poll_typing_not_boolean", SioSend(sio_event_packet("typing", {"room": "lobby", "is_typing": "yes"})),
     SioError("bad_request", contains="is_typing")),
    ("sio_poll_binary_event", SioSend('451-["upload",{"_placeholder":true,"num":0}]'), SioError("bad_request")),
    ("sio_poll_other_namespace", SioSend('40/admin,{"token":"x"}'), SioPacket("44/admin", "Invalid namespace")),
    ("sio_poll_bad_token", SioSend('40{"token":"garbage"}', connect=False, label='CONNECT `40{"token":"garbage"}`'),
     SioPacket("44", "unauthorized")),
    ("sio_ws_unknown_event", SioSend(sio_event_packet("frobnicate", 1), ws=True), SioError("unknown_event")),
    ("sio_ws_deep_nesting", SioSend("42" + '["join",' + DEEP + "]", ws=True, label="EVENT nested 200 levels deep"),
     SioError(None, contains="nested deeper than 128 levels")),
    ("sio_ws_event_not_array", SioSend('42{"room":"lobby"}', ws=True), SioError("bad_request")),
    ("sio_ws_join_glob_not_admin", SioSend(sio_event_packet("join", "*", ack=1), ws=True), SioError("forbidden", via_ack=True)),
    ("sio_ws_oversized", SioSend("42" + '["publish","' + BIG + '"]', ws=True, label=f"a {len(BIG) + 16}-byte message"),
     WsClose(1009)),
    ("sio_ws_binary_frame", SioSend(b"\x04\x00\x01", sio_event_packet("frobnicate", 1), ws=True,
                                    label="binary WebSocket frame `04 00 01` (ignored, §7.5), then an unknown event"),
     SioError("unknown_event")),
]


def table():
    rows = [f"Checked by `{TEST_NAME}` (`tests/reliability/bad_inputs.py`; regenerate with "
            "`python3 tests/reliability/bad_inputs.py --table`) against `rtev serve --auth jwt --api-key …` "
            "with the default `--max-message-bytes` (65536). rtev WebSocket and Socket.IO rows are sent on a "
            "connection authenticated as user `probe` (role `member`) unless the row says otherwise; HTTP "
            "and SSE rows say which credentials they carry. After every row a canary client, "
            "subscribed since the start, receives a fresh event and the server is still running.",
            "", "| # | door | input | expected reply |", "| --- | --- | --- | --- |"]
    for i, (name, inp, exp) in enumerate(CASES, 1):
        rows.append(f"| {i} | {inp.door} | {inp.label} | {exp.describe()} |")
    return "\n".join(rows) + "\n"


def doc_table():
    try:
        text = open(DOC, encoding="utf-8").read()
    except OSError as e:
        return f"<cannot read {DOC}: {e}>"
    if BEGIN not in text or END not in text:
        return f"<{DOC} has no {BEGIN} … {END} block>"
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n") + "\n"


def main():
    if sys.argv[1:] == ["--table"]:
        sys.stdout.write(table())
        return
    names = [c[0] for c in CASES]
    assert len(set(names)) == len(names), "duplicate case names"
    from cli_e2e_support import Suite, jwt_hs256
    from env import Env, check_clean_exit
    suite = Suite("bad-inputs")
    suite.check("docs/reliability.md's table is what --table prints", doc_table() == table(),
                "run: python3 tests/reliability/bad_inputs.py --table, and paste it between the markers")
    only = set(sys.argv[2:])
    env = Env(suite, SECRET, API_KEY, jwt_hs256)
    canary = Canary(env.hostport, env.tokens["canary"], API_KEY)
    suite.check("the canary receives an event before any bad input", canary.check() is None)
    failed = []
    for i, (name, inp, exp) in enumerate(CASES, 1):
        if only and name not in only:
            continue
        conn = None
        try:
            conn = inp.run(env)
            why = exp.check(conn, inp)
        except Exception:
            why = "the test itself raised: " + traceback.format_exc(limit=3)
        finally:
            if conn is not None and hasattr(conn, "close"):
                conn.close()
        if not suite.check(f"#{i} {name}: {exp.describe()}", why is None, why):
            failed.append(name)
        alive = env.server.p.poll() is None
        c = canary.check() if alive else "the server process exited"
        if not suite.check(f"#{i} {name}: server alive, canary served", alive and c is None,
                           c or f"rtev serve exited with {env.server.p.returncode}: {''.join(env.server.err_lines[-20:])}"):
            if not alive:
                break
    check_clean_exit(suite, env.server)
    if failed:
        print("failed cases: " + " ".join(failed), flush=True)
    suite.finish()


if __name__ == "__main__":
    main()
