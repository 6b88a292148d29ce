#!/bin/sh
# Compares another commit with this checkout under the same saga_load load; see bench/compare.py.
exec python3 "$(dirname "$0")/compare.py" "$@"
