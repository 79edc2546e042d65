"""multiprocessing with the fork start method (Process and Pool), and Celery's billiard when it
is installed: workers forked from a parent that created and attached flagwire, deciding, and
ending as those libraries end them (os._exit after their own exit finalizers, no atexit).
Nothing flagwire-specific is called in any process.

    fork_multiprocessing.py URL DECISIONS   -> users parent.., process.., pool<k>-.., billiard..
"""

import multiprocessing
import sys

from _sdk import attached_clients, decide, usage

if len(sys.argv) != 3:
    usage(__doc__)
url, count = sys.argv[1], int(sys.argv[2])
oc, fw = attached_clients(url)


def work(prefix):
    decide(oc, prefix, count)
    return prefix


if __name__ == "__main__":
    decide(oc, "parent", count)
    ctx = multiprocessing.get_context("fork")
    p = ctx.Process(target=work, args=("process",))
    p.start()
    p.join()
    if p.exitcode != 0:
        sys.exit(f"Process exited with {p.exitcode}")
    with ctx.Pool(2) as pool:
        pool.map(work, ["pool0-", "pool1-", "pool2-"])
        pool.close()  # workers end normally (terminate() would kill them, and their queues)
        pool.join()
    try:
        import billiard
    except ImportError:
        billiard = None
    if billiard is not None:
        b = billiard.get_context("fork").Process(target=work, args=("billiard",))
        b.start()
        b.join()
        if b.exitcode != 0:
            sys.exit(f"billiard Process exited with {b.exitcode}")
    print("billiard" if billiard is not None else "no-billiard")
