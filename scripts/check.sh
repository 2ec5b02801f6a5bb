#!/usr/bin/env bash
# The whole test suite on a fresh machine: install what is missing, build,
# run `make check`.  Extra arguments go to tools/testing/run-tests.sh
# (e.g. --only unit).
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
make -j"$(nproc)" all
make check CHECK_ARGS="$*"
