"""`serve`'s web server under slow, greedy and oversized clients: the API keeps answering.

Each test runs serve's own WebService (waitress) on a loopback port with few workers, so a
client that could hold one would be seen to starve the API.
"""

from __future__ import annotations

import http.client
import json
import socket
import time

import pytest

from center.serve import WebService


_OPEN: list[socket.socket] = []


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    _OPEN.append(sock)
    return sock


@pytest.fixture(autouse=True)
def _close_sockets():
    yield
    while _OPEN:
        _OPEN.pop().close()


@pytest.fixture
def serve_web(runtime, make_token):
    """serve_web(**settings) -> (service, bearer token header): the web service started, stopped at the end."""
    started = []

    def start(**settings):
        for name, value in {"web_threads": 2, "web_event_streams": 3, "web_request_timeout_seconds": 1.0,
                            "web_idle_timeout_seconds": 60, **settings}.items():
            setattr(runtime.settings, name, value)
        service = WebService(runtime)
        service.start()
        started.append(service)
        return service, make_token("calls:read", "alarms:write")

    yield start
    for service in started:
        service.stop()


def _get(port: int, path: str, headers: dict, timeout: float = 5.0) -> tuple[int, float]:
    began = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status, time.monotonic() - began


def _open_stream(port: int, headers: dict) -> tuple[socket.socket, bytes]:
    sock = _connect(port)
    lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    sock.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: x\r\n{lines}\r\n".encode())
    return sock, sock.recv(4096)


def _read_to_close(sock: socket.socket, timeout: float) -> bytes:
    """Everything the server sends until it closes the connection (a timeout fails the test)."""
    sock.settimeout(timeout)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_clients_sending_their_request_slowly_hold_no_worker_and_are_cut_off(serve_web):
    service, headers = serve_web(web_threads=1)
    slow = []
    for _ in range(20):
        sock = _connect(service.port)
        sock.sendall(b"GET /api/v1/calls HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        slow.append(sock)
    status, seconds = _get(service.port, "/api/v1/calls", headers)
    assert status == 200 and seconds < 2.0
    began = time.monotonic()
    for sock in slow:
        try:
            assert _read_to_close(sock, timeout=10) == b""
        except ConnectionResetError:
            pass
    assert time.monotonic() - began < 8  # request timeout 1 s, checked every second


def test_event_streams_beyond_the_limit_are_refused_and_the_api_keeps_its_workers(serve_web):
    service, headers = serve_web(web_threads=1, web_event_streams=3)
    service.app.config["SSE_HEARTBEAT_SECONDS"] = 0.2  # a closed stream is noticed at its next write
    streams = [_open_stream(service.port, headers) for _ in range(3)]
    assert all(head.startswith(b"HTTP/1.1 200") for _sock, head in streams)
    _sock, refused = _open_stream(service.port, headers)
    assert refused.startswith(b"HTTP/1.1 503") and b"Retry-After: 5" in refused
    status, seconds = _get(service.port, "/api/v1/calls", headers)
    assert status == 200 and seconds < 2.0
    streams[0][0].close()  # a stream the browser closes gives its place back
    deadline = time.monotonic() + 5
    while True:
        sock, head = _open_stream(service.port, headers)
        if head.startswith(b"HTTP/1.1 200") or time.monotonic() > deadline:
            break
        sock.close()
        time.sleep(0.1)
    assert head.startswith(b"HTTP/1.1 200")


# Refused on the declared length, before any of the body is read (a client that went on sending
# would see the connection reset under its unread bytes, as TCP does).
@pytest.mark.parametrize("declared", [50_000_000, 1024 * 1024 + 1])
def test_a_body_over_the_limit_is_a_413_and_the_connection_is_closed(serve_web, declared):
    service, headers = serve_web()
    sock = _connect(service.port)
    auth = headers["Authorization"]
    sock.sendall(f"POST /api/v1/sos HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n"
                 f"Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n".encode())
    answer = _read_to_close(sock, timeout=10)
    assert answer.startswith(b"HTTP/1.1 413")
    assert b"Connection: close" in answer
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"Content-Type: application/json" in head  # the API's own error, not the server's text
    assert json.loads(body) == {"error": {"code": "too_large", "message": "Isi permintaan terlalu besar."}}


def test_a_413_from_the_server_speaks_the_clients_language_and_the_next_request_needs_a_new_connection(serve_web):
    service, headers = serve_web()
    sock = _connect(service.port)
    sock.sendall(f"POST /api/v1/sos HTTP/1.1\r\nHost: x\r\nAuthorization: {headers['Authorization']}\r\n"
                 f"Accept-Language: en\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n"
                 .encode())
    sock.sendall(b"{" * 65536)  # a client that starts sending anyway
    sock.settimeout(10)
    answer = b""
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except ConnectionResetError:  # closed under bytes it never read, as TCP does: the answer came first
        pass
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413") and b"Connection: close" in head
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    assert json.loads(body[:length])["error"] == {"code": "too_large", "message": "The request body is too large."}
    # The unread bytes were not taken for a request: the server closed the connection.
    try:
        assert sock.recv(1) == b""
    except ConnectionResetError:
        pass


def test_a_page_over_the_limit_keeps_the_servers_plain_answer(serve_web):
    service, _headers = serve_web()
    sock = _connect(service.port)
    sock.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n\r\n")
    answer = _read_to_close(sock, timeout=10)
    assert answer.startswith(b"HTTP/1.1 413") and b"Connection: close" in answer
    assert b"text/plain" in answer


def test_malformed_framing_on_the_api_is_answered_in_json_and_closed(serve_web):
    service, _headers = serve_web()
    sock = _connect(service.port)
    sock.sendall(b"POST /api/v1/sos HTTP/1.1\r\nHost: x\r\nAccept-Language: en\r\nContent-Length: abc\r\n\r\n")
    head, _, body = _read_to_close(sock, timeout=10).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and b"Connection: close" in head
    assert json.loads(body)["error"]["code"] == "bad_request"


@pytest.mark.parametrize("header", ["Content-Length: abc", "Content-Length: -5",
                                    "Content-Length: 99999999999999999999999999999", "Transfer-Encoding: gzip"])
def test_a_malformed_framing_header_is_a_400_not_a_hang(serve_web, header):
    service, _headers = serve_web()
    sock = _connect(service.port)
    sock.sendall(f"POST /api/v1/sos HTTP/1.1\r\nHost: x\r\n{header}\r\n\r\n".encode())
    answer = _read_to_close(sock, timeout=10)
    assert answer.split(b" ")[1] in (b"400", b"413", b"501")


def test_serve_stops_within_seconds_with_event_streams_open(serve_web):
    service, headers = serve_web(web_event_streams=3)
    streams = [_open_stream(service.port, headers)[0] for _ in range(3)]
    began = time.monotonic()
    service.stop()
    assert time.monotonic() - began < 5
    for sock in streams:
        try:
            assert _read_to_close(sock, timeout=5).endswith(b"\r\n")  # the stream ended, not hung
        except ConnectionResetError:
            pass


def test_behind_a_trusted_proxy_the_client_address_is_the_forwarded_one(serve_web, database):
    from sqlalchemy import select

    from siaga112.models import AuditEntry

    service, _headers = serve_web(web_trusted_proxy="127.0.0.1")
    connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=5)
    page = connection.request("GET", "/login") or connection.getresponse()
    cookie = page.getheader("Set-Cookie").split(";")[0]
    token = page.read().decode().split('name="csrf_token" value="')[1].split('"')[0]
    connection.request("POST", "/login", body=f"username=nobody&password=x&csrf_token={token}",
                       headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie,
                                "X-Forwarded-For": "203.0.113.50", "X-Forwarded-Proto": "https",
                                "Referer": f"https://127.0.0.1:{service.port}/login"})  # HTTPS forms are checked
    refused = connection.getresponse()
    refused.read()
    connection.close()
    assert refused.status == 401
    assert "max-age=" in refused.getheader("Strict-Transport-Security")
    with database.session() as session:
        assert session.scalar(select(AuditEntry.ip).where(AuditEntry.action == "login.failed")) == "203.0.113.50"
