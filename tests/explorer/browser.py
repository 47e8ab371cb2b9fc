"""Headless Chromium (Debian `chromium`, `chromium-driver`) driven by Selenium, for the explorer."""

from __future__ import annotations

import base64
import json
import shutil
import time
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

SHOTS = Path(__file__).resolve().parents[2] / ".build" / "explorer"
CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
DRIVER = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")


def _first(paths: tuple[str, ...], name: str) -> str | None:
    return next((p for p in paths if Path(p).exists()), None) or shutil.which(name)


def chromium_available() -> bool:
    return bool(_first(CHROMIUM, "chromium") and _first(DRIVER, "chromedriver"))


class Browser:
    """One headless Chromium window."""

    def __init__(self) -> None:
        options = Options()
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1400,1800"):  # fmt: skip
            options.add_argument(arg)
        options.binary_location = _first(CHROMIUM, "chromium")
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        service = Service(_first(DRIVER, "chromedriver"))
        self.driver = webdriver.Chrome(service=service, options=options)

    def open(self, url: str, timeout: float = 60.0) -> float:
        """Loads the page and waits until it has read the chain; returns the seconds it took."""
        started = time.monotonic()
        self.driver.get(url)
        self.wait(lambda: self.js("return document.body.dataset.ready || "
                                  "document.body.dataset.error"), timeout)  # fmt: skip
        error = self.js("return document.body.dataset.error")
        assert not error, f"the page failed to load: {error}; console: {self.console()}"
        return time.monotonic() - started

    def wait(self, condition: Any, timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if value := condition():
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout} s; console: {self.console()}")

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def one(self, css: str) -> Any:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str) -> list:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self, css: str) -> str:
        """The text of an element, shown or not (a closed <details> hides its body)."""
        return self.one(css).get_attribute("textContent").strip()

    def console(self) -> list[str]:
        return [entry["message"] for entry in self.driver.get_log("browser")]

    def check(self, doc: dict | str, path: Path | None = None) -> dict:
        """Submits a document (through the file input if `path` is given, else pasted) and
        returns {"ok", "checks": {name: ok}, "text"} once the page has checked it."""
        self.js("document.querySelector('#verify-result').dataset.ok = '';"
                "document.querySelector('#verify-result').innerHTML = '';")  # fmt: skip
        text = doc if isinstance(doc, str) else json.dumps(doc)
        if path is not None:
            path.write_text(text)
            self.one("#file").send_keys(str(path))
        else:
            self.js("document.querySelector('#doc-text').value = arguments[0]", text)
            self.one("#check").click()
        self.wait(lambda: self.js("return document.querySelector('#verify-result').dataset.ok"))
        checks = {li.get_attribute("data-name"): li.get_attribute("data-ok")
                  for li in self.all("#verify-result li.check")}  # fmt: skip
        return {"ok": self.one("#verify-result").get_attribute("data-ok") == "true",
                "checks": checks, "text": self.text("#verify-result")}  # fmt: skip

    def screenshot(self, name: str, css: str = "body") -> Path:
        """Saves .build/explorer/`name`.png: the element `css` (default the whole page), also
        where it reaches beyond the window."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        x, y, width, height = self.js(
            "const r = document.querySelector(arguments[0]).getBoundingClientRect();"
            "return [r.x + scrollX, r.y + scrollY, r.width, r.height];", css)  # fmt: skip
        clip = {"x": x, "y": y, "width": width, "height": height, "scale": 1}
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True, "clip": clip})  # fmt: skip
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def close(self) -> None:
        self.driver.quit()
