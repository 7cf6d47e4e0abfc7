"""The runbook as Markdown: the head, the contents, one section per step, the fixed sections."""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Sequence, Set

from ..changes import Change, Preview
from ..guides import named
from .blocks import APPLY, BACKUP, ROLLBACK, VERIFY, Block
from .sections import answers_table, appendix, clients, dns, final_tests, intro
from .steps import BATCH_WHY, Doc
from .text import code_span, fence, headings, prose

if TYPE_CHECKING:  # pragma: no cover
    from ..engine import Engine, StepPlan


def md_blocks(blocks: Sequence[Block]) -> List[str]:
    out: List[str] = []
    for b in blocks:
        info = b.kind + (" " + b.extra if b.extra else "")
        out += fence(info, "\n".join(x.rstrip("\n") for x in b.lines))
    return out


def change_section(d: Doc, number: str, change: Change, pv: Preview,
                   changed_here: Set[str]) -> List[str]:
    rendered = d.render_change(change, pv, changed_here)
    out = [f"### {number} {prose(pv.title)}", ""]
    note = d.section_note(change, pv)
    if note:
        out += [f"*{prose(note)}*", ""]
    for item in rendered.items:
        out += md_blocks([item]) if isinstance(item, Block) else [item, ""]
    return out


def step(d: Doc, n: int, sp: StepPlan) -> List[str]:
    r = sp.recipe
    out = [f"## {n}. {prose(r.title or r.id)}", ""]
    meta = f"Step id {code_span(r.id)}"
    if r.optional:
        meta += " (optional)"
    out += [meta + ".", ""]
    if r.summary:
        out += [prose(r.summary.strip()), ""]
    if r.guide:
        out += [f"**Guide:** follows {prose(named(r.guide))}.", ""]
    notes = r.outdated_for(d.platform)
    if notes:
        out += ["**Where that guide is out of date:**", ""]
        out += [f"- {prose(x)}" for x in notes] + [""]
    if not sp.enabled:
        out += ["**Skipped:** this step is turned off in the answers, so it changes nothing. "
                "To include it, turn it on (under `steps:` for the optional steps) and "
                "generate the runbook again.", ""]
        return out
    if sp.error:
        out += [f"**This step could not be planned:** {prose(sp.error)}", "",
                "Fix the answers (or the system) and generate the runbook again; the later "
                "steps assume this one was done.", ""]
        return out
    if not sp.changes:
        out += ["This step changes nothing: it only checks the system (see below).", ""]
    changed = sp.changed
    if sp.changes:
        out += [f"This step makes {len(sp.changes)} change"
                f"{'s' if len(sp.changes) != 1 else ''} ({changed} needed on a fresh "
                "server):", ""]
        out += [f"{i}. {prose(pv.title)}{'' if pv.changed else ' (changes nothing here)'}"
                for i, pv in enumerate(sp.previews, 1)] + [""]
    backup = d.backup_block(sp)
    if backup:
        out += ["### Back up first", "",
                "Copy the files this step changes, so you can put them back:", ""]
        out += fence(BACKUP, backup)
    changed_here: Set[str] = set()
    pairs = list(zip(sp.changes, sp.previews))
    i = 0
    while i < len(pairs):
        change, pv = pairs[i]
        # consecutive changes of one batch (directories) read better as one block
        batch = d.form(change, pv).batch
        j = i
        while (j + 1 < len(pairs) and batch and not pv.note
               and d.form(*pairs[j + 1]).batch == batch and not pairs[j + 1][1].note):
            j += 1
        if j > i:
            cmds = [c for c2, p2 in pairs[i:j + 1] for c in d.form(c2, p2).do]
            out += [f"### {n}.{i + 1}\u2013{n}.{j + 1} {batch}", "",
                    BATCH_WHY.get(batch, "In order:"), ""]
            out += fence(APPLY, "\n".join(cmds))
            for c, p2 in pairs[i:j + 1]:
                if p2.changed:
                    changed_here.update(c.touched_paths())
            i = j + 1
            continue
        out += change_section(d, f"{n}.{i + 1}", change, pv, changed_here)
        if pv.changed:
            changed_here.update(change.touched_paths())
        i += 1
    checks, own = d.manual_checks(sp)
    out += ["### Check by hand", ""]
    if checks:
        out += ["These commands change nothing; compare their output with the changes above:"
                if not own else "These commands change nothing:", ""]
        out += fence(VERIFY, "\n".join(checks))
    out += [f"`mailwizard verify --step {r.id}` runs this step's automatic checks.", ""]
    undo = d.rollback_lines(sp)
    out += ["### Roll back by hand", ""]
    if undo:
        src = "the copies come from the back-up block; " if backup else ""
        out += [f"Undo in this order ({src}`mailwizard rollback --step {r.id}` does the same "
                "from its own journal):", ""]
        out += fence(ROLLBACK, "\n".join(undo))
    else:
        out += ["Nothing to undo: this step changes nothing.", ""]
    return out


def render_markdown(engine: Engine) -> str:
    """The whole runbook as Markdown (reproducible: no dates, no secrets)."""
    d = Doc(engine)
    plans = engine.plan()
    a, p = d.answers, d.platform
    head = [f"# Mail server runbook: {a.hostname} on {p.name}", "",
            f"Platform: **{p.name}** ({code_span(p.id)}), Postfix "
            f"{'.'.join(map(str, p.postfix_version))}, Dovecot "
            f"{'.'.join(map(str, p.dovecot_version))}, packages with {p.pkg_manager}. "
            f"{len(plans)} steps, generated by `mailwizard docs` (a dry run: nothing was "
            "changed anywhere).", ""]
    failed = [sp.id for sp in plans if sp.error]
    if failed:
        head += [f"**Warning: {len(failed)} step(s) could not be planned ("
                 f"{', '.join(failed)}); this runbook is incomplete.**", ""]
    body: List[str] = []
    body += intro(d)
    body += answers_table(d)
    for n, sp in enumerate(plans, 1):
        body += step(d, n, sp)
    body += clients(d)
    body += dns(d)
    body += final_tests(d)
    body += appendix(d)
    # contents: the level-2 headings with the anchors a renderer will give them
    draft = "\n".join(head + ["## Contents", ""] + body)
    toc = [f"- [{text}](#{anchor})" for level, text, anchor in headings(draft) if level == 2
           and text != "Contents"]
    text = "\n".join(head + ["## Contents", ""] + toc + [""] + body).rstrip("\n") + "\n"
    for s in d.secrets:
        if s:
            text = text.replace(s, "********")
    return text

