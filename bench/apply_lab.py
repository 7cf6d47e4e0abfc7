"""Benchmark: mailwizard against the by-hand scripts, side by side on one lab image (root).

Every run boots a fresh overlay server of the same lab image (tests/e2e/README.md) with the
mail packages preinstalled from the offline repo (not timed), and times, inside the server:

* A  -- by hand: ``server-configure.sh`` then ``server-start.sh`` (../shared/e2e-lab),
* A* -- the same with Postfix's main.cf cool-down avoided (main.cf and master.cf aged by
  10 s before each ``postfix``/``newaliases`` call, through wrappers first in PATH),
* mailwizard as a user runs it (the CLI installed from the wheelhouse): the first
  ``apply --answers F --yes``, a converged re-run, ``verify``, ``plan``, ``docs``,
  ``rollback --yes``, each with its peak RSS.

The three kinds run interleaved (the order rotates each iteration) so that the load of a
shared machine falls on all of them alike; the medians and the issue's ratios are printed.
``--scale`` adds a site with 1,000 users and 10,000 aliases: ``plan`` and the apply of the
alias maps (``--step aliases``: /etc/aliases and the virtual map) after a normal first apply.

    sudo python bench/apply_lab.py [--iterations 5] [--scale]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Dict, List, Optional

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "e2e"))

import lab  # noqa: E402
import mwlab  # noqa: E402

HAND = Path("/work/shared/e2e-lab")
ANSWERS = "/root/answers.yaml"
BIG = "/root/big.yaml"

# run one command inside the server: wall seconds, peak RSS of its process tree's largest
# process (KiB), exit status -- measured in the server, the same way for every kind
TIMED = ("import json, resource, subprocess, sys, time\n"
         "t = time.monotonic()\n"
         "r = subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,"
         " stderr=subprocess.DEVNULL)\n"
         "print(json.dumps([time.monotonic() - t,"
         " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode]))\n")

COOL = ("#!/bin/sh\n"
        "touch -d \"@$(( $(date +%s) - 10 ))\" /etc/postfix/main.cf /etc/postfix/master.cf "
        "2>/dev/null\n"
        "exec {real} \"$@\"\n")


def timed(srv: lab.Server, argv: List[str], env: Optional[Dict[str, str]] = None
          ) -> Dict[str, float]:
    r = srv.run(["/usr/bin/python3", "/root/timed.py"] + argv, timeout=1800, env=env)
    seconds, rss, rc = json.loads(r.stdout.strip().splitlines()[-1])
    if rc != 0:
        raise SystemExit(f"{' '.join(argv)} exited {rc} on {srv}")
    return {"s": seconds, "rss_mib": rss / 1024}


def fresh(image: lab.Image) -> lab.Server:
    srv = lab.Server(image).boot()
    srv.attach_debs()
    srv.run("apt-get update -q >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get "
            "install -y -q " + " ".join(lab.MAIL_PKGS) + " >/dev/null 2>&1", timeout=1800)
    srv.path("/root/timed.py").write_text(TIMED)
    return srv


def by_hand(image: lab.Image, cool: bool) -> Dict[str, float]:
    srv = fresh(image)
    try:
        for name in ("server-configure.sh", "server-start.sh"):
            srv.path(f"/root/{name}").write_text((HAND / name).read_text())
        env = {"SRV_IP": srv.ip}
        if cool:
            wrap = srv.path("/root/cool")
            wrap.mkdir()
            for prog, real in (("postfix", "/usr/sbin/postfix"),
                               ("newaliases", "/usr/bin/newaliases")):
                (wrap / prog).write_text(COOL.format(real=real))
                (wrap / prog).chmod(0o755)
            env["PATH"] = "/root/cool:" + lab.SERVER_PATH
        return timed(srv, ["/bin/bash", "-c", "bash /root/server-configure.sh >/dev/null && "
                           "bash /root/server-start.sh"], env)
    finally:
        srv.halt()


def big_answers(ip: str) -> str:
    data = yaml.safe_load(mwlab.answers_for(ip))
    data["users"] = data["users"] + [{"name": f"u{i:04d}", "create": True,
                                      "password": f"Pw-{i:04d}-long-enough"}
                                     for i in range(1000)]
    data["aliases"] = {**data["aliases"], **{f"a{i:05d}": "alice" for i in range(5000)}}
    data["virtual_aliases"] = {**data["virtual_aliases"],
                               **{f"v{i:05d}@example.net": "bob" for i in range(5000)}}
    return yaml.safe_dump(data, sort_keys=False)


def mailwizard(image: lab.Image, scale: bool) -> Dict[str, float]:
    srv = fresh(image)
    try:
        srv.install_wheels()
        srv.path(ANSWERS).write_text(mwlab.answers_for(srv.ip))
        mw = ["/usr/local/bin/mailwizard"]
        out: Dict[str, float] = {}
        rss = 0.0
        for key, argv in (("first", ["apply", "--answers", ANSWERS, "--yes"]),
                          ("converged", ["apply", "--answers", ANSWERS, "--yes"]),
                          ("verify", ["verify", "--answers", ANSWERS]),
                          ("plan", ["plan", "--answers", ANSWERS]),
                          ("docs", ["docs", "--answers", ANSWERS])):
            res = timed(srv, mw + argv)
            out[key], rss = res["s"], max(rss, res["rss_mib"])
        if scale:
            srv.path(BIG).write_text(big_answers(srv.ip))
            try:
                out["big_plan"] = timed(srv, mw + ["plan", "--answers", BIG])["s"]
                res = timed(srv, mw + ["apply", "--answers", BIG, "--yes", "--step", "aliases"])
                out["big_maps"], rss = res["s"], max(rss, res["rss_mib"])
            except SystemExit as exc:  # reported, the rest of the bench goes on
                print(f"scale run failed: {exc}", flush=True)
        res = timed(srv, mw + ["rollback", "--yes"])
        out["rollback"], out["rss_mib"] = res["s"], max(rss, res["rss_mib"])
        return out
    finally:
        srv.halt()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--scale", action="store_true",
                    help="also 1,000 users and 10,000 aliases (plan, apply of the maps)")
    args = ap.parse_args()
    reason = lab.missing_requirements()
    if reason:
        raise SystemExit(f"cannot run the lab here: {reason}")
    image = lab.ensure_image()
    runs: Dict[str, List[float]] = {}
    kinds = ["A", "A*", "mw"]
    for i in range(args.iterations):
        order = kinds[i % 3:] + kinds[:i % 3]
        for kind in order:
            if kind == "mw":
                res = mailwizard(image, args.scale and i == 0)
                for k, v in res.items():
                    runs.setdefault(k, []).append(v)
            else:
                runs.setdefault(kind, []).append(by_hand(image, kind == "A*")["s"])
        print(f"iteration {i + 1}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in runs.items()),
              flush=True)
    med = {k: statistics.median(v) for k, v in runs.items()}
    print(f"\nmedians of {args.iterations} interleaved iterations (fresh server each run):")
    rows = [
        ("first apply, packages present", "first", f"{med['first'] / med['A']:.2f}x A, "
         f"{med['first'] / med['A*']:.2f}x A*", "<= 1.0x A"),
        ("converged re-run (0 changes)", "converged", "", "<= 0.6 s"),
        ("verify", "verify", "", "<= 1.0 s"),
        ("rollback", "rollback", "", "<= 1.5 s"),
        ("plan", "plan", "", "<= 0.2 s"),
        ("docs", "docs", "", "<= 0.2 s"),
        ("by hand A (configure + start)", "A", "", ""),
        ("by hand A* (no cool-down)", "A*", "", ""),
    ]
    if "big_plan" in med:
        rows += [("plan, 1,000 users + 10,000 aliases", "big_plan", "", "< 2 s"),
                 ("apply the maps, same site", "big_maps", "", "< 5 s")]
    print("| run | median | ratio | goal |\n|---|---|---|---|")
    for label, key, ratio, goal in rows:
        print(f"| {label} | {med[key]:.2f} s | {ratio} | {goal} |")
    print(f"| peak RSS (mailwizard) | {max(runs['rss_mib']):.0f} MiB | | < 60 MiB |")


if __name__ == "__main__":
    main()
