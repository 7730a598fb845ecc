"""Shared Playwright launch for end-to-end tests: Debian's Chromium, never a downloaded one; one Chromium per
test process, lent to each browser test (:func:`chromium`)."""

from __future__ import annotations

import contextlib
import os

CHROMIUM = os.environ.get("SHUANGSUI_CHROMIUM", "/usr/bin/chromium")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def launch_chromium(playwright, **kwargs):
    """Launch headless Chromium from ``CHROMIUM`` (env ``SHUANGSUI_CHROMIUM``) with the
    project's flags; extra keyword arguments go to ``chromium.launch``."""
    args = [*CHROMIUM_ARGS, *kwargs.pop("args", ())]
    return playwright.chromium.launch(executable_path=CHROMIUM, args=args, headless=kwargs.pop("headless", True),
                                      **kwargs)


class LentBrowser:
    """The test process's Chromium lent to one test: what the test opens (contexts, and pages with contexts of
    their own) is tracked and closed by ``close()``; the browser itself goes on for the next test."""

    def __init__(self, browser):
        self._browser, self._contexts = browser, []

    def new_context(self, **kwargs):
        context = self._browser.new_context(**kwargs)
        self._contexts.append(context)
        return context

    def new_page(self, **kwargs):
        page = self._browser.new_page(**kwargs)   # (in a context of its own, closed with the page's context)
        self._contexts.append(page.context)
        return page

    def close(self) -> None:
        while self._contexts:
            context = self._contexts.pop()
            try:
                context.close()
            except Exception:  # noqa: BLE001 - already closed (the test closed it, or the browser went away)
                pass

    def __getattr__(self, name):
        return getattr(self._browser, name)


_SHARED: dict = {}   # the process's Playwright driver and Chromium, started by the first browser test


@contextlib.contextmanager
def chromium():
    """Chromium for one test, as a :class:`LentBrowser`: one browser per test process, launched by its first
    browser test and stopped at the end of the run (:func:`stop_shared`); each test works in contexts of its
    own (Playwright's isolated browser contexts: cookies, storage, caches, service workers, permissions each
    their own), all closed when the test ends. A driver and a Chromium started for every test cost ~1.1 s of
    CPU and ~2 s of a loaded machine's wall each; a context, ~0.2 s."""
    if "browser" not in _SHARED or not _SHARED["browser"].is_connected():
        stop_shared()
        from playwright.sync_api import sync_playwright

        _SHARED["playwright"] = sync_playwright().start()
        _SHARED["browser"] = launch_chromium(_SHARED["playwright"])
    lent = LentBrowser(_SHARED["browser"])
    try:
        yield lent
    finally:
        lent.close()


def stop_shared() -> None:
    """Close the process's Chromium and its driver (the end of the run, or a browser that went away)."""
    browser, playwright = _SHARED.pop("browser", None), _SHARED.pop("playwright", None)
    for step in (browser and browser.close, playwright and playwright.stop):
        if step:
            try:
                step()
            except Exception:  # noqa: BLE001 - a browser that crashed, a driver already gone
                pass
