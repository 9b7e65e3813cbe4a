#!/usr/bin/python3
"""An https:// front for a plain-HTTP `rtev serve`, for the CLI's HTTP-over-TLS tests: TLS is
terminated here (Python's ssl module, with the certificate given) and the bytes are passed on
to 127.0.0.1:BACKEND both ways, so requests reach a real server. Each request head is printed
on stdout as one JSON line {"request": "GET /health", "headers": {"x-trace": "…", …}} (names
lowercase), so a test can see what arrived. A second port accepts TLS, reads the request and
never answers (for interrupting a request in flight).
Prints `ready PORT HOLD_PORT` once both listen on 127.0.0.1 (free ports).
usage: tls_http_proxy.py CERT.pem KEY.pem BACKEND_PORT

Standard library only; nothing here talks to anything but 127.0.0.1."""
import asyncio
import json
import ssl
import sys


async def read_head(reader):
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ssl.SSLError):
        return None


def report(head):
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers.setdefault(name.strip().lower(), value.strip())
    print(json.dumps({"request": " ".join(lines[0].split(" ")[:2]), "headers": headers}), flush=True)


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def front(reader, writer, backend_port):
    head = await read_head(reader)
    if head is None:
        writer.close()
        return
    report(head)
    b_reader, b_writer = await asyncio.open_connection("127.0.0.1", backend_port)
    b_writer.write(head)
    await asyncio.gather(pipe(reader, b_writer), pipe(b_reader, writer))


async def hold(reader, writer):
    head = await read_head(reader)
    if head is not None:
        report(head)
    await reader.read()  # until the client gives up; no answer is ever sent
    writer.close()


async def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[1], sys.argv[2])
    backend_port = int(sys.argv[3])
    # A client that refuses the certificate ends the handshake: not worth a traceback.
    asyncio.get_running_loop().set_exception_handler(lambda loop, context: None)
    server = await asyncio.start_server(lambda r, w: front(r, w, backend_port), "127.0.0.1", 0, ssl=ctx)
    held = await asyncio.start_server(hold, "127.0.0.1", 0, ssl=ctx)
    print(f"ready {server.sockets[0].getsockname()[1]} {held.sockets[0].getsockname()[1]}", flush=True)
    await asyncio.Future()


asyncio.run(main())
