#!/usr/bin/python3
"""How much of the compromised-terminal (merchant) fraud a label delay leaves visible.

A compromised terminal's frauds look like its genuine sales; only its confirmed frauds give it
away, and those are known a delay later. So a fraud can be caught at best once its terminal's
first fraud of the episode is at least the delay old. This prints, for the frauds of scenario 2
in the given periods, how many there are and the share that comes at least DELAY days after the
first fraud of its terminal's episode (a new episode starts after a gap of more than 28 days).

  scripts/label-delay-ceiling.py FILE.csv[.gz] FROM..TO [FROM..TO ...] [--delay-days 7]

FILE is the handbook's CSV (TX_DATETIME, TERMINAL_ID, TX_FRAUD_SCENARIO) or FraudGuard's
(timestamp_ms, merchant_id, scenario); days are YYYY-MM-DD, UTC, both ends included.
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file")
    parser.add_argument("periods", nargs="+", help="FROM..TO, days included")
    parser.add_argument("--delay-days", type=float, default=7)
    args = parser.parse_args()
    periods = []
    for period in args.periods:
        first, _, last = period.partition("..")
        periods.append((day_start(first), day_start(last) + DAY_S))
    opener = gzip.open if args.file.endswith(".gz") else open
    episode_start = {}
    total = visible = 0
    with opener(args.file, "rt", newline="") as f:
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
            if any(a <= t < b for a, b in periods):
                total += 1
                visible += t - start >= args.delay_days * DAY_S
    if total == 0:
        sys.exit("no scenario-2 fraud in the periods")
    print(f"scenario-2 frauds in the periods: {total:,}")
    print(f"at least {args.delay_days:g} days after their terminal's first fraud: "
          f"{visible:,} ({visible / total:.3f})")


if __name__ == "__main__":
    main()
