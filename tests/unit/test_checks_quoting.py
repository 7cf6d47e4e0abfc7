"""Commands that checks suggest are built from values: every value is shell-quoted."""

from __future__ import annotations

import shlex
from pathlib import Path

from wizard import checks
from wizard.executor import Executor


def test_main_cf_fix_hint_is_one_quoted_argument(tmp_path: Path) -> None:
    (tmp_path / "etc/postfix").mkdir(parents=True)
    (tmp_path / "etc/postfix/main.cf").write_text("myorigin = other\n")
    hostile = "it's $(touch /tmp/x) `id`"
    [res] = checks.main_cf_values(Executor(tmp_path, host_commands=True),
                                  {"myorigin": hostile})
    assert res.ok is False
    prefix = "set it with: "
    assert res.explanation.startswith(prefix)
    assert shlex.split(res.explanation[len(prefix):]) == [
        "postconf", "-e", f"myorigin = {hostile}"]
