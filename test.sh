#!/usr/bin/env bash
# Command two: run the whole test suite. SQLite always; PostgreSQL and Redis too — the ones
# named by DATABASE_URL / REDIS_URL, or the local ones when they are running.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh --browser
scripts/services.sh
if [ -z "${DATABASE_URL:-}" ] && command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; then
  export DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test
fi
if [ -z "${REDIS_URL:-}" ]; then
  export REDIS_URL=redis://127.0.0.1:6379/0
fi
if [ -z "${SKIP_STATIC:-}" ]; then   # SKIP_STATIC=1 ./test.sh tests/field: pytest alone
  echo "==> 静态检查：ruff check、vue-tsc；手机端逻辑单元测试：Vitest"
  .venv/bin/ruff check --quiet .
  (cd pwa && npm run --silent check && npx --no-install vitest run --reporter=dot)
fi
echo "==> 测试数据库：SQLite${DATABASE_URL:+ 与 $DATABASE_URL}；Redis：$REDIS_URL"
# Four workers on two cores: the suite waits much of its time on browsers, subprocesses and the database (two
# workers kept the cores about half busy: 16 min 41 s for 3,497 tests; three, two thirds: 16 min 30 s for 3,543,
# 20 min of the test processes' CPU); TEST_WORKERS=N to choose.
# Byte-code cached: where the environment sets PYTHONDONTWRITEBYTECODE, each of the suite's ~100 Python
# subprocesses (servers, workers, CLIs) compiled backend/ again, 0.35-0.5 s of CPU each.
unset PYTHONDONTWRITEBYTECODE
# The longest tests go out first, one at a time to whichever worker is free (tests/scheduling.py, hooked in
# tests/conftest.py): in xdist's plain order they came where their modules fell, and the run waited ~4 min on
# its last 1% of tests. --durations=30: the slowest tests named at the end of every run (keep that list true).
exec .venv/bin/python -m pytest -n "${TEST_WORKERS:-4}" -q --durations=30 "$@"
