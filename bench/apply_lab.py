"""Benchmark: a real install on a throw-away lab server (needs root; see tests/e2e/README.md).

Boots a fresh Debian 12 lab server (no mail packages), installs mailwizard from the
wheelhouse, then times, inside the server:

* the first ``apply`` (installs packages offline, configures, starts, verifies),
* a converged second ``apply`` (should change nothing and spawn few processes),
* ``verify`` alone, and ``rollback``.

For the two applies it also prints how many processes mailwizard spawned and the slowest
commands, from the executor's own history.

    sudo python bench/apply_lab.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "e2e"))

import lab  # noqa: E402
import mwlab  # noqa: E402

INSIDE = r"""
import json, sys, time
from recipes import all_recipes
from wizard.answers import load_answers
from wizard.engine import Engine
from wizard.executor import Executor
from wizard.platforms import detect_platform
from wizard.session import Session
ex = Executor("/")
answers = load_answers("/root/answers.yaml", set(ex.users()))
with Session.open("/var/lib/mailwizard") as s:
    s.bind("debian12", "/", answers.to_dict())
    t0 = time.monotonic()
    e = Engine(answers, detect_platform("/"), ex, session=s, recipes=all_recipes())
    res = e.apply()
    t1 = time.monotonic()
    checks = e.verify()
    t2 = time.monotonic()
slow = sorted(ex.history, key=lambda r: -r.duration)[:6]
print(json.dumps({
    "apply_s": t1 - t0, "verify_s": t2 - t1, "spawned": len(ex.history),
    "changed": sum(r.changed for r in res), "failed": [r.step for r in res if r.status == "failed"],
    "checks_failed": sum(1 for v in checks.values() for c in v if c.ok is False),
    "slowest": [[" ".join(r.argv)[:60], round(r.duration, 2)] for r in slow]}))
"""


def run_inside(srv: lab.Server) -> dict:
    t0 = time.monotonic()
    r = srv.run(["/opt/mw/bin/python", "-c", INSIDE], check=True, timeout=1800)
    out = json.loads(r.stdout.strip().splitlines()[-1])
    out["wall_s"] = time.monotonic() - t0
    return out


def main() -> None:
    reason = lab.missing_requirements()
    if reason:
        raise SystemExit(f"cannot run the lab here: {reason}")
    image = lab.ensure_image()
    with lab.Server(image) as srv:
        srv.attach_debs()
        t0 = time.monotonic()
        srv.install_wheels()
        print(f"install mailwizard from the wheelhouse: {time.monotonic() - t0:6.1f} s")
        srv.path("/root/answers.yaml").write_text(mwlab.answers_for(srv.ip))
        for label in ("first apply (fresh server)", "second apply (converged)"):
            res = run_inside(srv)
            print(f"{label:28} apply {res['apply_s']:6.1f} s, verify {res['verify_s']:5.1f} s, "
                  f"{res['changed']:3d} changes, {res['spawned']:4d} processes, "
                  f"failed steps {res['failed'] or '-'}, failed checks {res['checks_failed']}")
            for argv, seconds in res["slowest"]:
                print(f"    {seconds:6.2f} s  {argv}")
        t0 = time.monotonic()
        r = srv.run("mailwizard rollback --yes >/dev/null 2>&1; echo $?", timeout=1800)
        print(f"rollback (purges the packages): {time.monotonic() - t0:6.1f} s, "
              f"exit {r.stdout.strip()}")


if __name__ == "__main__":
    main()
