"""Dry-run documentation: render the plan for a platform and answers as a Markdown runbook."""

from __future__ import annotations

from typing import TYPE_CHECKING, List

if TYPE_CHECKING:  # pragma: no cover
    from .engine import Engine


def render_markdown(engine: Engine) -> str:
    plans = engine.plan()
    p = engine.platform
    out: List[str] = [f"# Mail server runbook: {engine.answers.hostname} on {p.name}", ""]
    out.append("| answer | value |")
    out.append("|---|---|")
    for label, value in engine.answers.summary():
        out.append(f"| {label} | {value} |")
    out.append("")
    for n, sp in enumerate(plans, 1):
        r = sp.recipe
        out.append(f"## {n}. {r.title}")
        out.append("")
        if not sp.enabled:
            out.append("Skipped: turned off in the answers.")
            out.append("")
            continue
        if r.summary:
            out += [r.summary, ""]
        for pv in sp.previews:
            out.append(f"### {pv.title}")
            if pv.note:
                out.append(f"_{pv.note}_")
            out.append("")
            if pv.diff:
                out += ["```diff", pv.diff.rstrip("\n"), "```", ""]
            for cmd in pv.commands:
                out += ["```sh", cmd, "```", ""]
    return "\n".join(out) + "\n"


def render_runbook(engine: Engine, fmt: str = "markdown") -> str:
    text = render_markdown(engine)
    if fmt == "html":
        from rich.console import Console
        from rich.markdown import Markdown

        console = Console(record=True, width=100, file=open("/dev/null", "w"))  # noqa: SIM115
        console.print(Markdown(text))
        return console.export_html(inline_styles=True)
    return text
