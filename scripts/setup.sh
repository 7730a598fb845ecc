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

# Tests and benchmarks: Chromium and Noto CJK (end-to-end pages; the PDF's font for rare characters),
# the PDF's font, poppler-utils (pdftoppm)
if [ "${1:-}" = "--browser" ]; then
  if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi 'noto.*cjk' || [ ! -f "$ZENHEI" ] \
      || ! command -v pdftoppm >/dev/null; then
    echo "==> 安装 Chromium、中文字体与 poppler-utils（Debian 软件包）"
    apt_install chromium fonts-noto-cjk fonts-wqy-zenhei poppler-utils
  fi
fi
