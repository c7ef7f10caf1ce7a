"""The dashboard: a read-only server over study folders that follows them live, and the one-file HTML report.

The browser tests drive a real headless Chromium; the others speak HTTP to the real server.
"""
from __future__ import annotations

import http.client
import json
import os
import re
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import browser
from conftest import ROOT, cli, objective, write_experiment

from hpo_compss.dashboard.view import StudyView
from hpo_compss.folder import read_ledger, load_study

SCREENSHOTS = os.environ.get("HPO_COMPSS_SCREENSHOTS")


def watched_experiment(tmp_path: Path, trials: int, name: str = "watched") -> Path:
    return write_experiment(tmp_path, {
        "name": name, "objective": objective("watched"), "algorithm": "random", "budget": {"trials": trials},
        "space": {"x": {"uniform": [0, 1]}, "y": {"uniform": [-1, 1]},
                  "optimizer": {"exclusive": True, "adam": {"beta1": {"uniform": [0.5, 0.99]}},
                                "sgd": {"momentum": {"uniform": [0, 0.99]}}}}}, f"{name}.json")


def finished_study(tmp_path: Path, trials: int = 12, name: str = "watched") -> Path:
    study = tmp_path / name
    done = cli("run", str(watched_experiment(tmp_path, trials, name)), "--study-dir", str(study))
    assert done.returncode == 0, done.stderr
    return study


class Served:
    """``hpo-compss serve`` in its own process, and the URL it printed."""

    def __init__(self, *folders: Path, extra: tuple[str, ...] = ()):
        self.process = subprocess.Popen([sys.executable, "-m", "hpo_compss.cli", "serve", *map(str, folders), *extra],
                                        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = []
        while not any(line.startswith("then open:") for line in self.lines):
            line = self.process.stdout.readline()
            assert line, self.process.stderr.read()
            self.lines.append(line.strip())
        here = next((line.split()[1] for line in self.lines if line.startswith("here:")), None)
        self.url = here
        self.token = re.search(r"token=([\w-]+)", self.lines[-1]).group(1)
        self.base = here.split("/?")[0] if here else None

    def get(self, path: str, token: bool = True) -> tuple[int, bytes]:
        url = f"{self.base}{path}{'&' if '?' in path else '?'}token={self.token}" if token else self.base + path
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def json(self, path: str) -> object:
        status, body = self.get(path)
        assert status == 200, body
        return json.loads(body)

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture
def served():
    servers = []

    def start(*folders: Path, extra: tuple[str, ...] = ()) -> Served:
        servers.append(Served(*folders, extra=extra))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def tree_of(folder: Path) -> dict:
    """Every path under ``folder`` with its size and modification time."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


# -- the server ----------------------------------------------------------------------------------------
def test_a_request_without_the_token_is_refused_and_the_printed_lines_say_how_to_reach_it(tmp_path, served):
    server = served(finished_study(tmp_path, 4))
    assert server.url.startswith("http://127.0.0.1:") and f"token={server.token}" in server.url
    assert any(re.fullmatch(r"from your laptop: ssh -N -L 8787:127\.0\.0\.1:\d+ \S+@\S+", line) for line in server.lines)
    for path in ("/", "/api/studies", "/api/state?study=0", "/api/trial?study=0&trial=0"):
        assert server.get(path, token=False)[0] == 403
        assert server.get(path + ("&" if "?" in path else "?") + "token=guess", token=False)[0] == 403
        assert server.get(path)[0] == 200
    assert len(server.token) >= 32


def test_on_a_unix_socket_only_its_owner_may_connect_and_the_token_is_still_required(tmp_path, served):
    study = finished_study(tmp_path, 4)
    path = tmp_path / "dash.sock"
    server = served(study, extra=("--socket", str(path)))
    assert server.url is None and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert any(line == f"from your laptop: ssh -N -L 8787:{path} " + line.split()[-1] for line in server.lines)

    def get(target: str) -> int:
        with socket.socket(socket.AF_UNIX) as unix:
            unix.connect(str(path))
            connection = http.client.HTTPConnection("localhost")
            connection.sock = unix
            connection.request("GET", target)
            return connection.getresponse().status

    assert get("/api/studies") == 403 and get(f"/api/studies?token={server.token}") == 200


def test_the_server_never_writes_into_a_read_only_study_folder(tmp_path, served):
    study = finished_study(tmp_path, 6)
    (study / "journal.jsonl").open("a").write('{"trial": 99, "torn')  # a driver killed mid-write
    for path in [study, *study.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)
    before = tree_of(study)
    try:
        server = served(study)
        state = server.json("/api/state?study=0")
        assert len(state["rows"]) == 6 and state["summary"]["n_complete"] + state["summary"]["n_failed"] == 6
        for trial in range(6):
            assert server.json(f"/api/trial?study=0&trial={trial}")["records"]
        server.json("/api/importance?study=0"), server.json("/api/curves?study=0"), server.get("/")
        assert tree_of(study) == before
    finally:
        for path in [study, *study.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)


def test_a_torn_last_line_is_read_once_it_is_whole_and_each_update_carries_only_what_changed(tmp_path):
    study = finished_study(tmp_path, 5)
    lines = (study / "journal.jsonl").read_bytes().splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines) if b'"trial":3,' in line)
    (study / "journal.jsonl").write_bytes(b"".join(lines[:cut]) + lines[cut][:17])
    view = StudyView(study)
    first = json.loads(view.state())
    assert sorted(row[0] for row in first["rows"]) == [0, 1, 2] and view.offset == sum(map(len, lines[:cut]))
    with open(study / "journal.jsonl", "ab") as handle:
        handle.write(lines[cut][17:] + b"".join(lines[cut + 1:]))
    update = json.loads(view.state(first["epoch"], first["version"]))
    later = {json.loads(line)[key] for line in lines[cut:] for key in ("trial", "progress") if key in json.loads(line)}
    assert update["epoch"] == first["epoch"] and {row[0] for row in update["rows"]} == later >= {3, 4}
    assert json.loads(view.state(update["epoch"], update["version"]))["rows"] == []
    ledger, _ = read_ledger(study, load_study(study, check=False))
    assert {k: v for k, v in update["summary"].items() if k in ledger.status()} == ledger.status()


def test_a_journal_written_while_it_is_read_ends_as_a_reader_of_the_whole_sees_it(tmp_path):
    study = finished_study(tmp_path, 10)
    whole = (study / "journal.jsonl").read_bytes()
    (study / "journal.jsonl").write_bytes(b"")
    view, seen, errors = StudyView(study), {}, []

    def follow():
        epoch = version = 0
        try:
            while not done.is_set():
                state = json.loads(view.state(epoch, version))
                epoch, version = state["epoch"], state["version"]
                seen.update({row[0]: row for row in state["rows"]})
        except Exception as error:  # noqa: BLE001 (the test reports whatever it was)
            errors.append(error)

    done = threading.Event()
    reader = threading.Thread(target=follow)
    reader.start()
    with open(study / "journal.jsonl", "ab") as handle:
        for start in range(0, len(whole), 97):  # pieces that split lines anywhere
            handle.write(whole[start:start + 97])
            handle.flush()
            time.sleep(0.002)
    time.sleep(0.2)
    done.set()
    reader.join()
    final = json.loads(view.state())
    assert not errors and {row[0]: row for row in final["rows"]} == seen and len(seen) == 10


def test_a_journal_rewritten_by_repair_is_read_again_from_the_start(tmp_path):
    study = finished_study(tmp_path, 4)
    view = StudyView(study)
    first = json.loads(view.state())
    journal = study / "journal.jsonl"
    lines = journal.read_bytes().splitlines(keepends=True)
    replacement = study / "journal.new"
    replacement.write_bytes(b"".join(line for line in lines if b'"trial":3,' not in line))
    os.replace(replacement, journal)
    again = json.loads(view.state(first["epoch"], first["version"]))
    assert again["epoch"] != first["epoch"] and sorted(row[0] for row in again["rows"]) == [0, 1, 2]


def test_serve_refuses_a_folder_that_is_not_a_study_in_one_line(tmp_path):
    done = cli("serve", str(tmp_path))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "is not a study folder" in done.stderr


def test_the_html_report_holds_its_data_and_scripts_and_names_no_address(tmp_path):
    study = finished_study(tmp_path, 6)
    other = finished_study(tmp_path, 4, "other")
    done = cli("report", str(study), "--html", "--also", str(other))
    assert done.returncode == 0, done.stderr
    page = (study / "report" / "report.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # nothing loaded from anywhere
    data = json.loads(re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S).group(1))
    assert [part["study"]["name"] for part in data] == ["watched", "other"]
    assert len(data[0]["state"]["rows"]) == 6 and set(data[0]["details"]) == {str(t) for t in range(6)}
    assert "uPlot" in page and (ROOT / "hpo_compss/dashboard/static/uplot/LICENSE").read_text().startswith("The MIT License")


# -- in a real browser -----------------------------------------------------------------------------------
needs_browser = pytest.mark.skipif(browser.missing() is not None, reason=f"no headless browser: {browser.missing()}")


@pytest.fixture
def chromium():
    driver = browser.Browser()
    yield driver
    driver.close()


def shot(driver: browser.Browser, tmp_path: Path, name: str) -> Path:
    folder = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    path = driver.full_screenshot(folder / name)
    assert path.stat().st_size > 20_000  # a page was drawn, not a blank window
    return path


@needs_browser
def test_in_a_browser_the_dashboard_follows_a_running_study_and_its_table_sorts_filters_and_opens_a_trial(
        tmp_path, served, chromium):
    study = tmp_path / "watched"
    run = subprocess.Popen([sys.executable, "-m", "hpo_compss.cli", "run", str(watched_experiment(tmp_path, 60)),
                            "--study-dir", str(study), "--cpus", "1"], cwd=ROOT, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
    try:
        while not (study / "journal.jsonl").exists():
            time.sleep(0.1)
        server = served(study)
        chromium.open(server.url)
        chromium.run("window.sameLoad = true")
        count = "return Number(document.getElementById('shown').dataset.count || 0)"
        first = chromium.wait_for(count)
        assert chromium.wait_for(f"return {count[7:]} > {first} && window.sameLoad === true")  # no reload
        shot(chromium, tmp_path, "live.png")
        assert run.wait(120) == 0, run.stderr.read()
    finally:
        run.kill()
    rows = {row[0]: row for row in server.json("/api/state?study=0")["rows"]}
    chromium.wait_for(f"return {count[7:]} === {len(rows)}")
    chromium.click('#table-head div[data-key="value"]')
    values = sorted(row[4] for row in rows.values() if row[3] == "complete")
    first_value = chromium.wait_for("const cell = document.querySelector('#table-space .trow div:nth-child(3)');"
                                    "return cell && cell.textContent")
    assert float(first_value) == pytest.approx(values[0], rel=1e-4)
    shown = "return [...document.querySelectorAll('#table-space .trow')].map(r => Number(r.dataset.trial))"
    chromium.type("#filter-max", f"{values[2]}")  # by value: the three best
    assert chromium.wait_for(f"return {count[7:]} === 3") and set(chromium.run(shown)) == {
        t for t, row in rows.items() if row[3] == "complete" and row[4] <= values[2]}
    chromium.run("const box = document.getElementById('filter-max'); box.value = ''; box.dispatchEvent(new Event('input'))")
    branch = rows[0][16]
    chromium.click(f'#filter-branch option[value="{branch}"]')  # by branch
    assert chromium.wait_for(f"return {count[7:]} === {sum(row[16] == branch for row in rows.values())}")
    chromium.click('#filter-branch option[value=""]')
    chromium.click('#filter-status option[value="failed"]')  # by status
    failed = [t for t, row in rows.items() if row[3] == "failed"]
    assert failed and chromium.wait_for(f"return {count[7:]} === {len(failed)}")
    assert chromium.run(shown) == sorted(failed)
    chromium.click(f'#table-space .trow[data-trial="{failed[0]}"]')
    detail = chromium.wait_for("const d = document.getElementById('detail');"
                               "return d.open && !d.textContent.includes('loading') && d.textContent")
    assert "diverged at x=" in detail and "training with x=" in detail and '"optimizer"' in detail and branch
    shot(chromium, tmp_path, "trial.png")
    assert chromium.run("return problems") == []  # no view failed to draw


@needs_browser
def test_in_a_browser_the_html_report_opens_from_a_file_with_no_network(tmp_path, chromium):
    study = finished_study(tmp_path, 20)
    assert cli("report", str(study), "--html").returncode == 0
    chromium.open((study / "report" / "report.html").as_uri())
    assert chromium.wait_for("return document.getElementById('shown').dataset.count") == "20"
    # everything came from the file: no request went anywhere
    assert chromium.run("return performance.getEntriesByType('resource').map(e => e.name)") == []
    assert chromium.run("return document.querySelectorAll('.uplot').length") == 2
    shot(chromium, tmp_path, "report.png")
    assert chromium.run("return problems") == []


@pytest.mark.parametrize("flags, key", [(("--port", "99999"), "--port"), (("--port", "-1"), "--port"),
                                        (("--socket", "/nonexistent/folder/dash.sock"), "--socket")])
def test_serve_refuses_a_port_or_socket_it_cannot_listen_on_in_one_line(tmp_path, flags, key):
    study = finished_study(tmp_path, 2)
    done = cli("serve", str(study), *flags, timeout=60)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and done.stderr.startswith(f"error: {key}:"), done.stderr
