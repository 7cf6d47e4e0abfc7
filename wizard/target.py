"""The composition root: options -> platform, root and executor -> answers, session -> engine.

Both front ends open what they work on here, the same way: the headless verbs
(:mod:`wizard.cli`) and the TUI (:func:`screens.app.run_app`, which receives an opened
:class:`Target` from the entry point). The steps are not imported here: whoever builds an
engine passes its recipes in (the entry point passes ``recipes.all_recipes()``).

Example::

    target = open_target(TargetOptions(platform="debian12", dry_run=True))
    engine = target.engine(target.load_answers("demo"), recipes=all_recipes())
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, Sequence, Set, Union

from . import pemkey
from .errors import AnswersError, PlatformError, SessionError, UsageError
from .executor import DryRunExecutor, Executor
from .platforms import Platform, detect_platform, get_platform

# The answers model, the engine and the session are imported where they are used: the
# interactive wizard opens its target before its first screen, and needs none of them then
# (issue 13: the first screen within 1.5x of a bare Textual app's start).
if TYPE_CHECKING:
    from .answers import Answers
    from .engine import Engine, EventCallback
    from .recipe import Recipe
    from .rehearsal import Scratch
    from .session import Session


@dataclass(frozen=True)
class TargetOptions:
    """The options that choose the target (the CLI's ``--root``, ``--platform``, ...)."""

    root: Optional[str] = None
    """Target root directory; None means ``/`` (and a throwaway root for a foreign platform)."""
    platform: Optional[str] = None
    """A platform id; None means detect it from the root."""
    state_dir: Optional[str] = None
    """Session directory; None means ``<root>/var/lib/mailwizard``."""
    dry_run: bool = False
    verb: Optional[str] = None
    """The verb (``apply``, ``docs``, ...; None for the TUI): a foreign platform can only be
    planned or documented, never applied or rolled back."""
    rehearse: bool = False
    """A rehearsal (:mod:`wizard.rehearsal`): the target is a scratch copy of a fresh server
    of the platform (``state_dir`` names its directory), changed for real; this machine is
    never touched."""

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> TargetOptions:
        return cls(root=args.root, platform=args.platform, state_dir=args.state_dir,
                   dry_run=bool(args.dry_run), verb=args.verb,
                   rehearse=bool(getattr(args, "rehearse", False)))


def state_dir_for(root: Optional[str], state_dir: Optional[str]) -> Path:
    """Where the session lives: ``state_dir``, else ``<root>/var/lib/mailwizard``."""
    return Path(state_dir) if state_dir else Path(root or "/") / "var/lib/mailwizard"


class Target:
    """An opened target: its platform, root, executor and session directory.

    Build it with :func:`open_target`. Keep it alive while its executor is used: for a dry
    run of a foreign platform it owns the temporary root."""

    def __init__(self, platform: Platform, root: Path, executor: Executor, state_dir: Path,
                 dry_run_reason: str = "",
                 tmp: Optional[tempfile.TemporaryDirectory] = None,  # type: ignore[type-arg]
                 scratch: Optional[Scratch] = None) -> None:
        self.platform = platform
        self.root = root
        self.executor = executor
        self.state_dir = state_dir
        self.dry_run_reason = dry_run_reason
        """Why nothing is changed (``--dry-run``, or the platform is not this system)."""
        self._tmp = tmp
        self.scratch = scratch
        """The rehearsal's scratch directory (None: not a rehearsal)."""

    @property
    def dry_run(self) -> bool:
        return self.executor.dry_run

    @property
    def rehearsal(self) -> bool:
        return self.scratch is not None

    def existing_users(self) -> Optional[Set[str]]:
        """Accounts on the target (None in a dry run: nothing is known about it)."""
        return None if self.dry_run else set(self.executor.users())

    def load_answers(self, answers_file: Optional[str]) -> Answers:
        """The validated answers: from ``answers_file`` (``demo`` for the built-in example)
        or, without one, from the session to resume.

        Raises:
            AnswersError: invalid answers, or none to be found.
        """
        from .answers import demo_answers_path, load_answers, parse_answers

        existing = self.existing_users()
        if answers_file:
            path = str(demo_answers_path()) if answers_file == "demo" else answers_file
            return load_answers(Path(path), existing)
        if not (self.state_dir / "session.yaml").exists():
            raise AnswersError([("--answers", "no answers file given and no session "
                                              f"in {self.state_dir} to resume")])
        from .session import Session

        s = Session.open(self.state_dir, lock=False)
        if not s.answers:
            raise AnswersError([("--answers", "the session holds no answers")])
        return parse_answers(s.answers, existing)

    def open_session(self, check_platform: bool = True,
                     note: Optional[Callable[[str], None]] = None) -> Session:
        """Open (and lock) the session; ``note`` hears what a recovery repaired.

        Raises:
            LockHeld: another wizard holds the session.
            SessionError: the session belongs to another platform (``check_platform``).
        """
        from .session import Session

        session = Session.open(self.state_dir)
        if not self.dry_run and not self.rehearsal:
            pemkey.use_state_dir(self.state_dir, writable=True)  # under the session's lock
        if session.recovered and note is not None:
            note(session.recovered)
        if check_platform and session.platform_id and session.platform_id != self.platform.id:
            session.close()
            raise SessionError(f"the session in {self.state_dir} is for "
                               f"{session.platform_id}, not {self.platform.id}")
        return session

    def engine(self, answers: Answers, recipes: Sequence[Recipe],
               session: Optional[Session] = None,
               on_event: Optional[EventCallback] = None) -> Engine:
        """The engine for ``answers`` running ``recipes`` here (reads facts from the target)."""
        from .engine import Engine

        return Engine(answers, self.platform, self.executor, session=session,
                      recipes=recipes, on_event=on_event)


def open_target(options: TargetOptions) -> Target:
    """Resolve the options: platform (given or detected), root, executor, session directory.

    A platform other than this system's means a dry run (and, without ``--root``, a
    throwaway root, so a plan or runbook describes a fresh server and never reads this
    machine's /etc); ``apply`` and ``rollback`` refuse it instead.

    Raises:
        PlatformError: unknown platform, undetectable system, or a foreign platform for a
            verb that changes the target.
    """
    if options.rehearse and options.verb != "docs":
        return open_rehearsal(options.platform, options.state_dir, options.root)
    dry_run = options.dry_run
    root = Path(options.root or "/")
    tmp = None
    reason = "--dry-run" if dry_run else ""
    if options.platform:
        platform = get_platform(options.platform)
        try:
            detected: Optional[Platform] = detect_platform(root)
        except PlatformError:
            detected = None
        generic = options.verb == "docs" or dry_run
        if detected is None or detected.id != platform.id or (
                generic and options.root is None):
            if options.verb in ("apply", "rollback") and not dry_run:
                raise PlatformError(
                    f"--platform {platform.id} does not match this system "
                    f"({detected.name if detected else 'unknown'}); a different platform "
                    "can only be planned or documented (--dry-run)")
            if not dry_run:
                reason = f"{platform.id} is not this system"
            dry_run = True
            if options.root is None:
                # a dry run / runbook for a platform describes a fresh server: plan
                # against the stock files only, never this machine's /etc
                tmp = tempfile.TemporaryDirectory(prefix="mailwizard-dry-")
                root = Path(tmp.name)
    else:
        platform = detect_platform(root)
    executor = DryRunExecutor(root) if dry_run else Executor(root)
    state_dir = Path(options.state_dir) if options.state_dir else root / "var/lib/mailwizard"
    pemkey.use_state_dir(None if dry_run else state_dir)
    return Target(platform, root, executor, state_dir, reason, tmp)


def rehearsal_platform(platform: Union[str, Platform, None]) -> Platform:
    """The platform a rehearsal stands in for: the one given, else this machine's.

    Raises:
        PlatformError: unknown platform, or none given on a machine mailwizard cannot tell.
    """
    if isinstance(platform, Platform):
        return platform
    if platform:
        return get_platform(platform)
    try:
        return detect_platform(Path("/"))
    except PlatformError as exc:
        raise PlatformError(f"{exc}; choose the platform to rehearse with --platform "
                            "(e.g. rocky9, debian12)") from exc


def open_rehearsal(platform: Union[str, Platform, None] = None, state_dir: Optional[str] = None,
                   root: Optional[str] = None) -> Target:
    """A rehearsal's target: the scratch copy of a fresh ``platform`` server in
    ``state_dir`` (default ``$TMPDIR/mailwizard-rehearsal-<platform>``), built on first use
    and resumed afterwards (:func:`wizard.rehearsal.open_scratch`).

    Raises:
        UsageError: ``root`` given (a rehearsal has its own), or ``state_dir`` is not a
            rehearsal's directory of this platform.
        PlatformError: see :func:`rehearsal_platform`.
    """
    if root:
        raise UsageError("--rehearse works on a scratch copy of its own: drop --root")
    from .rehearsal import open_scratch

    plat = rehearsal_platform(platform)
    scratch = open_scratch(plat, Path(state_dir) if state_dir else None)
    return Target(plat, scratch.root, scratch.executor, scratch.state_dir, scratch=scratch)
