#!/usr/bin/python3
"""Python `websockets` (Debian's python3-websockets) against rtev serve: authenticate by
first message, subscribe with since, publish with ack, typing indicator, close codes."""
import asyncio
import json
import os
import subprocess
import sys
import tempfile

import websockets

RTEV = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../build/cli/rtev")


def start(*args):
    tmp = tempfile.mkdtemp(prefix="rtev-py-")
    proc = subprocess.Popen([RTEV, "serve", "--port", "0", "--db", os.path.join(tmp, "e.db"), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline().strip()  # blocks until the server is listening
    assert line.startswith("RTEV_URL="), line
    return proc, line[len("RTEV_URL="):]


async def recv_type(ws, *types):
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if msg["type"] in types:
            return msg


async def main():
    proc, url = start("--auth", "token")
    failures = 0
    try:
        async with websockets.connect(url) as alice, websockets.connect(url) as bob:
            await alice.send(json.dumps({"type": "authenticate", "data": {"token": "alice"}}))
            assert (await recv_type(alice, "authenticated"))["data"]["user_id"] == "alice"
            await bob.send(json.dumps({"type": "authenticate", "data": {"token": {"user_id": "bob", "role": "admin"}}}))
            auth = await recv_type(bob, "authenticated")
            assert auth["data"]["user_id"] == "bob" and auth["data"]["roles"] == ["admin"], auth

            for i in range(3):
                await bob.send(json.dumps({"type": "publish", "ref": f"p{i}", "data": {"room": "chat", "type": "message_sent", "data": {"i": i}}}))
                ack = await recv_type(bob, "ACK")
                assert ack["ref"] == f"p{i}" and ack["data"]["seq"] > 0, ack
            await alice.send(json.dumps({"type": "subscribe", "ref": "s", "data": {"room": "chat", "since": "beginning"}}))
            got = []
            while True:
                msg = json.loads(await asyncio.wait_for(alice.recv(), 10))
                if msg["type"] == "ACK":
                    break
                got.append(msg["data"]["i"])
            assert got == [0, 1, 2], got
            assert msg["data"]["replayed"] == 3 and msg["data"]["recovered"] is True, msg

            await bob.send(json.dumps({"type": "subscribe", "data": {"room": "chat"}}))
            await recv_type(bob, "ACK")
            await alice.send(json.dumps({"type": "TYPING_START", "data": {"room": "chat"}}))
            typing = await recv_type(bob, "typing_indicator")
            assert typing["data"] == {"user_id": "alice", "room": "chat", "is_typing": True}, typing
            assert "seq" not in typing

            await alice.send(json.dumps({"type": "subscribe", "ref": "x", "data": {"room": "user:bob"}}))
            err = await recv_type(alice, "ERROR")
            assert err["data"]["code"] == "forbidden" and err["ref"] == "x", err
        async with websockets.connect(url) as anon:
            await anon.send(json.dumps({"type": "subscribe", "data": {"room": "chat"}}))
            err = await recv_type(anon, "ERROR")
            assert err["data"]["code"] == "not_authenticated", err
        async with websockets.connect(url + "?token=") as bad:
            await bad.send(json.dumps({"type": "authenticate", "data": {"token": ""}}))
            await recv_type(bad, "auth_error")
            try:
                await asyncio.wait_for(bad.recv(), 10)
            except websockets.ConnectionClosed as e:
                assert e.code == 1008, e.code
    except AssertionError as e:
        print("FAIL:", e)
        failures += 1
    finally:
        proc.terminate()
        rc = proc.wait(10)
        if rc != 0:
            print("FAIL: rtev serve exited", rc)
            failures += 1
    print(f"{1 - failures} passed, {failures} failed")
    return failures


sys.exit(1 if asyncio.run(main()) else 0)
