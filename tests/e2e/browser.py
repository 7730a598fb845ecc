"""Shared Playwright launch for end-to-end tests: Debian's Chromium, never a downloaded one."""

from __future__ import annotations

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
