"""What the live servers' fork server imports once (tests/e2e/live_server.py): the app and the modules of all
its blueprints, as ``create_app`` would import them in each server."""
import importlib

import werkzeug.serving  # noqa: F401 - the server's own

import backend
import backend.models  # noqa: F401
import backend.web  # noqa: F401
from backend.routes import BLUEPRINTS

for _module, _attr in BLUEPRINTS:
    importlib.import_module(_module)
