#!/usr/bin/env bash
# Rebuilds models/default.json, the model FraudGuard ships with, from nothing: simulate labelled
# transactions with a fixed seed, then train on them. Same binary, same seed: same model.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/fraudguard}
work=${WORK_DIR:-data/training}
mkdir -p "$work"
"$BIN" simulate --profile fraudguard --seed 20240501 --customers 5000 --terminals 10000 \
  --days 90 --output "$work/fraudguard-90d.csv"
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1714521600} "$BIN" train --input "$work/fraudguard-90d.csv" \
  --output models/default.json --rounds 200 --max-depth 6 --learning-rate 0.1 --seed 7 \
  --threads 2 --review-fpr 0.02 --decline-fpr 0.001
