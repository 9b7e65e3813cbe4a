#!/usr/bin/python3
"""A minimal rtev-protocol WebSocket server over TLS, for the CLI's certificate tests: every
connection gets `authenticated`; SUBSCRIBE gets its ACK and one event of the room; PING a PONG.
Prints `ready PORT` once listening on 127.0.0.1 (port 0: a free one).
usage: tls_ws_server.py CERT.pem KEY.pem

Debian's python3-websockets; nothing here talks to anything but 127.0.0.1."""
import asyncio
import json
import ssl
import sys

import websockets


def now():
    return "2024-01-15T10:00:00.000000+00:00"


async def session(ws, path=None):
    await ws.send(json.dumps({"type": "authenticated", "data": {"user_id": "tls-user", "connection_id": "1",
                                                              "roles": [], "anonymous": True}}))
    async for text in ws:
        msg = json.loads(text)
        ref = msg.get("ref")
        if msg.get("type") == "PING":
            await ws.send(json.dumps({"type": "PONG", "ref": ref, "data": {"server_time": now()}}))
        elif msg.get("type") == "SUBSCRIBE":
            room = msg.get("data", {}).get("room", "")
            await ws.send(json.dumps({"type": "ACK", "ref": ref, "data": {"op": "SUBSCRIBE", "room": room,
                                                                          "last_seq": 0, "replayed": 0,
                                                                          "recovered": True}}))
            await ws.send(json.dumps({"type": "over_tls", "room": room if room != "*" else "lobby", "seq": 1,
                                      "id": "tls-1", "timestamp": now(), "timezone": "UTC",
                                      "data": {"secure": True}}))


async def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[1], sys.argv[2])
    async with websockets.serve(session, "127.0.0.1", 0, ssl=ctx) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"ready {port}", flush=True)
        await asyncio.Future()


asyncio.run(main())
