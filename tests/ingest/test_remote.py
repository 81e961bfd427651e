"""Sources given by URL: a local HTTP server on 127.0.0.1 serves a real Azure LLM slice (plain,
gzip, with a bad row) and misbehaves on purpose (404, 403, 503, a body cut short, a stall, a
folder, a web page). The ingest by URL must equal the ingest of the local file, name the URL
everywhere the user looks, and fail with one clear line and nothing left in the store."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import importlib.util
import json
import shutil
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import workscope
from tests.conftest import SAMPLES
from workscope import urls
from workscope.cli import app
from workscope.errors import SourceError, UsageError
from workscope.ingest import remote
from workscope.ingest.remote import RemoteSourceError, TruncatedDownloadError

CODE = SAMPLES / "azure_llm_2023" / "AzureLLMInferenceTrace_code.csv"
NAME = CODE.name
ROWS = 8819
runner = CliRunner()


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves its directory, plus paths that fail the ways a real server or network does."""

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        parts = self.path.strip("/").split("/")
        if parts[0] == "status":  # /status/<code>/<name>
            self.send_error(int(parts[1]))
            return
        if parts[0] == "truncated":  # announces the whole file, sends half, closes
            body = (Path(self.directory) / parts[-1]).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if parts[0] == "slow":  # answers after the client's patience
            time.sleep(1.5)
            self.send_error(500)
            return
        if parts[0] == "page":  # a web page where a data file was expected
            body = b"<!doctype html><html><body>a viewer, not the file</body></html>\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up (the timeout test) breaks the pipe: expected


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(base URL, served directory): the code slice plain and gzipped, a copy with one bad row,
    and a folder."""
    root = tmp_path_factory.mktemp("www")
    shutil.copy(CODE, root / NAME)
    (root / f"{NAME}.gz").write_bytes(gzip.compress(CODE.read_bytes()))
    lines = CODE.read_bytes().split(b"\r\n")[:200]
    lines[5] = b"2023-11-16 18:17:05.0000000,abc,10"
    (root / "bad_AzureLLMInferenceTrace_code.csv").write_bytes(b"\r\n".join(lines))
    (root / "data").mkdir()
    shutil.copy(CODE, root / "data" / NAME)
    server = _QuietServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def _cli(*args: str, input: str | None = None) -> tuple[int, str, str]:
    r = runner.invoke(app, list(args), input=input)
    return r.exit_code, r.stdout, r.stderr


def _left_in(home: Path) -> list[str]:
    """What a failed ingest left: traces, and anything in staging."""
    staging = home / ".staging"
    return [*workscope.open(home).names(),
            *(sorted(p.name for p in staging.iterdir()) if staging.is_dir() else [])]


# ---------------------------------------------------------------- telling URLs from paths

@pytest.mark.parametrize(("source", "url", "remote_"), [
    ("https://host/a/trace.csv.gz", True, True),
    ("http://127.0.0.1:8000/x.csv", True, True),
    ("s3://bucket/key.csv", True, True),
    ("gs://bucket/key.csv", True, True),
    ("simplecache::s3://bucket/key.csv", True, True),
    ("file:///tmp/x.csv", True, False),
    ("C:\\traces\\x.csv", False, False),
    ("C:/traces/x.csv", False, False),
    ("c://traces/x.csv", False, False),  # one letter: a drive, not a scheme
    ("relative/x.csv", False, False),
    (Path("https://host/x.csv"), False, False),  # a Path has lost the URL already
])
def test_url_detection(source: object, url: bool, remote_: bool) -> None:
    assert urls.is_url(source) is url
    assert urls.is_remote(source) is remote_


def test_a_url_mangled_by_path_gets_a_hint(store: workscope.Store) -> None:
    with pytest.raises(SourceError, match="pass URLs as str") as info:
        store.ingest(Path("https://127.0.0.1/x.csv"))
    assert "https://127.0.0.1/x.csv" in str(info.value)


def test_file_names_and_folders() -> None:
    assert remote.url_file_name("https://h/a/b/AzureLLM%20x.csv.gz?raw=1") == "AzureLLM x.csv.gz"
    for folder in ("https://h/a/", "https://h", "s3://bucket", "s3://bucket/prefix/"):
        with pytest.raises(UsageError, match="is a folder URL"):
            remote.url_file_name(folder)
    assert remote.url_label("https://me:secret@h/x.csv") == "https://me:***@h/x.csv"


# ---------------------------------------------------------------- the same trace as the local file

@pytest.mark.parametrize("file", [NAME, f"{NAME}.gz"])
def test_ingest_by_url_equals_the_local_file(served: tuple[str, Path], tmp_path: Path, file: str) -> None:
    base, root = served
    url = f"{base}/{file}"
    store = workscope.open(tmp_path / "h")
    r = store.ingest(url, name="web")
    local = store.ingest(root / file, name="disk")
    assert r.status == "created"
    m = r.manifest
    assert m["tables"]["requests"]["rows_ok"] == local.manifest["tables"]["requests"]["rows_ok"] == ROWS
    assert m["content_key"] == local.manifest["content_key"]
    body = (root / file).read_bytes()
    assert m["sources"] == [{"path": url, "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}]
    assert m["files_used"] == [url]
    assert str(tmp_path) not in json.dumps(m)  # no staging path leaks into the manifest
    assert store.trace("web").read("requests").equals(store.trace("disk").read("requests"))
    assert _left_in(tmp_path / "h") == ["disk", "web"]


def test_the_default_name_comes_from_the_url(served: tuple[str, Path], store: workscope.Store) -> None:
    base, _ = served
    assert store.ingest(f"{base}/{NAME}.gz").name == "azurellminferencetrace_code"


def test_reingesting_the_same_url_is_unchanged(served: tuple[str, Path], store: workscope.Store) -> None:
    base, root = served
    first = store.ingest(f"{base}/{NAME}", name="t")
    again = store.ingest(f"{base}/{NAME}", name="t")
    assert again.status == "unchanged" and again.manifest == first.manifest
    # the same bytes from disk are the same trace too (the content key is the bytes')
    assert store.ingest(root / NAME, name="t").status == "unchanged"
    # other bytes under the name need --force, as for a local file
    with pytest.raises(workscope.UsageError, match="--force"):
        store.ingest(f"{base}/{NAME}.gz", name="t", format="azure_llm", options={})
    assert store.ingest(f"{base}/bad_{NAME}", name="t", force=True).status == "replaced"


def test_a_url_given_twice_is_read_once(served: tuple[str, Path], store: workscope.Store) -> None:
    base, _ = served
    url = f"{base}/{NAME}"
    m = store.ingest([url, url], name="t").manifest
    assert m["tables"]["requests"]["rows_ok"] == ROWS
    assert m["meta"]["duplicate_sources"] == [f"{url}: the same URL as given before"]


def test_rejects_name_the_url_and_keep_the_exact_line(served: tuple[str, Path], store: workscope.Store) -> None:
    base, _ = served
    url = f"{base}/bad_{NAME}"
    store.ingest(url, name="t")
    rej = store.trace("t").rejects().collect()
    assert rej["file"].to_list() == [url]
    assert rej["line"].to_list() == [6] and rej["raw"].to_list() == ["2023-11-16 18:17:05.0000000,abc,10"]


def test_scan_by_url(served: tuple[str, Path]) -> None:
    base, _ = served
    frames = workscope.scan(f"{base}/{NAME}.gz")
    assert frames["requests"].collect().height == ROWS


def test_file_uri_is_a_local_path(store: workscope.Store, tmp_path: Path) -> None:
    r = store.ingest(CODE.resolve().as_uri(), name="f")
    assert r.manifest["tables"]["requests"]["rows_ok"] == ROWS
    assert r.manifest["sources"][0]["path"] == NAME  # as for the path itself
    code, out, _ = _cli("ingest", CODE.resolve().as_uri(), "--name", "f2", "--home", str(tmp_path / "c"), "--json")
    assert code == 0 and json.loads(out)["manifest"]["tables"]["requests"]["rows_ok"] == ROWS


def test_a_file_uri_with_a_host_is_refused(store: workscope.Store) -> None:
    with pytest.raises(UsageError, match="three slashes"):
        store.ingest("file://server/share/x.csv")


# ---------------------------------------------------------------- the CLI

def test_cli_ingest_by_url(served: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = served
    url = f"{base}/{NAME}.gz"
    home = str(tmp_path / "h")
    code, out, err = _cli("ingest", url, "--name", "x", "--home", home, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["status"] == "created" and doc["manifest"]["tables"]["requests"]["rows_ok"] == ROWS
    assert doc["manifest"]["sources"][0]["path"] == url
    code, out, _ = _cli("ingest", url, "--name", "x", "--home", home, "--json")
    assert code == 0 and json.loads(out)["status"] == "unchanged"
    code, out, _ = _cli("show", "x", "--home", home)
    assert code == 0 and url in out
    code, out, _ = _cli("ingest", url, "--name", "y", "--home", home, "-q")
    assert code == 0 and "created trace y" in out


# ---------------------------------------------------------------- failures: one line, exit 1, nothing left

def test_404_names_the_url(served: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = served
    url = f"{base}/missing_{NAME}"
    home = tmp_path / "h"
    with pytest.raises(RemoteSourceError) as info:
        workscope.open(home).ingest(url, name="x")
    assert info.value.status == 404 and str(info.value).startswith(f"{url}: not found (HTTP 404")
    assert "check the URL" in str(info.value)
    code, out, err = _cli("ingest", url, "--name", "x", "--home", str(home), "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["type"] == "RemoteSourceError" and doc["exit_code"] == 1 and url in doc["error"]
    assert err.startswith("error: ") and err.count("\n") == 1 and url in err
    assert _left_in(home) == []


@pytest.mark.parametrize(("status", "words"), [(403, "access denied"), (503, "the server failed"),
                                                (500, "try again later")])
def test_http_errors_say_what_to_do(served: tuple[str, Path], store: workscope.Store, status: int,
                                    words: str) -> None:
    base, _ = served
    url = f"{base}/status/{status}/{NAME}"
    with pytest.raises(RemoteSourceError, match=words) as info:
        store.ingest(url)
    assert info.value.status == status and str(info.value).startswith(url)


def test_a_download_cut_short_is_an_error_and_leaves_nothing(served: tuple[str, Path], tmp_path: Path) -> None:
    base, root = served
    url = f"{base}/truncated/{NAME}"
    home = tmp_path / "h"
    size = (root / NAME).stat().st_size
    with pytest.raises(TruncatedDownloadError, match=f"stopped after {size // 2:,} of {size:,} bytes") as info:
        workscope.open(home).ingest(url, name="x")
    assert str(info.value).startswith(url)
    assert _left_in(home) == []
    code, out, err = _cli("ingest", url, "--name", "x", "--home", str(home), "--json")
    assert code == 1 and json.loads(out)["type"] == "TruncatedDownloadError"
    assert "Traceback" not in err and _left_in(home) == []


def test_connection_refused(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/{NAME}"
    code, out, _ = _cli("ingest", url, "--home", str(tmp_path / "h"), "--json")
    assert code == 1
    doc = json.loads(out)
    assert "connection refused" in doc["error"] and url in doc["error"]
    assert _left_in(tmp_path / "h") == []


def test_a_server_that_does_not_answer_times_out(served: tuple[str, Path], store: workscope.Store,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    base, _ = served
    monkeypatch.setattr(remote, "TIMEOUT_S", 0.3)
    url = f"{base}/slow/{NAME}"
    t0 = time.perf_counter()
    with pytest.raises(RemoteSourceError, match="timed out") as info:
        store.ingest(url)
    assert time.perf_counter() - t0 < 1.4 and str(info.value).startswith(url)


def test_a_folder_url_is_a_usage_error(served: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = served
    for url in (f"{base}/data/", f"{base}/data"):  # the second is redirected to the first
        code, out, _ = _cli("ingest", url, "--home", str(tmp_path / "h"), "--json")
        assert code == 2, url
        assert "is a folder URL" in json.loads(out)["error"] and url in json.loads(out)["error"]


def test_a_web_page_says_so(served: tuple[str, Path], store: workscope.Store) -> None:
    base, _ = served
    url = f"{base}/page/{NAME}"
    with pytest.raises(workscope.WorkscopeError) as info:
        store.ingest(url)
    text = str(info.value)
    assert text.startswith(url) and "web page" in text and ".staging" not in text


def test_a_wrong_format_fails_before_the_download(served: tuple[str, Path], store: workscope.Store,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    base, _ = served

    def no_download(*args: object, **kwargs: object) -> None:
        raise AssertionError("downloaded")

    monkeypatch.setattr(remote, "download", no_download)
    with pytest.raises(workscope.UsageError, match="unknown format"):
        store.ingest(f"{base}/{NAME}", format="azure_lm")
    with pytest.raises(workscope.UsageError, match="invalid trace name"):
        store.ingest(f"{base}/{NAME}", name="1bad")


# ---------------------------------------------------------------- other schemes: fsspec

def test_fsspec_url(store: workscope.Store) -> None:
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    fs.pipe("/workscope-test/" + NAME, CODE.read_bytes())
    url = f"memory://workscope-test/{NAME}"
    try:
        m = store.ingest(url, name="mem").manifest
        assert m["tables"]["requests"]["rows_ok"] == ROWS and m["sources"][0]["path"] == url
        with pytest.raises(RemoteSourceError, match="not found"):
            store.ingest(f"memory://workscope-test/missing_{NAME}")
        with pytest.raises(UsageError, match="is a folder URL"):
            store.ingest("memory://workscope-test")
    finally:
        fs.rm("/workscope-test", recursive=True)


def test_without_fsspec_the_error_names_the_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fsspec", None)  # import fsspec raises ImportError
    code, out, _ = _cli("ingest", "s3://bucket/trace.csv", "--home", str(tmp_path / "h"), "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["type"] == "RemoteSourceError" and "pip install fsspec s3fs" in doc["error"]
    assert doc["error"].startswith("s3://bucket/trace.csv:")


def test_a_missing_fsspec_driver_names_its_package(store: workscope.Store) -> None:
    assert importlib.util.find_spec("ocifs") is None  # Oracle's object storage: not installed here
    with pytest.raises(RemoteSourceError, match="pip install ocifs"):
        store.ingest("oci://bucket@namespace/trace.csv")


def test_an_unknown_scheme_is_a_usage_error(store: workscope.Store) -> None:
    pytest.importorskip("fsspec")
    with pytest.raises(UsageError, match="unknown URL scheme 'htps'"):
        store.ingest("htps://host/trace.csv")


def test_a_url_ingests_on_spark_as_here(served: tuple[str, Path], tmp_path: Path) -> None:
    """The download lands in the build's staging folder, which the Spark tasks read: the
    trace, its manifest (sources named by URL) and its rejects are the same as here."""
    pytest.importorskip("pyspark")
    import polars as pl

    from workscope.spark import SparkEngine

    base, _ = served
    url = f"{base}/bad_AzureLLMInferenceTrace_code.csv"
    here, there = workscope.open(tmp_path / "a"), workscope.open(tmp_path / "b")
    a = here.ingest(url, format="azure_llm", name="u").manifest
    b = there.ingest(url, format="azure_llm", name="u", engine=SparkEngine("local[2]")).manifest
    for m in (a, b):
        m.pop("created_utc")
    assert a == b and a["sources"][0]["path"] == url and a["rejects"]["rows"] == 1
    rej = [pl.read_parquet(s.trace("u").files("rejects")) for s in (here, there)]
    assert rej[0].equals(rej[1]) and rej[1]["file"].to_list() == [url]
    assert here.trace("u").scan("requests").collect().equals(there.trace("u").scan("requests").collect())
    assert _left_in(tmp_path / "b") == ["u"]


def test_a_spark_task_fetches_a_download_its_machine_lacks(served: tuple[str, Path], tmp_path: Path) -> None:
    """On a cluster, executors do not see the driver's staging folder: a task whose download
    is missing fetches it again from its URL, into the same path, reads it, and deletes it."""
    from workscope.ingest import cluster, registry

    base, _ = served
    missing = tmp_path / "driver-staging" / "downloads" / "0000" / NAME  # never made on this "executor"
    downloads = {str(missing): f"{base}/{NAME}"}
    res = cluster.run_unit({"phase": "hash", "units": [[str(missing)]], "downloads": downloads}, 0)
    assert res == {"digests": {str(missing): hashlib.sha256(CODE.read_bytes()).hexdigest()}}
    assert not missing.exists()
    opts = registry.get("azure_llm").resolve_options(None)
    res = cluster.run_unit({"phase": "facts", "reader": "azure_llm", "options": opts, "units": [[str(missing)]],
                            "downloads": downloads}, 0)
    assert res["meta"]["origin_epoch_ns"] == 1700158623979960000  # the code slice's first request
    assert not missing.exists()
