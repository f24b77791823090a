"""Playwright on Debian's chromium (the browser download of `playwright install` cannot work)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.web.console_client import PASSWORD

CHROMIUM = "/usr/bin/chromium"
# The machine is shared and loaded; the first simulation also builds the sandbox (migrations,
# demo cards with scrypt PINs). Waits are generous; assertions are about behaviour, not speed.
expect.set_options(timeout=30_000)
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def log_in(browser: Browser, base: str, username: str) -> Page:
    page = browser.new_page(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page.set_default_timeout(20_000)
    page.goto(base + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector(".who")
    return page


def screenshot(page: Page, tmp_path: Path, name: str) -> Path:
    """Into the test's directory; also into IVR_SCREENSHOT_DIR (docs/) when that is set."""
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path))
    wanted = os.environ.get("IVR_SCREENSHOT_DIR")
    if wanted:
        Path(wanted).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(wanted) / path.name)
    return path
