"""The plan names a self-signed certificate's subjectAltNames without importing
cryptography.x509: the same names, in the same order, as the certificate gets."""

from __future__ import annotations

import copy
from typing import Any, Dict, List

import pytest
import yaml

from recipes.certificate import _names, san_names
from wizard.answers import demo_answers_path, parse_answers

DEMO: Dict[str, Any] = yaml.safe_load(demo_answers_path().read_text())


@pytest.mark.parametrize("extra", [
    [], ["smtp.example.com"], ["SMTP.Example.COM.", "smtp.example.com"],
    ["192.0.2.7", "2001:db8::5", "2001:DB8:0::5", "mail.example.com"],
    ["imap.example.com", "192.0.2.7", "imap.example.com"]])
def test_names_without_x509_are_the_certificates(extra: List[str]) -> None:
    data = copy.deepcopy(DEMO)
    data.setdefault("certificate", {})["extra_names"] = extra
    answers = parse_answers(data)
    assert _names(answers) == [str(gn.value) for gn in san_names(answers)]
