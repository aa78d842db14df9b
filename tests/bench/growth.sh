#!/usr/bin/env bash
# growth.sh: runs bench_growth (intake's and routing's rate and p99 with N
# complaints already in their stores, against empty stores, in one process)
# in a temporary folder it removes afterwards, also on Ctrl-C or failure.
#
#   tests/bench/growth.sh [--build-dir DIR] [--no-build] [--dir PARENT]
#                         [--seconds S] [--rounds R] [N]
#
# N: complaints prefilled (default 1000000); figures are printed at each
# checkpoint on the way (100k, 250k, 500k, 1M, 2M, 5M, 10M, N). The whole
# run is niced (10): the prefill is long and the machine is shared. The
# stores need about 6 KB of disk per complaint (intake + routing, measured
# 1.5 + 3.1 KB live, more in file high water); the script refuses to start
# when PARENT's file system has less than 8 KB x N free.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="$ROOT/build"
BUILD=1
PARENT="${TMPDIR:-/tmp}"
SECONDS_PER_PHASE=5
ROUNDS=3
N=1000000
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --dir) PARENT="$2"; shift 2 ;;
    --seconds) SECONDS_PER_PHASE="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    [0-9]*) N="$1"; shift ;;
    *) echo "growth.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

if [ "$BUILD" = 1 ]; then
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD_DIR" --target bench_growth -j2 >/dev/null
fi
[ -x "$BUILD_DIR/bench_growth" ] || { echo "growth.sh: $BUILD_DIR/bench_growth is missing" >&2; exit 1; }

need_kb=$(( N * 8 + 8 * 1024 * 1024 ))
free_kb=$(df -Pk "$PARENT" | awk 'NR==2 {print $4}')
if [ "$free_kb" -lt "$need_kb" ]; then
  echo "growth.sh: $PARENT has $((free_kb / 1024)) MiB free; $N complaints need about $((need_kb / 1024)) MiB" >&2
  exit 1
fi

WORK="$(mktemp -d "$PARENT/cpm-growth-run-XXXXXX")"
trap 'rm -rf "$WORK"' EXIT INT TERM
echo "growth.sh: $N complaints, stores in $WORK (removed at the end), $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB RAM"
nice -n 10 "$BUILD_DIR/bench_growth" "$ROOT" "$N" "$WORK" "$SECONDS_PER_PHASE" "$ROUNDS"
