#!/usr/bin/env bash
# Install what is missing: the Python virtualenv and the project (with test extras), the Chinese
# font the PDF record embeds, and, with --browser, Debian's Chromium and poppler-utils for the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> 创建虚拟环境 .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.shuangsui-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "==> 安装依赖"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  echo "$want" > "$stamp"
fi

SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
apt_install() {  # Debian packages; the package lists are refreshed once if the first try fails
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -qq "$@" >/dev/null 2>&1 || {
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "$@" >/dev/null; }
}

# The PDF 检查记录表 embeds a Chinese font: WenQuanYi Zen Hei from Debian's fonts-wqy-zenhei (TrueType
# outlines, GB 18030 coverage), unless PDF_FONT names another font file (docs/decisions.md).
ZENHEI=/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc
if [ -z "${PDF_FONT:-}" ] && [ ! -f "$ZENHEI" ]; then
  echo "==> 安装中文字体 fonts-wqy-zenhei（PDF 检查记录表）"
  apt_install fonts-wqy-zenhei || echo "！未能安装 fonts-wqy-zenhei：PDF 检查记录表暂不可用（其余功能不受影响），" \
    "可稍后安装，或用环境变量 PDF_FONT 指定含中文字形的字体文件" >&2
fi

# The officers' app, the office and the public portal (pwa/): npm ci when package-lock.json changed, npm run build
# when any source did.
if ! command -v npm >/dev/null || ! node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=19)?0:1)' 2>/dev/null; then
  echo "==> 安装 Node.js（Debian 软件包，构建掌上执法应用需要 ≥ 20.19）"
  apt_install nodejs npm
fi
lock_want=$(sha256sum pwa/package-lock.json | cut -d' ' -f1)
if [ ! -f pwa/node_modules/.shuangsui-lock ] || [ "$(cat pwa/node_modules/.shuangsui-lock)" != "$lock_want" ]; then
  echo "==> 安装掌上执法应用的依赖（npm ci）"
  (cd pwa && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_want" > pwa/node_modules/.shuangsui-lock
fi
# (the app reads ../schemas/field_rules.json, the rules it shares with the server, at build time)
build_want=$( (cd pwa && find src static office portal scripts/precompress.mjs index.html vite.config.ts vite.*.config.ts tsconfig.json package.json package-lock.json \
  ../schemas/field_rules.json -type f -print0 \
  | sort -z | xargs -0 sha256sum) | sha256sum | cut -d' ' -f1)
if [ ! -f pwa/dist/index.html ] || [ ! -f pwa/dist-office/index.html ] || [ ! -f pwa/dist-portal/index.html ] \
    || [ ! -f pwa/.build-stamp ] || [ "$(cat pwa/.build-stamp)" != "$build_want" ]; then
  echo "==> 构建掌上执法应用、业务办公与公示页面（npm run build → pwa/dist、pwa/dist-office、pwa/dist-portal）"
  (cd pwa && npm run build --silent >/dev/null)
  echo "$build_want" > pwa/.build-stamp
fi

# Tests and benchmarks: Chromium and Noto CJK (end-to-end pages; the PDF's font for rare characters),
# the PDF's font, poppler-utils (pdftoppm)
if [ "${1:-}" = "--browser" ]; then
  # (grep without -q reads all of fc-list's output: under pipefail an early exit would fail the pipeline)
  if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -i 'noto.*cjk' >/dev/null || [ ! -f "$ZENHEI" ] \
      || ! command -v pdftoppm >/dev/null; then
    echo "==> 安装 Chromium、中文字体与 poppler-utils（Debian 软件包）"
    apt_install chromium fonts-noto-cjk fonts-wqy-zenhei poppler-utils
  fi
fi
