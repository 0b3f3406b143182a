#!/usr/bin/env bash
# FraudGuard on the Fraud Detection Handbook's Chapter 5 protocol: for each of the four folds,
# train on its 7-day training week (earlier days only warm the feature windows), skip the 7-day
# label delay, and evaluate the 7-day test week with `fraudguard eval`, whose defaults are the
# handbook's delay and test-set rule. Prints each fold and the mean and standard deviation, then
# the ceiling the label delay leaves on each fold's detection and what the model caught of it.
#
#   scripts/handbook-folds.sh [HANDBOOK_CSV(.gz)] [WORK_DIR]
#
# TRAIN_DAYS (default 7, the handbook's protocol) sets how many days before each fold's delay
# are trained on; a longer period is FraudGuard's way, with all the labelled history a
# deployment would have, on the same test weeks. The training settings are fixed in advance
# (100 rounds, depth 5, learning rate 0.1), or with SELECT=1 chosen from a fixed grid by
# prequential validation as the handbook's Chapter 5 does: each fold is shifted 14 days back
# (its test week becomes the fold's own training week), every setting is trained and evaluated
# on those shifted folds, and the one with the best mean average precision is then used on the
# real folds. No test week is seen before the choice is made.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/fraudguard}
input=${1:-../shared/data/handbook/handbook_transactions.csv.gz}
work=${2:-data/handbook-folds}
mkdir -p "$work"
folds=(2018-07-25 2018-08-01 2018-08-08 2018-08-15)
train_days=${TRAIN_DAYS:-7}
if ! [[ "$train_days" =~ ^[0-9]+$ ]] || ((train_days < 1 || train_days > 100)); then
  echo "TRAIN_DAYS must be a whole number of days from 1 to 100" >&2
  exit 2
fi

day() { date -u -d "$1 + $2 days" +%Y-%m-%d; }

# run_fold NAME START "ROUNDS DEPTH RATE": trains on the TRAIN_DAYS ending 6 days after START,
# evaluates the week from START + 14, and writes $work/eval-NAME.json.
run_fold() {
  local name=$1 start=$2 rounds depth rate
  read -r rounds depth rate <<<"$3"
  local train_start train_end test_start test_end
  train_start=$(day "$start" $((7 - train_days)))
  train_end=$(day "$start" 6)
  test_start=$(day "$start" 14)
  test_end=$(day "$start" 20)
  echo "$name: train $train_start..$train_end, test $test_start..$test_end," \
    "$rounds rounds, depth $depth, learning rate $rate" >&2
  "$BIN" train --input "$input" --schema handbook --output "$work/model-$name.json" \
    --from "$train_start" --to "$train_end" --rounds "$rounds" --max-depth "$depth" \
    --learning-rate "$rate" --seed 7 --threads 2 > "$work/train-$name.txt" 2>/dev/null
  "$BIN" eval --input "$input" --schema handbook --model "$work/model-$name.json" \
    --from "$test_start" --to "$test_end" --json --plot "$work/pr-$name.svg" \
    --scores "$work/scores-$name.csv" > "$work/eval-$name.json" 2>/dev/null
}

chosen="100 5 0.1"
if [[ "${SELECT:-0}" == 1 ]]; then
  grid=("100 5 0.1" "300 3 0.05" "300 6 0.03" "200 4 0.1")
  best_ap=-1
  for i in "${!grid[@]}"; do
    for start in "${folds[@]}"; do
      run_fold "validation-$i-$start" "$(day "$start" -14)" "${grid[$i]}"
    done
    ap=$(/usr/bin/python3 -c 'import json,statistics,sys; print(statistics.mean(json.load(open(f))["average_precision"] for f in sys.argv[1:]))' \
      "$work"/eval-validation-"$i"-*.json)
    echo "setting ${grid[$i]}: mean validation AP $ap" | tee -a "$work/selection.txt" >&2
    if /usr/bin/python3 -c "import sys; sys.exit(0 if $ap > $best_ap else 1)"; then
      best_ap=$ap
      chosen=${grid[$i]}
    fi
  done
  echo "chosen: $chosen (rounds, depth, learning rate)" | tee -a "$work/selection.txt" >&2
fi

for start in "${folds[@]}"; do
  run_fold "$start" "$start" "$chosen"
done

/usr/bin/python3 - "$work" "${folds[@]}" <<'PY'
import json, statistics, sys
work, folds = sys.argv[1], sys.argv[2:]
keys = [("auc_roc", "AUC ROC"), ("average_precision", "AP"),
        ("card_precision", "CP@100"), ("detection_at_fpr_1", "detection at 1 % FPR"),
        ("detection_at_fpr_2", "detection at 2 % FPR")]
rows = []
for fold in folds:
    report = json.load(open(f"{work}/eval-{fold}.json"))
    report["card_precision"] = report["card_precision"]["mean"]
    rows.append(report)
print("| fold (training week from) | evaluated (frauds) | " + " | ".join(k[1] for k in keys) + " |")
print("|---|---|" + "---|" * len(keys))
for fold, r in zip(folds, rows):
    t = r["transactions"]
    print(f"| {fold} | {t['evaluated']:,} ({t['frauds']}) | " +
          " | ".join(f"{r[k]:.3f}" for k, _ in keys) + " |")
print("| mean ± sd | | " + " | ".join(
    f"{statistics.mean(r[k] for r in rows):.3f} ± {statistics.stdev(r[k] for r in rows):.3f}"
    for k, _ in keys) + " |")
PY

# How much of each test week the label delay hides (compromised terminals whose first fraud is
# less than the delay old), and what each fold's model detects of it and of the rest.
echo
echo "Ceiling on detection left by the 7-day label delay, per fold (threshold: 2 % FPR):"
scores=()
thresholds=()
for start in "${folds[@]}"; do
  scores+=("$work/scores-$start.csv")
  thresholds+=("$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["fpr_2_threshold"])' \
    "$work/eval-$start.json")")
done
/usr/bin/python3 scripts/label-delay-ceiling.py "$input" \
  --scores "${scores[@]}" --threshold "${thresholds[@]}" |
  sed "s|$work/scores-\([0-9-]*\)\.csv|\1|"
