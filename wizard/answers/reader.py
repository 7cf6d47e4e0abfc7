"""Answers files: reading one safely (size, nesting and alias limits), loading, writing, demo.

A hostile answers file must fail with a field-named :class:`~wizard.errors.AnswersError`, never
exhaust memory or the stack: the YAML is scanned as events (iterative) before any object is
built from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Optional

import yaml

from ..errors import AnswersError
from .model import Answers, parse_answers
from .validators import printable

MAX_YAML_BYTES = 1_000_000
MAX_YAML_DEPTH = 16
MAX_YAML_NODES = 50_000

DEMO_DIR = Path(__file__).parent.parent / "demo"

_FAST: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when PyYAML has it (an answers file of 10,000 aliases: 0.2 s
instead of 2 s), else PyYAML's own; both build only plain data. A file libyaml refuses is
read again by PyYAML's own loader, whose messages say what is wrong in our terms."""


def _check_yaml_shape(text: str, where: str) -> None:
    """:func:`_scan_yaml_shape` with libyaml, again with PyYAML's parser when it fails."""
    if _FAST is yaml.SafeLoader:
        _scan_yaml_shape(text, where, yaml.SafeLoader)
        return
    try:
        _scan_yaml_shape(text, where, _FAST)
    except AnswersError:  # PyYAML's parser decides, and words the error
        _scan_yaml_shape(text, where, yaml.SafeLoader)


def _load(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_FAST)  # noqa: S506 - a safe loader
    except (yaml.YAMLError, RecursionError, ValueError):
        if _FAST is yaml.SafeLoader:
            raise
        return yaml.safe_load(text)  # its error, or (unexpectedly) its answer


def _scan_yaml_shape(text: str, where: str, loader: Any) -> None:
    """Refuse YAML that could exhaust memory or the stack before it is built into objects.

    The event parser is iterative, so this scan is safe on any input; building the objects
    (the composer) recurses and expands aliases, hence the limits: no anchors or aliases
    (an answers file never needs them, and they are how an "alias bomb" multiplies), nesting
    at most :data:`MAX_YAML_DEPTH` deep, at most :data:`MAX_YAML_NODES` values."""
    depth = nodes = 0
    try:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise AnswersError([("(file)", f"{where}: YAML anchors and aliases (& and *) "
                                               "are not accepted in an answers file")])
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    raise AnswersError([("(file)", f"{where}: nested more than "
                                                   f"{MAX_YAML_DEPTH} levels deep")])
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
            if isinstance(event, yaml.NodeEvent):
                nodes += 1
                if nodes > MAX_YAML_NODES:
                    raise AnswersError([("(file)", f"{where}: more than {MAX_YAML_NODES} "
                                                   "values")])
    except yaml.YAMLError as exc:
        raise AnswersError([("(file)", f"{where} is not valid YAML: "
                                       f"{printable(str(exc))}")]) from exc


def read_answers_file(path: Path) -> Any:
    """The raw data of an answers YAML file, with size, nesting and alias limits.

    Raises:
        AnswersError: unreadable, too large, not UTF-8, not YAML or shaped to hurt."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise AnswersError([("(file)", f"cannot read {path}: {exc.strerror}")]) from exc
    if len(raw) > MAX_YAML_BYTES:
        raise AnswersError([("(file)", f"{path} is larger than {MAX_YAML_BYTES} bytes")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AnswersError([("(file)", f"{path} is not UTF-8 text (byte {exc.start})")]
                           ) from exc
    _check_yaml_shape(text, str(path))
    try:
        return _load(text)
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        raise AnswersError([("(file)", f"{path} is not valid YAML: "
                                       f"{printable(str(exc))}")]) from exc


def load_answers(path: Path, existing_users: Optional[Iterable[str]] = None) -> Answers:
    """Read and validate an answers YAML file."""
    data = read_answers_file(path)
    return parse_answers(data, set(existing_users) if existing_users is not None else None)


def dump_answers(answers: Answers, include_secrets: bool = False) -> str:
    return yaml.safe_dump(answers.to_dict(include_secrets), sort_keys=False,
                          default_flow_style=False)


def demo_answers_path(name: str = "answers") -> Path:
    return DEMO_DIR / f"{name}.yaml"
