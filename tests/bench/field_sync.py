#!/usr/bin/env python3
"""Benchmark of the inspectors' field sync through the real inspection
service on loopback (docs/protocol.md 16.2): 10,000 signed findings and 50 MB
of evidence (25 files of 2 MiB) on a device, then one `cpmctl inspector sync`.

Prints the sync's wall time, the signed frames' bytes against the payload
(record frames + evidence bytes: overhead %), and the ratio of the sync time
to a baseline measured in one process on the same disk (hash the evidence
and write it in fsync'ed 1 MiB appends: the least the agency must do).
Figures only; nothing is asserted on time.

  CPM_BUILD=build python3 tests/bench/field_sync.py [--findings N] [--files N] [--file-mb N]
"""
import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from mesh import BUILD, CTL  # noqa: E402
import test_field_sync as tf  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--findings", type=int, default=10000)
    ap.add_argument("--files", type=int, default=25)
    ap.add_argument("--file-mb", type=int, default=2)
    a = ap.parse_args()
    with tf.FieldMesh() as m:
        tf.ins(m, "checkout")
        fill = subprocess.run([os.path.join(BUILD, "bench_field_sync"), "--home", m.home, "--as",
                               tf.INS1, "--inspection", tf.INSPECTION, "--findings",
                               str(a.findings), "--files", str(a.files), "--file-mb",
                               str(a.file_mb)], capture_output=True, text=True, check=True)
        import json
        f = json.loads(fill.stdout)
        t0 = time.monotonic()
        r = subprocess.run([CTL, "--json", "--timeout", "30000", "--as", tf.INS1, "inspector",
                            "sync"], capture_output=True, text=True, env=m.env)
        secs = time.monotonic() - t0
        s = json.loads(r.stdout.splitlines()[-1])
        payload = f["record_bytes"] + f["evidence_bytes"]
        print("field sync: %d findings (%.1f MB of signed records) + %d files (%.1f MB evidence)"
              % (f["findings"], f["record_bytes"] / 1e6, f["files"], f["evidence_bytes"] / 1e6))
        print("  stored %d, refused %d, evidence files %d, exit %d"
              % (s["stored"], s["refused"], s["evidence_files"], r.returncode))
        print("  time %.2f s  (%.1f MB/s of payload)" % (secs, payload / 1e6 / secs))
        print("  wire %d bytes of signed frames in %d messages vs payload %d: overhead %.2f%%"
              % (s["wire_bytes"], s["messages"], payload,
                 100.0 * (s["wire_bytes"] - payload) / payload))
        print("  baseline (hash + fsync'ed 1 MiB writes of the evidence, one process): %d ms;"
              " sync / baseline = %.1fx" % (f["baseline_ms"], secs * 1000 / max(1, f["baseline_ms"])))
        print("  (ZMTP/CURVE framing adds about 40 bytes per message on top: %d bytes)"
              % (40 * s["messages"]))
        if r.returncode != 0:
            print(r.stderr, file=sys.stderr)
            sys.exit(1)


if __name__ == "__main__":
    main()
