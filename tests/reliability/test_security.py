"""Security defaults over real connections on the micro model: loopback unless told
otherwise (a warning when bound elsewhere without a token), limits that follow the
configuration, wrong control tokens on every path that steers, browser connections from
other origins (DNS rebinding included), and nothing a client sends ever names a file or
runs code: the recording path is the one given at start."""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import logging
import socket
from pathlib import Path

import pytest

from clients.listen import Listener
from engine.server.config import ServerConfig
from engine.server.recorder import FlacRecorder
from engine.stream.config import StreamConfig
from tests.reliability.support import RawPeer, TextClient
from tests.server.support import ROOT, ServerThread, http_get, status

TOKEN = "sesame"
STREAM = StreamConfig(hop_seconds=0.2, margin_seconds=0.1)


@pytest.fixture(scope="module")
def srv(served, tmp_path_factory):
    """A token-protected server that records to a directory fixed at start."""
    rec_dir = tmp_path_factory.mktemp("recording")
    s = ServerThread(served, ServerConfig(port=0, control_token=TOKEN, block_frames=2048,
                                          stream=STREAM))
    s.server.recorder = FlacRecorder(rec_dir / "set.flac", served.sample_rate, served.channels)
    with s:
        yield s, rec_dir


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_the_engine_binds_loopback_unless_told_otherwise(srv) -> None:
    import run_engine

    parser = argparse.ArgumentParser()
    run_engine.add_live(parser)
    assert parser.parse_args([]).host == "127.0.0.1" == ServerConfig().host
    s, _ = srv
    assert listening_addresses(s.server.port) == {"127.0.0.1"}


def listening_addresses(port: int) -> set[str]:
    """The IPv4 addresses a socket of this machine listens on at `port` (/proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


@pytest.mark.parametrize("token", [None, "s3cret"])
def test_bound_beyond_loopback_without_a_token_the_server_warns(served, caplog, token) -> None:
    cfg = ServerConfig(host="0.0.0.0", port=0, control_token=token, stream=STREAM)
    async def go(s) -> None:  # it serves all the same
        client = await Listener.connect(s.url, keep_audio=False)
        assert client.hello["control"] == ("token" if token else "open")
        assert listening_addresses(s.server.port) == {"0.0.0.0"}
        await client.close()

    with caplog.at_level(logging.WARNING, logger="presto.server"), \
            ServerThread(served, cfg) as s:
        run(go(s))
    warned = [r.getMessage() for r in caplog.records if "without --control-token" in
              r.getMessage()]
    assert bool(warned) == (token is None), warned
    if warned:
        assert "0.0.0.0" in warned[0] and "--control-token T" in warned[0]


def test_limits_and_allowed_origins_follow_the_configuration(served) -> None:
    cfg = ServerConfig(port=0, max_message_bytes=2048, messages_per_second=5, message_burst=5,
                       flood_messages=1000, origins=("https://music.example.org",),
                       stream=STREAM)

    async def go(s) -> None:
        client = await Listener.connect(s.url, keep_audio=False)
        assert client.hello["limits"] == {"max_message_bytes": 2048,
                                          "messages_per_second": 5, "message_burst": 5}
        for i in range(10):  # at once: a burst of 5 is served, the rest dropped
            await client.send({"type": "ping", "id": i})
        await client.wait_audio(seconds=0.3)
        pongs = [m for m in client.messages if m["type"] == "pong"]
        limited = [m for m in client.messages if m.get("code") == "rate_limited"]
        assert len(pongs) >= 5 and len(limited) >= 2 and len(pongs) + len(limited) == 10
        await asyncio.sleep(1.0)  # the bucket refills
        reply = await client.request({"type": "ping", "pad": "x" * 1900})  # under 2048 bytes
        assert reply["code"] == "unknown_field"
        await client.send({"type": "ping", "pad": "x" * 3000})
        await asyncio.wait_for(client._task, 10)
        assert client.closed[0] == 1009

    with ServerThread(served, cfg) as s:
        run(go(s))
        port = s.server.port
        # a reverse proxy passing the public Host and Origin: allowed by --allow-origin
        peer = RawPeer(port, origin="https://music.example.org", host="music.example.org")
        assert peer.status == 101
        peer.close()
        peer = RawPeer(port, origin="https://other.example.org", host="other.example.org")
        assert peer.status == 403
        peer.close()


def test_wrong_tokens_never_steer_and_five_close_the_connection(srv) -> None:
    s, _ = srv

    async def go() -> None:
        client = await TextClient(s.url).open()
        hello = await client.until(lambda m: m["type"] == "hello")
        budget = hello["state"]["budget"]
        for msg, code in [
            ({"type": "control", "set": {"budget": 0.1}, "token": "sesam"}, "unauthorized"),
            ({"type": "control", "set": {"budget": 0.1}, "token": "s\u00e9same"},
             "unauthorized"),
            ({"type": "control", "set": {"budget": 0.1}, "token": 7}, "bad_value"),
            ({"type": "control", "set": {"budget": 0.1}, "token": "x" * 300}, "bad_value"),
            ({"type": "playback", "action": "pause"}, "unauthorized"),
            ({"type": "midi", "messages": [[176, 1, 10]]}, "unauthorized"),
            ({"type": "midi_learn", "control": "budget"}, "unauthorized"),
        ]:
            replies = await client.exchange(json.dumps(msg))
            errors = [r for r in replies if r["type"] == "error"]
            assert [e["code"] for e in errors] == [code], (msg, replies)
        await asyncio.sleep(0.3)  # listening goes on; nothing was applied
        state = [r for r in client.replies if r["type"] == "state"][-1]
        assert state["budget"] == budget and state["playing"]
        # wrong guesses count on every path that steers: the fifth closes the connection
        for msg in ({"type": "midi", "messages": [[176, 1, 10]], "token": "guess"},
                    {"type": "midi_learn", "control": "budget", "token": "guess"},
                    {"type": "auth", "token": "guess"}):
            await client.ws.send(json.dumps(msg))
        await asyncio.wait_for(client.task, 10)
        assert client.closed == 1008
        assert sum(r.get("code") == "unauthorized" for r in client.replies) == 7

    run(go())


def test_midi_with_the_token_in_the_message_steers(srv) -> None:
    s, _ = srv

    async def go() -> None:
        client = await TextClient(s.url).open()  # never sent auth
        msg = {"type": "midi", "messages": [[176, 28, 11]], "token": TOKEN}
        reply = next(r for r in await client.exchange(json.dumps(msg)) if r["type"] == "midi")
        assert len(reply["controls"]) == 1, reply
        ack = await client.until(lambda m: m.get("id") == reply["controls"][0])
        assert ack["type"] == "ack" and ack["applied"] == {"seed": 11}, ack
        await client.close()

    run(go())


def test_browser_connections_from_other_origins_are_refused(srv) -> None:
    s, _ = srv
    port = s.server.port
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other_port = other.getsockname()[1]
    for origin, host, expected in [
        ("https://evil.example", None, 403),
        ("null", None, 403),  # a file:// page or a sandboxed frame
        (f"http://127.0.0.1:{other_port}", None, 403),  # another local page
        (f"http://127.0.0.1:{port}.evil.example", None, 403),
        (f"ws://127.0.0.1:{port}", None, 403),
        (f"http://evil.example:{port}", f"evil.example:{port}", 403),  # DNS rebinding
        (f"http://127.0.0.1:{port}", None, 101),  # the engine's own page
        (f"http://localhost:{port}", f"localhost:{port}", 101),
        (None, None, 101),  # not a browser
    ]:
        peer = RawPeer(port, origin=origin, host=host)
        assert peer.status == expected, (origin, host, peer.head)
        if expected == 403:
            assert b"--allow-origin" in peer.buf or b"allow-origin" in peer.sock.recv(4096)
        peer.close()


def test_nothing_a_client_sends_names_a_file(srv) -> None:
    s, rec_dir = srv
    path = str(rec_dir.parent / "elsewhere.flac")

    async def go() -> None:
        client = await Listener.connect(s.url, keep_audio=False)
        for msg, field in [
            ({"type": "control", "set": {"record": path}}, "record"),
            ({"type": "control", "set": {"mapping": path}}, "mapping"),
            ({"type": "control", "set": {"budget": 0.5}, "record": path}, "record"),
            ({"type": "playback", "action": "record", "file": path}, "file"),
            ({"type": "midi_learn", "control": "budget", "path": path}, "path"),
            ({"type": "midi_learn", "control": "budget", "mapping": path}, "mapping"),
        ]:
            reply = await client.request({**msg, "token": TOKEN})
            assert reply["type"] == "error" and reply["field"] == field, (msg, reply)
            assert reply["code"] == "unknown_field", reply
        ack = await client.request({"type": "control", "set": {"prompt": path},
                                    "token": TOKEN})
        assert ack["type"] == "ack"  # a prompt is text for the text encoder, nothing more
        await client.wait_audio(seconds=0.3)
        await client.close()

    run(go())
    rec = status(s.http)["recording"]
    assert rec["path"] == str(rec_dir / "set.flac") and rec["seconds"] > 0
    assert sorted(p.name for p in rec_dir.iterdir()) == ["set.flac"]
    assert not Path(path).exists()
    for url in ["/..%2f..%2fpyproject.toml", "/%2e%2e/%2e%2e/pyproject.toml",
                "/..\\..\\pyproject.toml", "//etc/passwd", "/%2Fetc%2Fpasswd",
                "/clients/../../pyproject.toml", "/index.html%00.txt"]:
        code, _, body = http_get(s.http + url)
        assert code == 404 and b"[project]" not in body and b"root:" not in body, url


SERVING = [*sorted((ROOT / "engine" / "server").glob("*.py")),
           *sorted((ROOT / "engine" / "stream").glob("*.py")),
           *sorted(p for p in (ROOT / "engine" / "midi").glob("*.py")
                   if p.name != "jack.py"),  # starts jackd for tests and benches only
           ROOT / "clients" / "listen.py"]
RUNS_CODE = {"eval", "exec", "compile", "__import__", "import_module", "system", "popen",
             "Popen", "run_path", "run_module"}
UNSAFE_MODULES = {"pickle", "marshal", "shelve", "subprocess", "importlib", "runpy"}


def test_the_serving_code_has_no_way_to_run_code_it_is_sent() -> None:
    found = []
    for path in SERVING:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.id if isinstance(f, ast.Name) else getattr(f, "attr", None)
                if name == "compile" and isinstance(f, ast.Attribute) \
                        and getattr(f.value, "id", None) == "re":
                    continue  # a regular expression
                if name in RUNS_CODE:
                    found.append(f"{path.name}:{node.lineno} calls {name}")
            elif isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) \
                    else [node.module or ""]
                found += [f"{path.name}:{node.lineno} imports {n}" for n in names
                          if n.split(".")[0] in UNSAFE_MODULES]
    assert len(SERVING) > 20 and found == [], found
    assert Path(ROOT / "engine" / "server" / "app.py") in SERVING
