#!/usr/bin/python3
"""How much of the compromised-terminal (merchant) fraud a label delay leaves visible.

A compromised terminal's frauds look like its genuine sales; only its confirmed frauds give it
away, and those are known a delay later. So a fraud can be caught at best once its terminal's
first fraud of the episode is at least the delay old. This prints, for the frauds of scenario 2
in the given periods, how many there are and the share that comes at least DELAY days after the
first fraud of its terminal's episode (a new episode starts after a gap of more than 28 days).

  scripts/label-delay-ceiling.py FILE.csv[.gz] FROM..TO [FROM..TO ...] [--delay-days 7]
  scripts/label-delay-ceiling.py FILE.csv[.gz] --scores SCORES.csv [...] --threshold T [...]

FILE is the handbook's CSV (TX_DATETIME, TERMINAL_ID, TX_FRAUD_SCENARIO) or FraudGuard's
(timestamp_ms, merchant_id, scenario); days are YYYY-MM-DD, UTC, both ends included.

With --scores (what `fraudguard eval --scores` wrote, one file per evaluation), the frauds are
those eval counted (the test-set rule's exclusions left out), and the ceiling is on total
detection: every fraud caught but the scenario-2 ones whose terminal episode is younger than the
delay. Each T is that evaluation's `fpr_2_threshold` (eval --json): the model's detection of
each group above it is printed beside the ceiling, a table row per file.
"""
import argparse
import csv
import datetime
import gzip
import sys

DAY_S = 86400
EPISODE_GAP_S = 28 * DAY_S


def day_start(text):
    return datetime.datetime.strptime(text, "%Y-%m-%d").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def scenario2_frauds(path):
    """Yields (time in seconds, terminal, seconds since its episode's first fraud) for each
    scenario-2 fraud of the file, in file order."""
    opener = gzip.open if path.endswith(".gz") else open
    episode_start = {}
    with opener(path, "rt", newline="") as f:
        rows = csv.DictReader(f)
        handbook = "TX_DATETIME" in rows.fieldnames
        for row in rows:
            scenario = row["TX_FRAUD_SCENARIO" if handbook else "scenario"]
            if scenario != "2":
                continue
            if handbook:
                t = datetime.datetime.strptime(row["TX_DATETIME"], "%Y-%m-%d %H:%M:%S").replace(
                    tzinfo=datetime.timezone.utc).timestamp()
                terminal = row["TERMINAL_ID"]
            else:
                t = int(row["timestamp_ms"]) / 1000
                terminal = row["merchant_id"]
            start = episode_start.get(terminal)
            if start is None or t - start > EPISODE_GAP_S:
                episode_start[terminal] = start = t
            yield t, terminal, t - start


def count_evaluated(scores_path, threshold, episode_age, delay_s, data_path):
    """[[hidden frauds, of them detected], [other frauds, of them detected]] over the frauds one
    `eval --scores` file counted."""
    # Risk scores carry two decimals; eval's threshold is one of them, read back as a float.
    threshold = round(threshold, 2)
    groups = [[0, 0], [0, 0]]
    with open(scores_path, newline="") as f:
        for row in csv.DictReader(f):
            if row["is_fraud"] != "1" or row["excluded_known_compromised"] == "1":
                continue
            hidden = False
            if row["scenario"] == "2":
                age = episode_age.get((round(int(row["timestamp_ms"]) / 1000), row["merchant_id"]))
                if age is None:
                    sys.exit(f"{scores_path}: transaction {row['transaction_id']} is not a "
                             f"scenario-2 fraud of {data_path}: are they the same data?")
                hidden = age < delay_s
            group = groups[0 if hidden else 1]
            group[0] += 1
            group[1] += float(row["risk_score"]) > threshold
    if groups[0][0] + groups[1][0] == 0:
        sys.exit(f"{scores_path}: no evaluated fraud")
    return groups


def ceiling_of_evaluated(args):
    """A table: per `eval --scores` file, the ceiling on total detection over the frauds eval
    counted, and the model's detection of the frauds the delay hides and of the rest."""
    if len(args.threshold) != len(args.scores):
        sys.exit("give one --threshold per --scores file, in the same order")
    episode_age = {(round(t), terminal): age for t, terminal, age in scenario2_frauds(args.file)}
    print("| evaluation | evaluated frauds | hidden by the delay | ceiling on detection | "
          "detected above the threshold | detected of the hidden | detected of the others |")
    print("|---|---|---|---|---|---|---|")
    for path, threshold in zip(args.scores, args.threshold):
        (hidden, hidden_caught), (others, others_caught) = count_evaluated(
            path, threshold, episode_age, args.delay_days * DAY_S, args.file)
        total = hidden + others
        share = (lambda part, whole: f"{part / whole:.3f}" if whole else "-")
        print(f"| {path} | {total:,} | {hidden:,} | {share(others, total)} | "
              f"{share(hidden_caught + others_caught, total)} | "
              f"{hidden_caught:,} ({share(hidden_caught, hidden)}) | "
              f"{others_caught:,} of {others:,} ({share(others_caught, others)}) |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file")
    parser.add_argument("periods", nargs="*", help="FROM..TO, days included")
    parser.add_argument("--delay-days", type=float, default=7)
    parser.add_argument("--scores", nargs="+", help="fraudguard eval --scores files")
    parser.add_argument("--threshold", nargs="+", type=float,
                        help="each file's eval fpr_2_threshold, with --scores")
    args = parser.parse_args()
    if args.scores:
        if args.periods or args.threshold is None:
            parser.error("--scores takes --threshold and no periods")
        return ceiling_of_evaluated(args)
    if not args.periods:
        parser.error("give at least one period FROM..TO, or --scores")
    periods = []
    for period in args.periods:
        first, _, last = period.partition("..")
        periods.append((day_start(first), day_start(last) + DAY_S))
    total = visible = 0
    for t, _, age in scenario2_frauds(args.file):
        if any(a <= t < b for a, b in periods):
            total += 1
            visible += age >= args.delay_days * DAY_S
    if total == 0:
        sys.exit("no scenario-2 fraud in the periods")
    print(f"scenario-2 frauds in the periods: {total:,}")
    print(f"at least {args.delay_days:g} days after their terminal's first fraud: "
          f"{visible:,} ({visible / total:.3f})")


if __name__ == "__main__":
    main()
