"""A real headless Chromium, driven over the W3C WebDriver protocol by Debian's chromedriver.

The protocol is a few JSON requests, so the standard library speaks it: no Selenium. ``.ci/run``
installs ``chromium`` and ``chromium-driver``; where they are missing the browser tests skip and say so.
"""
from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
#: the flags a closed network needs: no background connections, no component updates
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,1000"]
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


def missing() -> str | None:
    """Why no browser test can run here, or None."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (apt-get install chromium chromium-driver)"
    if shutil.which("chromedriver") is None:
        return "chromedriver is missing (apt-get install chromium-driver)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    def __init__(self) -> None:
        port = _free_port()
        self.profile = tempfile.mkdtemp(prefix="chromium-")
        self.driver = subprocess.Popen(["chromedriver", f"--port={port}"], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                self._call("GET", "/status")
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        options = {"binary": CHROMIUM, "args": [*FLAGS, f"--user-data-dir={self.profile}"]}
        session = self._call("POST", "/session", {"capabilities": {"alwaysMatch": {
            "browserName": "chrome", "goog:chromeOptions": options}}})
        self.session = f"/session/{session['sessionId']}"

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read())["value"]
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"webdriver {method} {path}: {error.read()[:500]!r}") from None

    def open(self, url: str) -> None:
        self._call("POST", f"{self.session}/url", {"url": url})

    def run(self, script: str, *args: object) -> object:
        """Run ``script`` (a function body: ``return ...``) in the page."""
        return self._call("POST", f"{self.session}/execute/sync", {"script": script, "args": list(args)})

    def click(self, css: str) -> None:
        """Click the element ``css`` finds; found again if the page redrew it in between (as a user's click would hit)."""
        for attempt in range(5):
            found = self._call("POST", f"{self.session}/element", {"using": "css selector", "value": css})
            try:
                self._call("POST", f"{self.session}/element/{found[ELEMENT]}/click", {})
                return
            except RuntimeError as error:
                if "stale element" not in str(error) or attempt == 4:
                    raise

    def type(self, css: str, text: str) -> None:
        found = self._call("POST", f"{self.session}/element", {"using": "css selector", "value": css})
        self._call("POST", f"{self.session}/element/{found[ELEMENT]}/value", {"text": text})

    def wait_for(self, script: str, timeout: float = 20.0) -> object:
        """Poll ``script`` until it returns something truthy; return it."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.run(script)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for: {script}")
            time.sleep(0.2)

    def screenshot(self, path: Path) -> Path:
        path.write_bytes(base64.b64decode(self._call("GET", f"{self.session}/screenshot")))
        return path

    def full_screenshot(self, path: Path) -> Path:
        """The whole page, however tall: the window is stretched to it first."""
        height = int(self.run("return document.documentElement.scrollHeight"))
        self._call("POST", f"{self.session}/window/rect", {"width": 1400, "height": min(height + 120, 16000)})
        time.sleep(0.5)
        return self.screenshot(path)

    def close(self) -> None:
        try:
            self._call("DELETE", self.session)
        except (RuntimeError, OSError):
            pass
        self.driver.terminate()
        self.driver.wait(10)
        shutil.rmtree(self.profile, ignore_errors=True)
