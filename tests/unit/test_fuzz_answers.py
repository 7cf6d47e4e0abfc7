"""Seeded fuzzing of the answers file (issue 9): random and mutated answers never make
``plan``, ``docs`` or ``apply --dry-run`` trace back.

Each case is an answers file built from the demo answers by a few random mutations (values
swapped for hostile strings, wrong types, deep or odd structures, deleted or unknown keys) or
generated from scratch. A case must end with exit 0 or exit 2 (bad input, every error
naming a field); an exception escaping ``cli.main`` fails the test with the seed and the case
to reproduce it. ``MW_FUZZ_CASES`` and ``MW_FUZZ_SEED`` run a longer or different campaign.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import random
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml

from wizard import cli
from wizard.answers import demo_answers_path

SEED = int(os.environ.get("MW_FUZZ_SEED", "20261202"))
CASES = int(os.environ.get("MW_FUZZ_CASES", "300"))
DEMO: Dict[str, Any] = yaml.safe_load(demo_answers_path().read_text())

HOSTILE_STRINGS = [
    "", " ", "\n", "a\nb", "x\r\ny", "\x00", "\t", "\u2028", "\u0085", "\ud800", "\udfff",
    "\u202e", "\ufeff", "\u017f", "\u212a", "é", "例え", "\U0001f4e7", "%", "%1", "$x",
    "${x}", "`id`", "$(id)", "|/bin/sh", "/etc/passwd", ":include:/x", "..", "../../etc",
    "a" * 300, "a" * 5000, "-", "--", "0", "-1", "1e9", "null", "true", "@", "@@", "a@",
    "@b", "a@b@c", "fe80::%eth0", "fe80::1%1\nx = y", "[::1]/128", "0.0.0.0/0", "::/0",
    "10.0.0.0/33", "1.2.3.4/8", "300.1.1.1", "mail.example.com", "example.com", "alice",
    "root", "REJECT", "OK x\ny", "rsa1024", "import", "cyrus", "GB", "gb", "/dev/null",
    "mail..example.com", ".example.com", "-mail.example.com", "mail.example.123",
    "xn--bcher-kva.example", "'", '"', "\\", "#", ";", ",", "=", "{", "}", "[", "]",
]
HOSTILE_VALUES: List[Any] = [
    None, True, False, 0, -1, 2 ** 63, 3.5, float("inf"), [], {}, [None], [[["deep"]]],
    {"a": {"b": {"c": 1}}}, ["a", 1, None], {1: 2}, {"": ""}, b"bytes",
]


def _rand_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if roll < 0.55:
        s = rng.choice(HOSTILE_STRINGS)
        if rng.random() < 0.3:
            s = s + rng.choice(HOSTILE_STRINGS)
        return s
    if roll < 0.8 or depth > 3:
        return copy.deepcopy(rng.choice(HOSTILE_VALUES))
    if roll < 0.9:
        return [_rand_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {str(_rand_value(rng, depth + 1)): _rand_value(rng, depth + 1)
            for _ in range(rng.randint(0, 4))}


def _paths(data: Any, prefix: tuple = ()) -> List[tuple]:
    out = [prefix]
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, prefix + (i,))
    return out


def _mutate(rng: random.Random, data: Dict[str, Any]) -> Dict[str, Any]:
    """One to four mutations, most of them small (a character inserted into a valid value)
    so that many cases stay valid or nearly so and reach the planner and the runbook."""
    for _ in range(rng.choice((1, 1, 1, 1, 1, 1, 2, 2, 2, 4))):
        path = rng.choice(_paths(data)[1:])
        parent: Any = data
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        action = rng.random()
        if action < 0.45 and isinstance(parent[last], str):
            s = parent[last]
            i = rng.choice((0, len(s), rng.randint(0, len(s))))
            parent[last] = s[:i] + rng.choice(HOSTILE_STRINGS[:40]) + s[i:]
        elif action < 0.55 and isinstance(parent, dict) and isinstance(last, str):
            value = parent.pop(last)
            i = rng.randint(0, len(last))
            parent[last[:i] + rng.choice(HOSTILE_STRINGS[:40]) + last[i:]] = value
        elif action < 0.8:
            parent[last] = _rand_value(rng)
        elif action < 0.9 and isinstance(parent, dict):
            del parent[last]
        elif isinstance(parent, dict):
            parent[str(_rand_value(rng))] = _rand_value(rng)
    return data


def _case(rng: random.Random) -> Any:
    if rng.random() < 0.1:
        return {str(k): _rand_value(rng) for k in rng.sample(list(DEMO), rng.randint(1, 6))}
    return _mutate(rng, copy.deepcopy(DEMO))


def _run(verb: List[str], answers: Path, state: Path) -> int:
    argv = [*verb, "--answers", str(answers), "--platform", "debian12", "--dry-run",
            "--state-dir", str(state)]
    # a real terminal's streams: text must encode as UTF-8 (a lone surrogate does not)
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(argv)
        out.flush()
        err.flush()
    return rc


def test_fuzzed_answers_never_trace_back(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    outcomes: Dict[int, int] = {}
    for n in range(CASES):
        data = _case(rng)
        text = yaml.safe_dump(data, allow_unicode=rng.random() < 0.5, sort_keys=False)
        f = tmp_path / f"case{n}.yaml"
        f.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            rc = _run(["plan", "--diff"], f, tmp_path / "state")
            outcomes[rc] = outcomes.get(rc, 0) + 1
            assert rc in (0, 2), f"plan exit {rc}"
            if rc == 0:
                assert _run(["docs"], f, tmp_path / "state") == 0
                assert _run(["apply", "--yes"], f, tmp_path / "state") == 0
        except BaseException as exc:  # noqa: BLE001 - report the case, whatever it was
            pytest.fail(f"seed {SEED} case {n}: {exc!r}\n--- answers ---\n{text[:3000]}")
    # the campaign exercised both paths: refusals and full plans
    assert outcomes.get(2, 0) > CASES // 4 and outcomes.get(0, 0) > 0, outcomes
