"""A pre-forking server in miniature (gunicorn --preload): the parent creates the Optimizely and
flagwire clients and decides, then os.fork()s workers that decide and exit normally (sys.exit,
so atexit runs), with nothing flagwire-specific called in any process.

    fork_os.py URL CHILDREN DECISIONS   -> users parent0.., child<k>-0..
"""

import os
import sys

from _sdk import attached_clients, decide, usage

if len(sys.argv) != 4:
    usage(__doc__)
url, children, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
oc, fw = attached_clients(url)
decide(oc, "parent", count)

pids = []
for k in range(children):
    pid = os.fork()
    if pid == 0:
        decide(oc, f"child{k}-", count)
        sys.exit(0)  # a worker's normal end: atexit closes (and flushes) the child's client
    pids.append(pid)
for pid in pids:
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"child {pid} exited with {status}")
