#!/bin/sh
# Install the headless browser and the CJK font the real-browser tests (tests/e2e) need.
# Debian's chromium is used directly; never `playwright install` (it downloads and fails).
# Idempotent and quiet: does nothing when chromium and the WenQuanYi font are present.
set -eu

have_chromium() { command -v chromium >/dev/null 2>&1; }
have_font() { [ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || fc-list 2>/dev/null | grep -qi "wenquanyi\|wqy"; }

if have_chromium && have_font; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-browser: chromium or fonts-wqy-microhei missing; run as root:" >&2
    echo "  apt-get update && apt-get install -y chromium chromium-driver fonts-wqy-microhei" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends \
        chromium chromium-driver fonts-wqy-microhei; } >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"; exit 1
fi
rm -f "$log"
command -v chromium >/dev/null 2>&1 || { echo "install-browser: chromium still missing" >&2; exit 1; }
