"""Step 3 (postfix-basics): the basic main.cf on each platform."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from recipe_plans import PLATFORMS, active_lines, dry_plan, edited, stock_text

from recipes._postfix import berkeley_maps_to
from wizard import changes as ch
from wizard import confedit
from wizard.platforms import get_platform


@pytest.mark.parametrize("pid", PLATFORMS)
def test_postfix_basics_main_cf(tmp_path: Path, pid: str) -> None:
    p = get_platform(pid)
    plan = dry_plan(tmp_path, pid)["postfix-basics"]
    assert len(plan.changes) == 1  # one main.cf write per step
    text = edited(pid, plan, "/etc/postfix/main.cf")
    values = confedit.read_main_cf(text)
    assert values["myhostname"] == "mail.example.com"
    assert values["mydomain"] == "example.com"
    assert values["myorigin"] == "$mydomain"
    assert values["mydestination"] == "$myhostname, localhost.$mydomain, localhost, $mydomain"
    assert values["home_mailbox"] == "Maildir/"
    assert values["relay_domains"] == ""
    assert "disable_vrfy_command" not in plan.changes[0].params  # the restrictions step's
    assert "mail_name" not in values["smtpd_banner"] and "Debian" not in values["smtpd_banner"]
    db = "lmdb" if pid == "almalinux10" else "hash"
    assert values["alias_maps"] == f"{db}:/etc/aliases"
    assert values["alias_database"] == f"{db}:/etc/aliases"
    if db == "lmdb":
        assert not [ln for ln in active_lines(text) if re.search(r"\b(hash|btree):", ln)]
    # EL's "inet_interfaces = localhost" is replaced where it stands, not shadowed later
    stock = stock_text(pid, "/etc/postfix/main.cf")
    assert stock is not None
    old = stock.splitlines()
    new = text.splitlines()
    assert [ln for ln in new if ln.startswith("inet_interfaces")] == ["inet_interfaces = all"]
    if p.is_el:
        i_old, i_new = old.index("inet_interfaces = localhost"), new.index("inet_interfaces = all")
        assert (new[i_new - 1], new[i_new + 1]) == (old[i_old - 1], old[i_old + 1])
    # compatibility level: kept when present, added only on Postfix 3 EL without one
    if pid == "centos7":
        assert "compatibility_level" not in values
    else:
        stock_level = confedit.read_main_cf(stock).get("compatibility_level")
        assert values["compatibility_level"] == (stock_level or p.compatibility_level)
    # nothing of the stock file is lost except active lines of the parameters we set
    change = plan.changes[0]
    assert isinstance(change, ch.PostfixParams)
    for line in (ln for ln in old if ln not in new):
        assert line.split("=")[0].strip() in change.params, line


def test_no_conversion_where_berkeley_db_exists() -> None:
    values = {"alias_maps": "hash:/etc/aliases", "x": "btree:/a"}
    assert berkeley_maps_to("hash", values) == {}
    assert berkeley_maps_to("lmdb", values) == {"alias_maps": "lmdb:/etc/aliases",
                                                "x": "lmdb:/a"}
