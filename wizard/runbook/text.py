"""Markdown text for the runbook: prose made safe, code spans and fences, block extraction,
heading anchors (shared by the Markdown contents and the HTML ids)."""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Sequence, Tuple

from ..shelltext import code_span as code_span  # the runbook's modules take it here
from .blocks import APPLY

_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)


def prose(s: str) -> str:
    """Prose from recipes and notes, made safe for Markdown: a ``<`` that could start a tag
    is escaped (outside code spans, where a backslash would show)."""
    out, pos = [], 0
    for m in _CODE_SPAN.finditer(s):
        out.append(re.sub(r"<(?=[A-Za-z/!?])", r"\\<", s[pos:m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(re.sub(r"<(?=[A-Za-z/!?])", r"\\<", s[pos:]))
    return "".join(out)


def cell(s: str) -> str:
    return prose(s).replace("|", "\\|").replace("\n", " ")


def fence(info: str, body: str) -> List[str]:
    """A fenced block whose fence is longer than any backtick run inside ``body``."""
    body = body.rstrip("\n")
    longest = max((len(m) for m in re.findall(r"^\s*(`{3,})", body, re.M)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, body, fence, ""]


_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*([^\s`]*)(.*)\Z")


def extract_commands(markdown: str, kinds: Sequence[str] = (APPLY,)) -> List[str]:
    """The bodies of the fenced blocks whose info string starts with one of ``kinds``, in
    order. The default gives the apply blocks: run them in order as root (``sh -e``) to do
    what ``mailwizard apply`` does."""
    wanted = set(kinds)
    out: List[str] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE_OPEN.match(lines[i])
        if not m or (m.group(1)[0] == "`" and "`" in m.group(3)):
            i += 1
            continue
        fence, info = m.group(1), m.group(2)
        close = re.compile(r"^ {0,3}" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}\s*\Z")
        body: List[str] = []
        i += 1
        while i < len(lines) and not close.match(lines[i]):
            body.append(lines[i])
            i += 1
        i += 1
        if info in wanted:
            out.append("\n".join(body) + "\n")
    return out


class Slugger:
    """Heading anchors the way GitHub makes them (lower case, punctuation dropped, spaces to
    hyphens, ``-1``, ``-2`` for repeats), shared by the Markdown contents and the HTML ids."""

    def __init__(self) -> None:
        self.seen: Dict[str, int] = {}

    def slug(self, text: str) -> str:
        base = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
        n = self.seen.get(base)
        self.seen[base] = 0 if n is None else n + 1
        return base if n is None else f"{base}-{n + 1}"


def heading_text(markdown_line: str) -> Tuple[int, str]:
    m = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*\Z", markdown_line)
    if not m:
        return 0, ""
    text = re.sub(r"\\(.)", r"\1", m.group(2)).replace("`", "")
    return len(m.group(1)), text


def headings(markdown: str) -> List[Tuple[int, str, str]]:
    """(level, text, anchor) of every heading outside code blocks, in order."""
    slugger = Slugger()
    out = []
    in_fence: Optional[str] = None
    for line in markdown.splitlines():
        m = re.match(r"^ {0,3}(`{3,}|~{3,})", line)
        if m:
            if in_fence is None:
                in_fence = m.group(1)
            elif line.strip().startswith(in_fence[0] * len(in_fence)) and \
                    set(line.strip()) == {in_fence[0]}:
                in_fence = None
            continue
        if in_fence is None and line.startswith("#"):
            level, text = heading_text(line)
            if level:
                out.append((level, text, slugger.slug(text)))
    return out

