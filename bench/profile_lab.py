"""Where does a mailwizard verb spend its time? A cProfile and a command log, in the lab (root).

Boots one fresh lab server (the image of ``bench/apply_lab.py``, mail packages preinstalled),
installs mailwizard from the wheelhouse, runs the verbs given before the one to look at
(``--before``, default: a first apply), then runs the verb under ``cProfile`` with every
command the executor runs logged with its wall time, and prints:

* the wall time of the verb,
* the commands sorted by their total time (count, total, the slowest),
* the top of the profile by cumulative time (``--top`` lines).

With ``--live`` the checkout is bind-mounted read-only into the server and put first on the
path, so edits are profiled without rebuilding the wheels. ``--scale`` uses the site with
1,000 users and 10,000 aliases of ``apply_lab.py`` for the profiled verb.

    sudo python bench/profile_lab.py rollback --yes
    sudo python bench/profile_lab.py --scale apply --yes --step aliases
    sudo python bench/profile_lab.py --before "" plan
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "e2e"))
sys.path.insert(0, str(HERE))

import apply_lab  # noqa: E402
import lab  # noqa: E402
import mwlab  # noqa: E402

# runs inside the server with the venv's python: cProfile around wizard.cli.main, and a
# wrapper around the one function that spawns commands (wizard.executor.root.run_sh)
PROFILE = r'''
import cProfile, io, pstats, sys, time
if sys.argv[1] == "--live":
    sys.path.insert(0, "/srv/src")
    del sys.argv[1]
top = int(sys.argv[1])
argv = sys.argv[2:]
log = []
t0 = time.monotonic()
prof = cProfile.Profile()
prof.enable()
import wizard.executor.root as root
real = root.run_sh
def logged(full, **kw):
    t = time.monotonic()
    res = real(full, **kw)
    log.append((time.monotonic() - t, " ".join(full)[:100], t - t0))
    return res
root.run_sh = logged
import wizard.cli
try:
    rc = wizard.cli.main(argv)
except SystemExit as exc:
    rc = exc.code
prof.disable()
wall = time.monotonic() - t0
sys.stdout.flush()
print(f"\n=== {' '.join(argv)}: exit {rc}, {wall:.3f} s in the process (imports included), "
      f"{len(log)} commands, {sum(x[0] for x in log):.3f} s in them", file=sys.stderr)
by = {}
for s, cmd, _ in log:
    n, tot, mx = by.get(cmd, (0, 0.0, 0.0))
    by[cmd] = (n + 1, tot + s, max(mx, s))
print("\ncommands by total time (count, total s, max s):", file=sys.stderr)
for cmd, (n, tot, mx) in sorted(by.items(), key=lambda kv: -kv[1][1])[:40]:
    print(f"  {n:4d} {tot:7.3f} {mx:7.3f}  {cmd}", file=sys.stderr)
print("\ncommands by start (start offset s, duration s):", file=sys.stderr)
for s, cmd, at in sorted(log, key=lambda x: x[2])[:80]:
    print(f"  {at:7.3f} {s:7.3f}  {cmd}", file=sys.stderr)
buf = io.StringIO()
pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(top)
print(buf.getvalue(), file=sys.stderr)
buf = io.StringIO()
pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top // 2)
print(buf.getvalue(), file=sys.stderr)
'''

LIVE = ("import sys; sys.path.insert(0, '/srv/src'); import wizard.cli; "
        "sys.exit(wizard.cli.main(sys.argv[1:]))")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--before", default="apply --yes",
                    help="verbs run first, ';'-separated, '--answers F' added "
                         "(default: %(default)s; '' for none)")
    ap.add_argument("--scale", action="store_true",
                    help="the profiled verb uses the 1,000 users / 10,000 aliases answers")
    ap.add_argument("--live", action="store_true",
                    help="profile the checkout's source (bind-mounted) instead of the wheel")
    ap.add_argument("--repeat", type=int, default=1,
                    help="profile the verb this many times (each printed)")
    ap.add_argument("--top", type=int, default=60)
    ap.add_argument("verb", nargs=argparse.REMAINDER, help="the verb and its options")
    args = ap.parse_args()
    reason = lab.missing_requirements()
    if reason:
        raise SystemExit(f"cannot run the lab here: {reason}")
    if not args.verb:
        raise SystemExit("give the verb to profile, e.g. rollback --yes")
    image = lab.ensure_image()
    srv = apply_lab.fresh(image)
    try:
        srv.install_wheels()
        if args.live:
            srv._bind_ro(HERE.parent, "/srv/src")
        srv.path(apply_lab.ANSWERS).write_text(mwlab.answers_for(srv.ip))
        srv.path("/root/mwprof.py").write_text(PROFILE)
        runner = ["/usr/local/bin/mailwizard"]
        if args.live:
            runner = ["/opt/mw/bin/python", "-c", LIVE]
        for before in filter(None, (b.strip() for b in args.before.split(";"))):
            words = shlex.split(before)
            argv = [*runner, words[0], "--answers", apply_lab.ANSWERS, *words[1:]]
            res = srv.run(argv, timeout=1800, check=False)
            print(f"ran: {' '.join(argv)}: exit {res.returncode}", flush=True)
        answers = apply_lab.ANSWERS
        if args.scale:
            srv.path(apply_lab.BIG).write_text(apply_lab.big_answers(srv.ip))
            answers = apply_lab.BIG
        verb = args.verb[0]
        rest = args.verb[1:]
        if verb != "rollback" or "--answers" not in rest:
            rest = ["--answers", answers, *rest]
        for _ in range(args.repeat):
            res = srv.run(["/opt/mw/bin/python", "/root/mwprof.py",
                           *(["--live"] if args.live else []), str(args.top), verb, *rest],
                          timeout=1800, check=False)
            print(res.stdout[-3000:])
            print(res.stderr)
    finally:
        srv.halt()


if __name__ == "__main__":
    main()
