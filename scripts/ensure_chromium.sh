#!/usr/bin/env bash
# Installs Debian's headless Chromium for the browser test when it is missing and we may install.
# Never fails the build: without a browser the browser test skips and says why.
set -u
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure_chromium: no chromium and cannot apt-get install it; the browser test will skip" >&2
  exit 0
fi
echo "ensure_chromium: installing Debian chromium for the browser test" >&2
(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
  || echo "ensure_chromium: install failed; the browser test will skip" >&2
exit 0
