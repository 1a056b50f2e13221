"""``serve`` under hostile or unlucky conditions, for real: a process on a loopback port."""

from __future__ import annotations

import http.client
import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sampleproject.inference.model import default_model_dir
from tests.conftest import BIN
from tests.test_serve_real import ANIMAL, Server, start, stop

pytestmark = pytest.mark.slow


def rss_kib(pid: int) -> int:
    """The resident memory of process ``pid``, in KiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS line")


def series(text: str) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    """Every sample's name and labels in a /metrics page."""
    return {
        (sample.name, tuple(sorted(sample.labels.items())))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


# Methods outside HTTP's standard ones that the HTTP parser (httptools) lets through to the
# application, which counts them as "other"; a made-up method is refused by the parser (400).
WEBDAV_METHODS = ("PROPFIND", "MKCOL", "LOCK", "SEARCH", "PURGE", "REPORT", "MKCALENDAR")


def send_made_up_requests(server: Server, start_at: int, count: int) -> set[int]:
    """``count`` requests with unusual or made-up methods and made-up paths, on one
    connection at a time; their statuses."""
    statuses = set()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    for number in range(start_at, start_at + count):
        method = WEBDAV_METHODS[number % 8] if number % 8 < len(WEBDAV_METHODS) else f"M{number}X"
        connection.request(method, f"/no/such/{number}?q={number}")
        response = connection.getresponse()
        response.read()
        statuses.add(response.status)
        if response.will_close:
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.close()
    return statuses


def test_made_up_methods_and_paths_leave_metrics_and_memory_flat(tmp_path: Path) -> None:
    server = start(tmp_path, "--no-access-log")
    try:
        send_made_up_requests(server, 0, 500)  # warm-up: every code path has run once
        server.get("/metrics")  # the scrape itself is a series too
        before_text = server.get("/metrics")[1].decode()
        before_rss = rss_kib(server.process.pid)

        statuses = send_made_up_requests(server, 500, 3000)

        after_text = server.get("/metrics")[1].decode()
        after_rss = rss_kib(server.process.pid)
    finally:
        stop(server)
    assert statuses == {400, 404}  # 400: a made-up method; 404: no such path
    assert series(after_text) == series(before_text)  # no new series, only higher counts
    assert len(after_text) - len(before_text) < 200  # a few digits more, nothing else
    assert 'method="other",path="unmatched"' in after_text
    assert "M1234X" not in after_text
    # 3,000 new series took 9 MB before methods were folded; allow noise, not growth.
    assert after_rss - before_rss < 2048, (before_rss, after_rss)


def predict(server: Server) -> dict[str, object]:
    """POST one animal; the answer (it must be a 200)."""
    status, body = server.post(json.dumps(ANIMAL).encode())
    assert status == 200, body
    return dict(json.loads(body))


def test_model_files_changed_or_removed_under_serve_do_not_change_its_answers(
    tmp_path: Path,
) -> None:
    model_dir = tmp_path / "model"
    shutil.copytree(default_model_dir(), model_dir)
    server = start(tmp_path, "--model-dir", str(model_dir))
    try:
        answer = predict(server)
        ready = json.loads(server.get("/ready")[1])

        (model_dir / "zoo.onnx").write_bytes(b"not a model")  # changed
        assert predict(server) == answer
        metadata = json.loads((model_dir / "zoo.json").read_text(encoding="utf-8"))
        metadata["model_sha256"] = "0" * 64  # now the metadata names another model
        (model_dir / "zoo.json").write_text(json.dumps(metadata), encoding="utf-8")
        assert "does not match the SHA-256" in reload_refused(server)  # a reload: refused
        assert predict(server) == answer
        (model_dir / "zoo.json").unlink()  # removed
        (model_dir / "zoo.onnx").unlink()
        assert predict(server) == answer
        model_dir.rmdir()
        assert reload_refused(server)
        for _ in range(20):
            assert predict(server) == answer
        now = json.loads(server.get("/ready")[1])
        assert now["model_sha256"] == ready["model_sha256"]  # the same verified model
    finally:
        assert stop(server) == 0


def reload_refused(server: Server) -> str:
    """SIGHUP (reload the model); the reason /ready gives for refusing it."""
    before = server.log.read_text(encoding="utf-8").count("reload refused")
    server.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 30
    while server.log.read_text(encoding="utf-8").count("reload refused") == before:
        assert time.monotonic() < deadline, "no reload was refused"
        time.sleep(0.1)
    status, body = server.get("/ready")
    assert status == 200
    return str(json.loads(body)["reload_error"])


def test_whatever_reads_a_tampered_model_again_refuses_it(tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    shutil.copytree(default_model_dir(), model_dir)
    onnx = model_dir / "zoo.onnx"
    onnx.write_bytes(onnx.read_bytes()[:-1] + b"\x00")  # one byte changed
    for command in (
        ["serve", "--model-dir", str(model_dir), "--port", "0"],
        ["predict", "--legs", "4", "--model-dir", str(model_dir)],
    ):
        result = subprocess.run(
            [str(BIN / "sampleproject"), *command],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert result.returncode != 0
        assert len(result.stderr.splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr
        assert "does not match the SHA-256" in result.stderr, result.stderr
