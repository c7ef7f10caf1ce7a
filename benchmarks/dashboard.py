"""The dashboard's first view and one update, for studies of 1,000, 10,000 and 100,000 trials.

Each study folder is written as a real driver writes one (experiment.json, and a journal with a
running and an ended record per trial: 5 parameters, 4 cores on 2 hosts, a failure in 20, a multi-
fidelity study's reports when ``--reports`` is given). Then ``hpo-compss serve`` runs in its own
process and, side by side for each size:

- read: from starting ``serve`` until it has read the whole journal (it reads it once, in the
  background, as it starts; meanwhile the page shows what has been read so far, and says so);
- first view (server): the page, the study list and the full state, as the page asks for them, over HTTP;
- cold view: headless Chromium opened on the URL as soon as ``serve`` prints it, the time from starting
  ``serve`` until the page shows its first trials, and the share of the trials it shows then;
- first view (browser): headless Chromium, from the start of the page's navigation until its cards and
  table show every trial, and until every chart is drawn (needs Debian's chromium and chromium-driver;
  skipped without them);
- one update: 10 trials appended to the journal, then the page's next ``/api/state`` (only what changed),
  and the browser until its table shows them;
- the server's memory (resident set) after all of it.

    python benchmarks/dashboard.py                       # 1,000 / 10,000 / 100,000 trials
    python benchmarks/dashboard.py --sizes 1000 --repeat 5
"""
from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def write_study(folder: Path, n: int, reports: int, start: int = 0) -> None:
    """A study folder of ``n`` trials (appended after trial ``start`` when it exists)."""
    from hpo_compss.experiment import parse_experiment
    from hpo_compss.folder import EXPERIMENT_FILE, JOURNAL_FILE
    from hpo_compss.journal import Journal

    if start == 0:
        folder.mkdir(parents=True)
        experiment = parse_experiment({"name": f"bench-{n}", "objective": "bench:objective", "budget": {"trials": n + 100},
                                       "space": {"lr": {"log10_uniform": [-5, -1]}, "layers": {"integer": [1, 8]},
                                                 "dropout": {"uniform": [0, 0.5]}, "optimizer": ["adam", "sgd", "rmsprop"],
                                                 "batch": [32, 64, 128]}}, check=False)
        (folder / EXPERIMENT_FILE).write_text(json.dumps(experiment.to_json()))
    rng = random.Random(start)
    journal = Journal(folder / JOURNAL_FILE)
    t0 = time.time() - 0.5 * n - (0 if start else 60)  # trials half a second apart; a first batch ended a minute ago
    records = [] if start else [{"study": "started", "time": t0, "host": "login1", "pid": 1, "backend": "local"}]
    for trial in range(start, start + n):
        config = {"lr": 10 ** rng.uniform(-5, -1), "layers": rng.randint(1, 8), "dropout": rng.uniform(0, 0.5),
                  "optimizer": rng.choice(["adam", "sgd", "rmsprop"]), "batch": rng.choice([32, 64, 128])}
        base = {"trial": trial, "config_id": trial, "repeat": 0, "attempt": 1, "seed": trial, "config": config,
                "subspace": "", "source": None, "class": "cpu"}
        begin = t0 + (trial - start) * 0.5
        host, core = f"node{trial % 2}", trial % 4
        records.append({**base, "status": "running", "submitted": begin, "host": host, "cores": [core], "gpus": []})
        value = (config["lr"] * 1e3 - 1) ** 2 + config["dropout"] + rng.gauss(0, 0.05)
        for step in range(1, reports + 1):
            records.append({"progress": trial, "attempt": 1, "step": step, "value": value + 1 / step, "time": begin + step})
        ended = {**base, "start": begin, "end": begin + 2.0, "host": host, "pid": 100 + trial, "cores": [core], "gpus": []}
        if trial % 20 == 7:
            records.append({**ended, "status": "failed", "reason": "exception: RuntimeError: out of memory", "retry": False})
        else:
            records.append({**ended, "status": "complete", "value": value, "extras": {"epochs": 10}})
        if len(records) > 20000:
            journal.append(records, sync=False)
            records = []
    journal.append(records)
    journal.close()


def rss_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", text).group(1)) / 1024


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as response:
        return response.read()


def measure(n: int, reports: int, driver, work: Path) -> dict:
    folder = work / f"study-{n}"
    write_study(folder, n, reports)
    count = "return Number(document.getElementById('shown').dataset.count || 0)"
    mark = "return (performance.getEntriesByName('{}')[0] || {{}}).startTime"
    began = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "hpo_compss.cli", "serve", str(folder)], stdout=subprocess.PIPE,
                              text=True, cwd=ROOT)
    try:
        url = next(line.split()[1] for line in iter(server.stdout.readline, "") if line.startswith("here:"))
        base, token = url.split("/?")[0], url.split("token=")[1]
        result: dict = {"trials": n, "journal_mb": (folder / "journal.jsonl").stat().st_size / 1e6}
        if driver is not None:  # opened as soon as serve prints its URL, while it reads the journal
            driver.open(url)
            driver.wait_for(count)
            result["cold_view_s"] = time.perf_counter() - began
            result["cold_view_share"] = driver.run(count) / n
        while True:  # until serve has read the whole journal
            summary = json.loads(get(f"{base}/api/state?study=0&epoch=1&since=1000000000&token={token}"))["summary"]
            if summary["read"] == summary["size"]:
                break
            time.sleep(0.05)
        result["read_s"] = time.perf_counter() - began
        get(f"{base}/api/importance?study=0&token={token}")
        began = time.perf_counter()
        get(f"{base}/?token={token}"), get(f"{base}/api/studies?token={token}")
        body = get(f"{base}/api/state?study=0&token={token}")
        result["first_view_server_s"] = time.perf_counter() - began
        state = json.loads(body)
        result["state_mb"] = len(body) / 1e6
        write_study(folder, 10, reports, start=n)
        began = time.perf_counter()
        update = json.loads(get(f"{base}/api/state?study=0&epoch={state['epoch']}&since={state['version']}&token={token}"))
        result["update_s"] = time.perf_counter() - began
        assert len(update["rows"]) == 10, len(update["rows"])
        if driver is not None:
            driver.open(url)
            driver.wait_for(f"{count} === {n + 10}", timeout=120)
            result["first_view_browser_s"] = driver.wait_for(mark.format("first-view"), timeout=120) / 1e3
            result["charts_drawn_s"] = driver.wait_for(mark.format("charts-drawn"), timeout=120) / 1e3
            write_study(folder, 10, reports, start=n + 10)
            began = time.perf_counter()
            driver.wait_for(f"{count} === {n + 20}", timeout=120)
            result["update_browser_s"] = time.perf_counter() - began
        result["server_rss_mb"] = rss_mb(server.pid)
        return result
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--reports", type=int, default=0, help="progress reports per trial (a multi-fidelity study)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size; medians are printed")
    args = parser.parse_args()
    import browser

    if browser.missing() is not None:
        print(f"no browser timings: {browser.missing()}")
    driver = browser.Browser() if browser.missing() is None else None
    rows = []
    try:
        for n in map(int, args.sizes.split(",")):
            runs = []
            for _ in range(args.repeat):
                with tempfile.TemporaryDirectory() as work:
                    runs.append(measure(n, args.reports, driver, Path(work)))
            rows.append({key: statistics.median(run[key] for run in runs) for key in runs[0]})
    finally:
        if driver is not None:
            driver.close()
    keys = list(rows[0])
    print(f"median of {args.repeat} runs; {args.reports} reports per trial")
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(f"{row[k]:.3g}" for k in keys) + " |")


if __name__ == "__main__":
    main()
