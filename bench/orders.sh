#!/bin/sh
# Benchmarks the order path on a private loopback stack; see bench/orders.py for options.
exec python3 "$(dirname "$0")/orders.py" "$@"
