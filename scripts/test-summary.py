#!/usr/bin/env python3
"""Prints one closing line for meson test runs: '[NAME:] N passed, N failed'.

Usage: test-summary.py BUILD-DIR [BUILD-DIR...] [--label NAME] [--extra-passed N]
Each meson test counts once (its subtests are in meson's own output). With
several build dirs the counts are added up; --extra-passed adds checks that
ran outside meson (the CI adds its fuzz targets)."""
import argparse
import json
import os
import sys

ap = argparse.ArgumentParser()
ap.add_argument("builds", nargs="+")
ap.add_argument("--label")
ap.add_argument("--extra-passed", type=int, default=0)
args = ap.parse_args()

passed, failed, skipped = args.extra_passed, 0, 0
for build in args.builds:
    path = os.path.join(build, "meson-logs", "testlog.json")
    try:
        with open(path) as f:
            for line in f:
                r = json.loads(line).get("result")
                if r in ("OK", "EXPECTEDFAIL"):
                    passed += 1
                elif r == "SKIP":
                    skipped += 1
                else:
                    failed += 1
    except FileNotFoundError:
        print("no test log in %s" % build, file=sys.stderr)
        failed += 1
label = args.label or os.path.basename(args.builds[0].rstrip("/"))
suffix = ", %d skipped" % skipped if skipped else ""
print("%s: %d passed, %d failed%s" % (label, passed, failed, suffix))
sys.exit(1 if failed else 0)
