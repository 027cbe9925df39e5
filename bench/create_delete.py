#!/usr/bin/env python3
"""create_delete.py DIR [FILES] [ROUNDS]: creates FILES files of 4 KiB in a new
folder under DIR (open/write/close each), then removes the folder with
`rm -rf`, ROUNDS times, and prints files/s for each step of each round. Run it
on a mount and on a local folder in the same session for a baseline."""
import os
import subprocess
import sys
import time

root = sys.argv[1]
files = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
data = b"x" * 4096
for r in range(rounds):
    d = os.path.join(root, "create_delete.%d.%d" % (os.getpid(), r))
    os.makedirs(d)
    t = time.perf_counter()
    for i in range(files):
        with open(os.path.join(d, "f%05d" % i), "wb") as f:
            f.write(data)
    created = time.perf_counter() - t
    t = time.perf_counter()
    subprocess.run(["rm", "-rf", d], check=True)
    removed = time.perf_counter() - t
    print("round %d: create %.0f files/s  rm -rf %.0f files/s" % (r + 1, files / created, files / removed))
