"""The runbook as one self-contained HTML page (inline CSS, no scripts, no external resources)."""

from __future__ import annotations

from .blocks import APPLY, BACKUP, INTERACTIVE, ROLLBACK, VERIFY, WHOLE_FILE
from .text import Slugger

_LABELS = {
    APPLY: "run as root",
    INTERACTIVE: "run as root (asks for input)",
    BACKUP: "back up before the step",
    ROLLBACK: "roll back (only to undo)",
    VERIFY: "check (changes nothing)",
    "diff": "changes in the file",
    "text": "",
}

_CSS = """
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;
background:#fff;margin:0}
main{max-width:62rem;margin:0 auto;padding:1rem 1.5rem 4rem}
h1{font-size:1.9rem;border-bottom:2px solid #d0d7de;padding-bottom:.3rem}
h2{font-size:1.45rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem;margin-top:2.5rem}
h3{font-size:1.15rem;margin-top:1.6rem}
a{color:#0969da}
code{font:.9em/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;
background:#f3f4f6;padding:.1em .3em;border-radius:4px}
pre{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:.7rem .9rem;
overflow-x:auto;margin:0}
pre code{background:none;padding:0;font-size:.85rem;white-space:pre}
.block{margin:.6rem 0 1rem}
.block .label{font-size:.75rem;text-transform:uppercase;letter-spacing:.05em;color:#57606a;
margin-bottom:.15rem}
.block.sh pre{border-left:4px solid #1a7f37}
.block.sh-interactive pre{border-left:4px solid #9a6700}
.block.sh-backup pre{border-left:4px solid #0969da}
.block.sh-rollback pre{border-left:4px solid #cf222e;background:#fff8f8}
.block.sh-verify pre{border-left:4px solid #8250df}
.block.diff .add{color:#1a7f37;background:#e6ffec;display:block}
.block.diff .del{color:#cf222e;background:#ffebe9;display:block}
.block.diff .hunk{color:#0969da;display:block}
details summary{cursor:pointer;color:#0969da;font-size:.9rem}
table{border-collapse:collapse;margin:.6rem 0}
th,td{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}
@media print{details:not([open]) pre{display:block}}
"""


def _escape(s: str) -> str:
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def _diff_html(body: str) -> str:
    out = []
    for line in body.splitlines():
        cls = ("hunk" if line.startswith("@@") else "add" if line.startswith("+") and not
               line.startswith("+++") else "del" if line.startswith("-") and not
               line.startswith("---") else "")
        out.append(f'<span class="{cls}">{_escape(line)}</span>' if cls else _escape(line))
    return "\n".join(out)


def render_html(markdown: str, title: str) -> str:
    """One self-contained HTML page (inline CSS, no scripts, no external resources)."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    slugger = Slugger()

    def heading_open(self, tokens, idx, options, env):  # type: ignore[no-untyped-def]
        inline = tokens[idx + 1]
        text = "".join(c.content for c in (inline.children or [])
                       if c.type in ("text", "code_inline"))
        tokens[idx].attrSet("id", slugger.slug(text))
        return self.renderToken(tokens, idx, options, env)

    def fence(self, tokens, idx, options, env):  # type: ignore[no-untyped-def]
        tok = tokens[idx]
        words = tok.info.split()
        kind = words[0] if words else ""
        body = tok.content.rstrip("\n")
        code = _diff_html(body) if kind == "diff" else _escape(body)
        label = _LABELS.get(kind, kind)
        pre = f'<pre><code class="language-{_escape(kind)}">{code}</code></pre>'
        nlines = body.count("\n") + 1
        if WHOLE_FILE in words[1:] and nlines > 20:
            pre = (f"<details><summary>show the command that writes the whole file "
                   f"({nlines} lines)</summary>{pre}</details>")
        head = f'<div class="label">{_escape(label)}</div>' if label else ""
        return f'<div class="block {_escape(kind)}">{head}{pre}</div>\n'

    md.add_render_rule("heading_open", heading_open)
    md.add_render_rule("fence", fence)
    body = md.render(markdown)
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{_escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
            f"<main>\n{body}</main>\n</body>\n</html>\n")
