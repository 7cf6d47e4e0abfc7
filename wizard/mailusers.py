"""Users and aliases after the install: ``mailwizard user|alias ...`` and the TUI's Users screen.

A request (``user add alice``) becomes one :class:`~wizard.answer_edits.AnswerEdit` of the
session's answers, validated the way an answers file is (the same validators, then the whole
new answers through :func:`~wizard.answers.parse_answers`, so alias loops, unknown targets
and the admin's account are refused with the field named). The engine then does the work:
the steps whose plan the edit changes (found by planning every step with the old and the new
answers against the target and comparing the previews: the accounts and Maildirs, the alias
maps with newaliases/postmap, the sender login map, the SASL group) are planned again with
the new answers and applied as *one* step of the session, with its own id (``user-add-3``),
journal and backups, plus the change the answers cannot express (a new password, a removed
account). ``mailwizard rollback --step user-add-3`` undoes exactly that run, byte for byte,
and puts the answers entry back. A later ``mailwizard apply`` with the session's answers has
nothing left to do.

Example::

    job = prepare(target, session, all_recipes(), Request("user add", "alice",
                  password=Secret(pw)))
    print_plan(job.plans, ...); outcome = run(job)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from .answer_edits import (
    AnswerEdit,
    entry,
    finish_edit,
    next_edit_id,
    record_edit,
    refresh_kept,
)
from .answers import Answers, check_address, check_domain, check_user, parse_answers
from .answers.accounts import check_password
from .answers.validators import ALIAS_NAME_RE, text_problem
from .changes import Change, RemoveUser, SetPassword, View
from .checks import CheckResult
from .engine import Engine, EventCallback, StepPlan, StepResult
from .errors import AnswersError, SessionError
from .recipe import PlanContext, Recipe, VerifyContext, gather_facts
from .secret import Secret
from .session import Session
from .target import Target

VERBS = ("user add", "user remove", "user passwd", "alias add", "alias remove")


@dataclass(frozen=True)
class Request:
    """What the admin asked for (from the command line or the Users screen)."""

    verb: str
    """One of :data:`VERBS`."""
    name: str
    """The user name, or the alias (a local name, an address, or ``@domain``)."""
    targets: Tuple[str, ...] = ()
    """``alias add|remove``: where the alias delivers."""
    password: Optional[Secret] = None
    """``user add|passwd``: the new password (never stored)."""
    delete_mail: bool = False
    """``user remove``: delete the home and its Maildir too."""


class EditStep(Recipe):
    """One verb's run as a step of the session: the changes of the affected steps, planned
    with the new answers in run order, then the verb's own changes."""

    optional = False

    def __init__(self, step_id: str, title: str, inner: Sequence[Recipe],
                 extra: Sequence[Change]) -> None:
        self.id = step_id
        self.title = title
        self.inner = list(inner)
        self.extra = list(extra)
        self.summary = f"{title}: " + (", ".join(r.id for r in self.inner) or "no step")

    def plan(self, ctx: PlanContext) -> List[Change]:
        # each inner step sees what the ones before it write, on a copy of the view: the
        # engine previews the whole list on ``ctx.view`` itself afterwards
        shadow = _copy_view(ctx.view)
        out: List[Change] = []
        for r in self.inner:
            changes = r.plan(PlanContext(ctx.answers, ctx.platform, ctx.facts, shadow))
            for c in changes:
                c.preview(shadow)
            out += changes
        return out + self.extra

    def verify(self, ctx: VerifyContext) -> List[CheckResult]:
        out: List[CheckResult] = []
        for r in self.inner:
            out += r.verify(ctx)
        return out


def _copy_view(view: View) -> View:
    v = View(view.executor, view.platform, view.use_stock)
    v.files = dict(view.files)
    v.from_stock = set(view.from_stock)
    v.dirs, v.users = set(view.dirs), set(view.users)
    v.groups, v.packages = set(view.groups), set(view.packages)
    return v


@dataclass
class Job:
    """A validated request, planned: show :attr:`plans`, then :func:`run` it."""

    request: Request
    step_id: str
    edit: Optional[AnswerEdit]
    new_raw: Dict[str, Any]
    answers: Answers
    engine: Engine
    plans: List[StepPlan]
    affected: List[str] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return sum(p.changed for p in self.plans)


@dataclass
class Outcome:
    result: StepResult
    checks: List[CheckResult] = field(default_factory=list)


# --------------------------------------------------------------------------- validation
def _name_problem(req: Request) -> Optional[str]:
    if not isinstance(req.name, str) or (msg := text_problem(req.name)):
        return msg or "must be text"
    if req.verb.startswith("user"):
        return check_user(req.name)
    name = req.name
    if name != name.strip() or name != name.lower():
        return f"{name!r}: write the alias in lower case without spaces"
    if name.startswith("@"):
        msg = check_domain(name[1:])
        return f"catch-all domain {msg}" if msg else None
    if "@" in name:
        return check_address(name)
    if not ALIAS_NAME_RE.fullmatch(name):
        return (f"{name!r} is not a valid alias name (lower-case letters, digits and . _ + -, "
                "a letter or digit first)")
    return None


def build_edit(raw: Dict[str, Any], req: Request, existing: Optional[Set[str]]
               ) -> Tuple[Optional[AnswerEdit], Dict[str, Any], Answers]:
    """The edit ``req`` makes to the raw answers, the new raw answers, and the new answers
    validated as a whole (with the new password, for the engine's secrets).

    Raises:
        AnswersError: every problem, by field (``name``, ``targets``, ``password``, or the
            answers field the new answers break, such as ``admin_user``).
    """
    errors: List[Tuple[str, str]] = []
    if req.verb not in VERBS:
        raise AnswersError([("verb", f"{req.verb!r} is not one of: {', '.join(VERBS)}")])
    if (msg := _name_problem(req)):
        pw = _password_errors(req.password) if req.verb in ("user add", "user passwd") else []
        raise AnswersError([("name", msg), *pw])
    name = req.name
    existing_after = set(existing) if existing is not None else None
    edit: Optional[AnswerEdit] = None
    users_entry = entry(raw, "users", name)
    if req.verb == "user add":
        if users_entry is not None:
            errors.append(("name", f"{name} is a mail user already"))
        elif existing is not None and name in existing:
            errors.append(("name", f"an account {name} exists on this server already (not a "
                                   "mail user of the answers); choose another name"))
        errors += _password_errors(req.password)
        edit = AnswerEdit("users", name, None, {"name": name, "create": True})
    elif req.verb == "user remove":
        if users_entry is None:
            errors.append(("name", f"{name} is not a mail user of the answers"))
        elif not users_entry.get("create"):
            errors.append(("name", f"{name}'s account was on this server before mailwizard "
                                   "(create: false): mailwizard removes only accounts it "
                                   "created"))
        else:
            edit = AnswerEdit("users", name, users_entry, None)
            if existing_after is not None:
                existing_after.discard(name)
    elif req.verb == "user passwd":
        if users_entry is None:
            errors.append(("name", f"{name} is not a mail user of the answers"))
        elif existing is not None and name not in existing:
            errors.append(("name", f"there is no account {name} on this server"))
        errors += _password_errors(req.password)
    else:
        section = "virtual_aliases" if "@" in name else "aliases"
        before = entry(raw, section, name)
        targets = list(req.targets)
        for t in targets:
            if not isinstance(t, str) or (msg := text_problem(t)) or t != t.strip() or not t:
                errors.append(("targets", f"{t!r}: {msg or 'no spaces around a target'}"))
        if len(set(targets)) != len(targets):
            errors.append(("targets", "a target is listed twice"))
        if req.verb == "alias add":
            if not targets:
                errors.append(("targets", "name at least one target"))
            after = list(before or []) + [t for t in targets if t not in (before or [])]
            if before is not None and after == before:
                errors.append(("targets", f"{name} already delivers to "
                                          f"{', '.join(targets)}"))
        else:
            if before is None:
                errors.append(("name", f"{name} is not an alias of the answers"))
            missing = [t for t in targets if t not in (before or [])]
            if before is not None and missing:
                errors.append(("targets", f"{name} does not deliver to {', '.join(missing)}"))
            after = [t for t in (before or []) if t not in targets] if targets else []
        edit = AnswerEdit(section, name, before, after or None)
    if errors:
        raise AnswersError(errors)
    new_raw = edit.apply(raw) if edit is not None else dict(raw)
    checked = new_raw
    if req.verb == "user add" and req.password is not None:
        # validated (and handed to the engine) with the password; stored without it
        checked = AnswerEdit("users", name, None, {"name": name, "create": True,
                                                   "password": req.password.reveal()}
                             ).apply(raw)
    answers = parse_answers(checked, existing_after)
    return edit, new_raw, answers


def _password_errors(pw: Optional[Secret]) -> List[Tuple[str, str]]:
    if pw is None:
        return [("password", "is needed (on the command line: the prompt, "
                             "--password-stdin or --password-file)")]
    msg = check_password(pw.reveal())
    return [("password", msg)] if msg else []


# --------------------------------------------------------------------------- planning
def _plan_key(sp: StepPlan) -> Tuple[Any, ...]:
    return (sp.enabled, sp.error, tuple(
        (p.kind, p.title, p.diff, tuple(p.commands), p.note, p.changed, p.path)
        for p in sp.previews))


def prepare(target: Target, session: Session, recipes: Sequence[Recipe], req: Request,
            on_event: Optional[EventCallback] = None) -> Job:
    """Validate ``req`` against the session's answers and plan its run (pure: nothing on
    the target changes; the session is only read).

    Raises:
        AnswersError: the request, or the answers it leads to, are not valid (by field).
        SessionError: no answers in the session, or a step the request needs is not applied
            on this server yet.
    """
    raw = session.answers
    if not raw:
        raise SessionError(f"no answers in the session in {target.state_dir}: set the server "
                           "up with mailwizard apply first")
    existing = target.existing_users()
    old = parse_answers(raw, existing)
    edit, new_raw, new = build_edit(raw, req, existing)
    facts = gather_facts(target.executor, target.platform, dry_run=target.dry_run)

    def plans_for(answers: Answers) -> List[StepPlan]:
        return Engine(answers, target.platform, target.executor, recipes=recipes,
                      facts=facts).plan()

    before = {p.recipe.id: _plan_key(p) for p in plans_for(old)}
    affected: List[Recipe] = []
    for sp in plans_for(new):
        if not sp.enabled or before.get(sp.recipe.id) == _plan_key(sp):
            continue
        if sp.error:
            raise SessionError(f"step {sp.recipe.id} cannot be planned with the new "
                               f"answers: {sp.error}")
        if session.step_status(sp.recipe.id) not in ("applied", "verified"):
            raise SessionError(f"step {sp.recipe.id} is not applied on this server yet "
                               f"({session.step_status(sp.recipe.id)}): finish the install "
                               "with mailwizard apply first")
        affected.append(sp.recipe)
    extra: List[Change] = []
    if req.verb == "user passwd":
        extra.append(SetPassword(req.name))
    elif req.verb == "user remove":
        home = target.executor.users().get(req.name, (0, 0, f"/home/{req.name}"))[2]
        extra.append(RemoveUser(req.name, home or f"/home/{req.name}", req.delete_mail))
    step_id = next_edit_id(session, req.verb)
    title = f"{req.verb} {req.name}" + (f" {' '.join(req.targets)}" if req.targets else "")
    step = EditStep(step_id, title, affected, extra)
    engine = Engine(new, target.platform, target.executor, session=session, recipes=[step],
                    facts=facts, on_event=on_event)
    if req.password is not None:
        engine.secrets[req.name] = req.password
    plans = engine.plan()
    return Job(req, step_id, edit, new_raw, new, engine, plans, [r.id for r in affected])


def run(job: Job, verify: bool = True, probe_host: str = "127.0.0.1") -> Outcome:
    """Apply a prepared job as one step of the session: the answers edit is recorded first
    (with the new answers), then the engine applies and journals; a failure undoes the
    step's changes and puts the answers back."""
    session = job.engine.session
    assert session is not None
    record_edit(session, job.step_id, job.request.verb, job.edit, job.new_raw)
    results = job.engine.apply([job.step_id])
    res = results[0]
    finish_edit(session, job.step_id, res.status == "applied")
    out = Outcome(res)
    if res.status == "applied":
        refresh_kept(session)
        if verify:
            out.checks = job.engine.verify([job.step_id], probe_host=probe_host).get(
                job.step_id, [])
    return out
