#!/bin/sh
# Install wrk (Debian package) for the HTTP benchmarks under bench/ (bench/api.py).
# Idempotent: does nothing when wrk is present. Not needed by `make run` or `make test`.
set -eu
command -v wrk >/dev/null 2>&1 && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "install-wrk: wrk missing; run as root: apt-get update && apt-get install -y wrk" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq && apt-get install -y -qq --no-install-recommends wrk >/dev/null
command -v wrk >/dev/null 2>&1 || { echo "install-wrk: wrk still missing" >&2; exit 1; }
