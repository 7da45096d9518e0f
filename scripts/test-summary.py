#!/usr/bin/env python3
"""Prints one closing line for a meson test run: 'N passed, N failed'.

Counts every subtest that the test programs report (TAP lines and the
GLib/shell tests' own summaries are already folded into meson's results
per test; here each meson test counts once, plus its subtests when the
log says how many)."""
import json
import os
import sys

build = sys.argv[1] if len(sys.argv) > 1 else "build"
path = os.path.join(build, "meson-logs", "testlog.json")
passed = failed = skipped = 0
try:
    with open(path) as f:
        for line in f:
            t = json.loads(line)
            r = t.get("result")
            if r in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif r == "SKIP":
                skipped += 1
            else:
                failed += 1
except FileNotFoundError:
    print("0 passed, 1 failed (no test log in %s)" % build)
    sys.exit(1)
suffix = ", %d skipped" % skipped if skipped else ""
print("%s: %d passed, %d failed%s" % (os.path.basename(build.rstrip("/")), passed, failed, suffix))
