"""Change types: the units a recipe plans and the engine applies, journals and undoes.

The protocol, the preview and the registry live in :mod:`.base`; the change types by
subject in :mod:`.files`, :mod:`.tree`, :mod:`.keys`, :mod:`.edits`, :mod:`.commands`,
:mod:`.packages`, :mod:`.services` and :mod:`.accounts`. Importing this package registers
every journaled type, so any process that imports it can undo every journal entry.
"""

from __future__ import annotations

from typing import Tuple

from ..errors import ExecutorError
from ..executor import sha256
from ..platforms import stock_file
from .accounts import (
    ACCOUNT_FILES,
    UserGroup,
    accounts_added,
    remove_added_accounts,
    restore_account_backups,
    save_account_files,
)
from .base import (
    CHANGE_TYPES,
    LEGACY_TYPES,
    BackupStore,
    Change,
    ChangeContext,
    Preview,
    Record,
    ShellForm,
    View,
    change_types,
    editor_type,
    journal_type,
    quote_argv,
    register,
    unified_diff,
)
from .commands import Command, Note
from .edits import (
    AliasEntries,
    DovecotSettings,
    MasterService,
    PostfixParams,
    ShellVars,
)
from .files import FileChange, FileWrite, GeneratedFile, Validator
from .keys import KeySource, PrivateKeyFile
from .mailboxes import RemoveUser, SetPassword
from .packages import (
    PACKAGE_LOCKS,
    PACKAGE_PIDFILES,
    Packages,
    etc_snapshot,
    package_manager_busy,
    wait_for_package_manager,
)
from .secret_file import SecretFile
from .services import (
    DIRECT,
    ConfiguredService,
    Service,
    SystemdDropIn,
    Validate,
    fingerprint,
    service_manager,
)
from .tree import Directory, Snapshot

JOURNALED: Tuple[type, ...] = (
    # files
    FileWrite, GeneratedFile, Snapshot, Directory,
    # structured edits (each owns the inverse its journal's ``editor`` names)
    PostfixParams, MasterService, DovecotSettings, ShellVars, AliasEntries,
    # commands, packages, services, accounts
    Command, Packages, Service, UserGroup,
    # mail accounts changed after the install (mailwizard user ...)
    SetPassword, RemoveUser,
)
"""Every change type the journal holds, registered here and nowhere else: an entry stores
the type's name and its record, and undo needs nothing more (not the recipes, not the plan).
Subclasses (ConfiguredService, SystemdDropIn, PrivateKeyFile, SecretFile) are journaled
under these names; Note and Validate never make an entry."""

for _cls in JOURNALED:
    register(_cls)

__all__ = [
    "ACCOUNT_FILES", "CHANGE_TYPES", "DIRECT", "JOURNALED", "LEGACY_TYPES", "PACKAGE_LOCKS",
    "PACKAGE_PIDFILES", "accounts_added", "AliasEntries", "BackupStore", "Change",
    "change_types", "ChangeContext", "Command", "ConfiguredService", "Directory",
    "DovecotSettings", "editor_type", "etc_snapshot", "ExecutorError", "FileChange",
    "FileWrite", "fingerprint", "GeneratedFile", "journal_type", "KeySource", "MasterService",
    "Note", "package_manager_busy", "Packages", "PostfixParams", "Preview", "PrivateKeyFile",
    "quote_argv", "SecretFile", "Record", "register", "remove_added_accounts", "RemoveUser",
    "restore_account_backups",
    "save_account_files", "Service", "service_manager", "SetPassword", "sha256", "ShellForm",
    "ShellVars",
    "Snapshot",
    "stock_file", "SystemdDropIn", "unified_diff", "UserGroup", "Validate", "Validator",
    "View", "wait_for_package_manager",
]
