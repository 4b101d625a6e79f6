"""The page in a real browser (Debian's chromium, headless): ask, read the answer with a
clickable citation, and prove that HTML inside the corpus is shown as text, never run.

Set PAGE_SCREENSHOT=path/to/file.png to keep the screenshot.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from python_docs_qa.answer import Assistant
from python_docs_qa.config import Settings
from python_docs_qa.serve import create_app

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"no chromium at {CHROMIUM} (apt-get install chromium)"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def base_url(settings: Settings, assistant: Assistant) -> Iterator[str]:
    """The app on 127.0.0.1 in a background thread, stopped afterwards."""
    port = _free_port()
    config = uvicorn.Config(create_app(settings, assistant), host="127.0.0.1", port=port,
                            log_level="warning")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def page(base_url: str) -> Iterator[Any]:
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            tab = browser.new_page()
            dialogs: list[str] = []
            tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            tab.dialogs = dialogs  # read by the canary test
            tab.goto(base_url)
            yield tab
        finally:
            browser.close()


def _ask(page: Any, question: str) -> None:
    page.fill("#question", question)
    page.press("#question", "Enter")  # keyboard submit
    page.wait_for_selector("#citations li", timeout=15_000)


def test_question_gets_an_answer_with_a_clickable_citation(page: Any, tmp_path: Path) -> None:
    _ask(page, "How do I copy a file?")
    answer = page.text_content("#answer")
    assert "[1]" in answer
    assert "guide/files.md" in page.text_content("#citations")
    page.click("#answer a.cite")
    assert page.get_attribute("#cite-1", "class") == "active"
    shot = tmp_path / "page.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0
    if keep := os.environ.get("PAGE_SCREENSHOT"):
        Path(keep).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, keep)


def test_html_in_the_corpus_is_shown_as_text_and_never_runs(page: Any) -> None:
    _ask(page, "How do I make marmalade with Seville oranges?")
    page.wait_for_timeout(300)  # time for an injected onerror to fire, if it could
    snippets = page.text_content("#citations")
    assert "<script>window.canaryRan = true;</script>" in snippets
    assert page.evaluate("window.canaryRan === undefined")
    assert page.locator("#citations img, #citations script").count() == 0
    assert page.dialogs == []


def test_server_error_is_shown_not_thrown(page: Any) -> None:
    page.evaluate("document.getElementById('question').removeAttribute('maxlength')")
    page.fill("#question", "y" * 600)
    page.press("#question", "Enter")
    page.wait_for_selector("#status.error", timeout=15_000)
    assert "HTTP 422" in page.text_content("#status")
