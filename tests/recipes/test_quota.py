"""Optional step quota: the answer, the Dovecot drop-in per dialect, the Postfix policy item
(written by the restrictions step) and the policy probe verify uses."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest
from recipe_plans import DEMO, PLATFORMS, with_

from recipes.quota import (
    QUOTA_CONF,
    QUOTA_SOCKET,
    QuotaRecipe,
    ask_policy,
    quota_conf_text,
    quota_policy,
)
from recipes.restrictions import restriction_params
from wizard import changes as ch
from wizard.answers import parse_answers
from wizard.engine import Engine
from wizard.errors import AnswersError
from wizard.executor import DryRunExecutor, Executor
from wizard.platforms import get_platform


@pytest.mark.parametrize("value", ["1G", "500M", "2T", "999999M"])
def test_quota_sizes_accepted(value: str) -> None:
    data = DEMO.to_dict()
    data["mail_quota"] = value
    assert parse_answers(data).mail_quota == value


@pytest.mark.parametrize("value", ["off", "", None, False])
def test_quota_off(value: object) -> None:
    data = DEMO.to_dict()
    data["mail_quota"] = value
    a = parse_answers(data)
    assert a.mail_quota == "" and not QuotaRecipe().enabled(a)
    assert quota_policy(a) == []
    assert a.to_dict()["mail_quota"] == "off"


@pytest.mark.parametrize("value", ["1", "1g", "0G", "1.5G", "1G\n", "1 G", "-1G", 5,
                                   "1000000G", "1GB"])
def test_quota_bad_sizes_name_the_field(value: object) -> None:
    data = DEMO.to_dict()
    data["mail_quota"] = value
    with pytest.raises(AnswersError) as err:
        parse_answers(data)
    assert "mail_quota" in dict(err.value.errors)


@pytest.mark.parametrize("pid", PLATFORMS)
def test_quota_plan_per_dialect(tmp_path: Path, pid: str) -> None:
    p = get_platform(pid)
    a = with_(DEMO, mail_quota="2G")
    engine = Engine(a, p, DryRunExecutor(tmp_path), recipes=[QuotaRecipe()])
    [plan] = engine.plan()
    [write] = plan.changes
    assert isinstance(write, ch.FileWrite) and write.path == QUOTA_CONF
    text = quota_conf_text(a, p)
    assert "executable = quota-status -p postfix" in text
    assert f"unix_listener {QUOTA_SOCKET} {{" in text
    assert 'quota_status_overquota = "552 5.2.2 Mailbox is full"' in text
    # a message bigger than the whole quota gets its own reply (2.4 answers nothing without)
    assert 'quota_status_toolarge = "552 5.2.3' in text
    if p.dovecot_syntax == "2.4":
        assert "storage_size = 2G" in text and "quota = yes" in text
        assert "storage_grace = 0" in text  # 2.4's default grace is a flat 10M
        assert "quota_rule" not in text and "$mail_plugins" not in text
    else:
        assert "quota_rule = *:storage=2G" in text and "quota_grace = 0" in text
        assert "mail_plugins = $mail_plugins quota" in text and "storage_size" not in text


@pytest.mark.parametrize("pid", PLATFORMS)
def test_postfix_asks_quota_status_after_reject_unauth_destination(pid: str) -> None:
    p = get_platform(pid)
    on = restriction_params(with_(DEMO, mail_quota="1G"), p, "hash")
    items = [i.strip() for i in on["smtpd_recipient_restrictions"].split(",")]
    policy = "check_policy_service unix:private/quota-status"
    assert items.index(policy) > items.index("reject_unauth_destination")
    off = restriction_params(with_(DEMO, mail_quota=""), p, "hash")
    assert policy not in off["smtpd_recipient_restrictions"]


@pytest.mark.parametrize("deep", [False, True])
def test_ask_policy_speaks_the_postfix_policy_protocol(tmp_path: Path, deep: bool) -> None:
    if deep:  # a target root deep enough that the socket path passes the AF_UNIX limit
        tmp_path = tmp_path / ("d" * 60) / ("e" * 60)
    sock_path = tmp_path / QUOTA_SOCKET.lstrip("/")
    sock_path.parent.mkdir(parents=True)
    seen = {}
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    here = os.getcwd()
    os.chdir(sock_path.parent)  # bind by a short relative name, whatever the depth
    try:
        srv.bind(sock_path.name)
    finally:
        os.chdir(here)
    srv.listen(1)

    def serve() -> None:
        conn, _ = srv.accept()
        with conn:
            data = b""
            while not data.endswith(b"\n\n"):
                data += conn.recv(4096)
            seen["request"] = data.decode()
            conn.sendall(b"action=552 5.2.2 Mailbox is full\n\n")

    t = threading.Thread(target=serve)
    t.start()
    try:
        action = ask_policy(Executor(tmp_path), "alice@example.com")
    finally:
        t.join(5)
        srv.close()
    assert action == "552 5.2.2 Mailbox is full"
    assert "recipient=alice@example.com\n" in seen["request"]
    assert "request=smtpd_access_policy\n" in seen["request"]
