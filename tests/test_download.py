"""Downloads against a local HTTP server on 127.0.0.1 (never the internet): a cut transfer resumes, a file
whose sha256 differs is removed and named, a second use finds the file without a request, the publisher's URL
is the fallback. The server speaks the hub's resolve URLs and honours Range requests."""
from __future__ import annotations

import gzip
import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import huggingface_hub.constants
import pytest

from symcere_kit.data import download as download_module
from symcere_kit.data.download import fetch
from symcere_kit.data.registry import REGISTRY, lookup, resolve
from symcere_kit.errors import DatasetNotFoundError

BODY = b"".join(b'{"user_id": "U%d", "parent_asin": "B%d", "timestamp": %d}\n' % (i, i % 7, 1600000000000 + i)
                for i in range(20_000))  # ~1 MB


class Server:
    """Serves ``files`` (URL path -> bytes); ``cut`` paths send half the body on a first, range-less GET and drop
    the connection; every request is logged as (method, path, Range header)."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.cut: set[str] = set()
        self.log: list[tuple[str, str, str | None]] = []
        self.encodings: list[str | None] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_HEAD(self):
                self.answer(head=True)

            def do_GET(self):
                self.answer(head=False)

            def answer(self, head: bool):
                path, wanted = self.path.split("?")[0], self.headers.get("Range")
                server.log.append((self.command, path, wanted))
                server.encodings.append(self.headers.get("Accept-Encoding"))
                body = server.files.get(path)
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                start = int(wanted.split("=")[1].split("-")[0]) if wanted else 0
                if start >= len(body):  # a range past the end: what servers answer for a finished download
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206 if wanted else 200)
                self.send_header("Content-Length", str(len(body) - start))
                if wanted:
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                self.end_headers()
                if head:
                    return
                if path in server.cut and not wanted:  # half the body, then the connection drops
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body[start:])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def gets(self, path: str) -> list:
        return [entry for entry in self.log if entry[0] == "GET" and entry[1] == path]


HUB_PATH = "/datasets/McAuley-Lab/Amazon-Reviews-2023/resolve/main/raw/review_categories/Pet_Supplies.jsonl"
PUBLISHER_PATH = "/publisher/Pet_Supplies.jsonl.gz"


@pytest.fixture
def server(monkeypatch, tmp_path):
    """A server with Pet Supplies on its hub path, the registry entry pointing at it, downloads allowed."""
    srv = Server()
    srv.files[HUB_PATH] = BODY
    monkeypatch.setenv("HF_ENDPOINT", srv.url)
    monkeypatch.setenv("SYMCERE_OFFLINE", "0")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # conftest's offline is for the hub
    monkeypatch.setenv("SYMCERE_DATA_DIR", str(tmp_path / "nowhere"))  # nothing found before the download
    monkeypatch.setattr("symcere_kit.data.registry.raw_data_dir", lambda: tmp_path / "raw")
    entry = replace(lookup("amazon2023_pet_supplies"), sha256=hashlib.sha256(BODY).hexdigest(), size=len(BODY),
                    url=srv.url + PUBLISHER_PATH)
    monkeypatch.setitem(REGISTRY, entry.name, entry)
    yield srv
    srv.httpd.shutdown()


def test_a_download_is_checked_and_a_second_use_makes_no_request(server, tmp_path):
    name, path, _ = resolve("amazon2023_pet_supplies")
    assert path == tmp_path / "raw" / "Pet_Supplies.jsonl" and path.read_bytes() == BODY
    assert not path.with_name(path.name + ".part").exists()
    requests = len(server.log)
    assert resolve("amazon2023_pet_supplies")[1] == path
    assert len(server.log) == requests  # found in data/raw: the cache


def test_a_connection_cut_halfway_resumes_where_it_stopped(server, tmp_path, monkeypatch):
    # http_get writes whole chunks (10 MiB by default): smaller ones, so that this 1 MB file has some before the cut
    monkeypatch.setattr(huggingface_hub.constants, "DOWNLOAD_CHUNK_SIZE", 1 << 16)
    server.cut.add(HUB_PATH)
    path = resolve("amazon2023_pet_supplies")[1]
    assert path.read_bytes() == BODY
    first, again = [wanted for _, _, wanted in server.gets(HUB_PATH)]
    resumed_at = int(again.removeprefix("bytes=").removesuffix("-"))
    assert first is None and len(BODY) // 2 - (1 << 16) < resumed_at <= len(BODY) // 2  # only the rest is asked for


def test_a_part_file_left_by_a_killed_run_is_resumed(server, tmp_path):
    part = tmp_path / "raw" / "Pet_Supplies.jsonl.part"
    part.parent.mkdir()
    part.write_bytes(BODY[:300_000])
    assert resolve("amazon2023_pet_supplies")[1].read_bytes() == BODY
    assert [wanted for _, _, wanted in server.gets(HUB_PATH)] == ["bytes=300000-"]


def test_a_file_with_another_sha256_is_removed_and_named_then_the_publisher_is_tried(server, tmp_path, capsys):
    server.files[HUB_PATH] = BODY.replace(b"U1", b"X1")  # same size, other bytes
    with pytest.raises(DatasetNotFoundError) as caught:
        resolve("amazon2023_pet_supplies")
    message = str(caught.value)
    assert "sha256 is" in message and "not the published" in message and "removed" in message
    assert f"{server.url}{PUBLISHER_PATH}: " in message  # the fallback was tried (404 here)
    assert "trying the next source" in capsys.readouterr().err
    assert not any((tmp_path / "raw").iterdir())  # nothing half-written stays


def test_the_publisher_url_is_the_fallback(server, tmp_path):
    del server.files[HUB_PATH]
    server.files[PUBLISHER_PATH] = gzip.compress(BODY)  # no published checksum: its kind and CRC are checked
    path = resolve("amazon2023_pet_supplies")[1]
    assert path.name == "Pet_Supplies.jsonl.gz" and path.read_bytes() == server.files[PUBLISHER_PATH]


def test_fetch_refuses_a_short_transfer_and_keeps_what_came_for_the_next_try(server, tmp_path):
    target = tmp_path / "f.jsonl"
    with pytest.raises(OSError, match="should be of size"):
        fetch(server.url + HUB_PATH, target, size=len(BODY) + 10)
    assert not target.exists() and target.with_name("f.jsonl.part").stat().st_size == len(BODY)


def test_offline_names_the_sources_without_a_request(server, monkeypatch):
    monkeypatch.setenv("SYMCERE_OFFLINE", "1")
    with pytest.raises(DatasetNotFoundError, match="offline"):
        resolve("amazon2023_pet_supplies")
    assert server.log == []


def test_the_registry_holds_a_checksum_for_every_paper_category():
    entries = [e for e in REGISTRY.values() if e.name.startswith("amazon2023_")]
    assert len(entries) == 13
    for e in entries:
        assert len(e.sha256) == 64 and int(e.sha256, 16) >= 0 and e.size > 2_000_000_000
        assert download_module.hub_url(e.hub_file, "https://hub.example") == (
            f"https://hub.example/datasets/McAuley-Lab/Amazon-Reviews-2023/resolve/main/{e.hub_file}")


def test_an_html_page_served_as_the_file_is_refused_and_a_part_file_of_one_is_dropped(server, tmp_path):
    html = b"<!DOCTYPE html><html><body>Service unavailable</body></html>"
    del server.files[HUB_PATH]
    server.files[PUBLISHER_PATH] = html  # HTTP 200 with an error page, no checksum to catch it
    with pytest.raises(DatasetNotFoundError, match=r"something else than Pet_Supplies.jsonl.gz \(it starts b'<!DOC"):
        resolve("amazon2023_pet_supplies")
    assert not any((tmp_path / "raw").iterdir())
    server.files[HUB_PATH] = BODY
    server.log.clear()
    part = tmp_path / "raw" / "Pet_Supplies.jsonl.part"
    part.write_bytes(html)  # left by an earlier run: resuming after it would waste the whole download
    assert resolve("amazon2023_pet_supplies")[1].read_bytes() == BODY
    assert [wanted for _, _, wanted in server.gets(HUB_PATH)] == [None] and set(server.encodings) == {"identity"}


def test_a_finished_part_answered_416_is_checked_and_kept(server, tmp_path):
    del server.files[HUB_PATH]
    data = gzip.compress(BODY)
    server.files[PUBLISHER_PATH] = data
    part = tmp_path / "raw" / "Pet_Supplies.jsonl.gz.part"
    part.parent.mkdir()
    part.write_bytes(data)  # the process died between the last byte and the rename
    assert resolve("amazon2023_pet_supplies")[1].read_bytes() == data
    assert [wanted for _, _, wanted in server.gets(PUBLISHER_PATH)] == [f"bytes={len(data)}-"]
    assert gzip.decompress(data) == BODY


def test_two_downloads_of_one_file_at_once_make_one_whole_file(server, tmp_path):
    target = tmp_path / "raw" / "Pet_Supplies.jsonl"
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(lambda _: fetch(server.url + HUB_PATH, target, size=len(BODY)), range(2)))
    assert done == [target, target] and target.read_bytes() == BODY and len(server.gets(HUB_PATH)) == 1
