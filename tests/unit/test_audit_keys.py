"""The audit key lives outside the database: from AUDIT_KEY, or an owner-only file made on first start."""
from __future__ import annotations

import os

import pytest

from backend import create_app
from backend.audit import keys


def test_the_key_file_is_made_once_owner_only(tmp_path):
    path = tmp_path / "instance" / "audit.key"
    key = keys.read_or_create_key_file(path)
    assert len(key) == 64 and int(key, 16) >= 0
    assert path.stat().st_mode & 0o777 == 0o600
    assert keys.read_or_create_key_file(path) == key  # the same key on every start
    assert [p.name for p in path.parent.iterdir()] == ["audit.key"]  # no temporary file left


def test_a_key_file_others_can_read_or_too_short_is_refused(tmp_path):
    path = tmp_path / "audit.key"
    keys.read_or_create_key_file(path)
    os.chmod(path, 0o644)
    with pytest.raises(RuntimeError, match="权限过宽"):
        keys.read_or_create_key_file(path)
    path.write_text("short\n")
    os.chmod(path, 0o600)
    with pytest.raises(RuntimeError, match="内容无效"):
        keys.read_or_create_key_file(path)
    with pytest.raises(RuntimeError, match="不存在"):
        keys.read_or_create_key_file(tmp_path / "missing.key", create=False)


def test_settings_from_the_configuration(tmp_path):
    base = {"AUDIT_KEY_FILE": str(tmp_path / "audit.key"), "AUDIT_ANCHOR_FILE": str(tmp_path / "a.jsonl"),
            "AUDIT_ANCHOR_EVERY": 50, "AUDIT_ANCHOR_MINUTES": 5, "DATABASE_URL": "sqlite:///x.db"}
    given = keys.settings_from_config({**base, "AUDIT_KEY": "k" * 40})
    assert given.key == b"k" * 40 and not (tmp_path / "audit.key").exists()
    assert (given.anchor_file, given.anchor_every, given.anchor_minutes) == (tmp_path / "a.jsonl", 50, 5)
    with pytest.raises(RuntimeError, match="过短"):
        keys.settings_from_config({**base, "AUDIT_KEY": "short"})
    # production on PostgreSQL: several instances may share the database, so no key is made
    with pytest.raises(RuntimeError, match="AUDIT_KEY"):
        keys.settings_from_config({**base, "ENV_NAME": "production", "DATABASE_URL": "postgresql://db/x"})
    made = keys.settings_from_config({**base, "ENV_NAME": "production"})  # one machine: made on first start
    assert made.key == (tmp_path / "audit.key").read_text().strip().encode()
    assert keys.settings_from_config({**base, "ENV_NAME": "production", "DATABASE_URL": "postgresql://db/x"}) == made
    assert keys.settings_from_config({**base, "AUDIT_ANCHOR_FILE": None}).anchor_file is None


def test_the_app_makes_its_key_on_first_start(tmp_path):
    config = {"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "MEDIA_DIR": str(tmp_path / "media"),
              "AUDIT_KEY_FILE": str(tmp_path / "instance" / "audit.key")}
    app = create_app(config)
    engine = app.extensions["shuangsui.db"].engine
    key = (tmp_path / "instance" / "audit.key").read_text().strip().encode()
    assert keys._BY_ENGINE[engine].key == key
    assert keys._BY_ENGINE[create_app(config).extensions["shuangsui.db"].engine].key == key
