#!/usr/bin/env bash
# Command one: install, migrate, load the demo county (first time only) and serve the app
# at http://127.0.0.1:5000 on the embedded default (SQLite file, jobs in-process, files on disk),
# with gunicorn (backend/gunicorn_conf.py). `shuangsui run --dev` is Flask's development server.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
.venv/bin/shuangsui db upgrade
.venv/bin/shuangsui demo seed --if-empty
echo "==> 双随已启动：http://127.0.0.1:${PORT:-5000}  （接口文档：/api/docs）"
exec .venv/bin/shuangsui run --host 127.0.0.1 --port "${PORT:-5000}"
