"""Step 6: /etc/aliases (root's mail to the admin) and the optional virtual alias domains."""

from __future__ import annotations

from shlex import quote as q
from typing import Dict, List, Sequence, Tuple

from wizard import checks, confedit
from wizard.answers import Answers
from wizard.changes import AliasEntries, Change, FileWrite, PostfixParams
from wizard.checks import CheckResult, failed, info, passed
from wizard.executor import Executor
from wizard.platforms import Platform
from wizard.recipe import ForFamily, PlanContext, Recipe, VerifyContext

from ._postfix import ALIASES, VIRTUAL, alias_loops, map_build, map_output, map_ref

VIRTUAL_HEADER = (
    "# Virtual alias table: address on a virtual alias domain -> local user(s) or address(es).\n"
    "# Managed by mailwizard: edits here are overwritten when the wizard runs again.\n"
    "# After a hand edit run: postmap {ref}\n"
)


def alias_entries(answers: Answers) -> Dict[str, List[str]]:
    """root -> the admin, then the answers' aliases (which may override root)."""
    out: Dict[str, List[str]] = {"root": [answers.admin_user]}
    for name, targets in answers.aliases:
        out[name] = list(targets)
    return out


def virtual_enabled(answers: Answers) -> bool:
    return bool(answers.virtual_aliases) and answers.step_enabled("virtual-aliases")


def virtual_content(answers: Answers, db: str) -> str:
    width = max([len(a) for a, _ in answers.virtual_aliases] + [24])
    lines = [VIRTUAL_HEADER.format(ref=map_ref(db, VIRTUAL))]
    for address, targets in answers.virtual_aliases:
        lines.append(f"{address:<{width}} {', '.join(targets)}\n")
    return "".join(lines)


def _virtual_answers(ex: Executor, ref: str,
                     virtual: Sequence[Tuple[str, Sequence[str]]]) -> List[CheckResult]:
    """Each virtual address answers with its targets: one ``postmap -q -`` for all."""
    table = checks.map_lookup(ex, ref, [address for address, _ in virtual])
    out = []
    for address, vtargets in virtual:
        value = (table or {}).get(address, "")
        found = [t.strip() for t in value.split(",") if t.strip()]
        ok = table is not None and found == list(vtargets)
        out.append(CheckResult(f"virtual alias {address}", ok, f"-> {value or 'nothing'}",
                               "" if ok else f"run: postmap {ref}"))
    return out


class AliasesRecipe(Recipe):
    id = "aliases"
    title = "Mail aliases"
    guide = ("Guide 000, part 1 section 3.4 'Aliases'; Guide 001 'Configure alias addresses'; "
             "Guide 004 'virtual domains'")
    summary = (
        "Sends root's mail to the admin user and adds the aliases from the answers to "
        "/etc/aliases, then rebuilds the indexed copy Postfix reads. When virtual alias "
        "domains are chosen, their addresses go into /etc/postfix/virtual and Postfix is told "
        "to accept mail for those domains.")
    outdated = (
        ForFamily("el",
        "The guides build tables with hash: (Berkeley DB). EL10 has no Berkeley DB: there the "
        "tables are lmdb: and the built files end in .lmdb instead of .db."),
        "Guide 001 calls its table /etc/postfix/virtual_users and lists addresses of the main "
        "domain there. Addresses of the main domain belong in /etc/aliases; the virtual table "
        "is for the extra domains listed in virtual_alias_domains.",
    )
    touches = ("/etc/aliases", "/etc/aliases.db or .lmdb", "/etc/postfix/virtual",
               "/etc/postfix/main.cf (virtual_alias_domains, virtual_alias_maps)")

    def plan(self, ctx: PlanContext) -> List[Change]:
        db = ctx.db
        entries = alias_entries(ctx.answers)
        current = ctx.view.read_text(ALIASES)
        aliases_change = confedit.edit_aliases(current, entries) != (current or "")
        build = map_build(ctx.view, ["newaliases"], ALIASES, map_output(db, ALIASES),
                          source_changes=aliases_change,
                          description=f"rebuild {map_output(db, ALIASES)} (newaliases)")
        changes: List[Change] = [*build.before, AliasEntries(entries), *build.after]
        if virtual_enabled(ctx.answers):
            content = virtual_content(ctx.answers, db)
            current_v = ctx.view.read_text(VIRTUAL)
            ref = map_ref(db, VIRTUAL)
            vbuild = map_build(ctx.view, ["postmap", ref], VIRTUAL, map_output(db, VIRTUAL),
                               source_changes=current_v != content,
                               description=f"build {map_output(db, VIRTUAL)} (postmap)")
            changes += [
                *vbuild.before,
                FileWrite(VIRTUAL, content, mode=0o644,
                          reason="the virtual alias table from the answers"),
                *vbuild.after,
                PostfixParams({
                    "virtual_alias_domains": " ".join(ctx.answers.virtual_alias_domains),
                    "virtual_alias_maps": ref,
                }),
            ]
        return changes

    def verify(self, ctx: VerifyContext) -> List[CheckResult]:
        ex = ctx.executor
        db = ctx.platform.default_database_type
        out: List[CheckResult] = []
        table = confedit.read_aliases(ex.read_text(ALIASES))
        for name, targets in alias_entries(ctx.answers).items():
            got = table.get(name) or []
            ok = got == targets
            out.append(CheckResult(f"/etc/aliases {name}", ok, f"{name}: {', '.join(got)}",
                                   "" if ok else f"expected {name}: {', '.join(targets)}"))
        loops = alias_loops(table)
        if loops:
            out.append(failed("no alias loops", "; ".join(" -> ".join(c) for c in loops),
                              "mail caught in a loop bounces; break the cycle in /etc/aliases"))
        else:
            out.append(passed("no alias loops"))
        if not ex.which("postalias"):
            out.append(info("aliases database answers", "postfix is not installed"))
        elif ex.rehearsal:
            out.append(checks.not_checked("aliases database answers", "postalias on the server"))
        else:
            ref = map_ref(db, ALIASES)
            res = ex.run(["postalias", "-q", "root", ref], quiet=True, timeout=60)
            got_root = [t.strip() for t in res.stdout.split(",") if t.strip()]
            want = alias_entries(ctx.answers)["root"]
            ok = res.ok and got_root == want
            out.append(CheckResult(
                "aliases database answers", ok, f"postalias -q root {ref} -> "
                f"{res.stdout.strip() or res.output[-200:] or 'nothing'}",
                "" if ok else "run newaliases (the database is older than /etc/aliases?)"))
        if virtual_enabled(ctx.answers):
            ref = map_ref(db, VIRTUAL)
            out.extend(checks.main_cf_values(ex, {
                "virtual_alias_domains": " ".join(ctx.answers.virtual_alias_domains),
                "virtual_alias_maps": ref}))
            if ex.rehearsal:
                out.append(checks.not_checked("virtual aliases answer", "postmap on the server"))
            elif ex.which("postmap"):
                out.extend(_virtual_answers(ex, ref, ctx.answers.virtual_aliases))
        return out

    def manual_checks(self, answers: Answers, platform: Platform) -> List[str]:
        db = platform.default_database_type
        cmds = [f"postalias -q root {q(map_ref(db, ALIASES))}   # expect {answers.admin_user}",
                f"ls -l {q(map_output(db, ALIASES))}"]
        if virtual_enabled(answers):
            first = answers.virtual_aliases[0][0]
            cmds += [f"postmap -q {q(first)} {q(map_ref(db, VIRTUAL))}",
                     "postconf -n virtual_alias_domains virtual_alias_maps",
                     f"swaks --to {q(first)} --server localhost"]
        cmds.append(f"swaks --to {q('root@' + answers.domain)} --server localhost   # lands in "
                    f"~{answers.admin_user}/Maildir/new")
        return cmds
