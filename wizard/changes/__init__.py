"""Change types: the units a recipe plans and the engine applies, journals and undoes.

The protocol, the preview and the registry live in :mod:`.base`; the change types by
subject in :mod:`.files`, :mod:`.edits`, :mod:`.commands`, :mod:`.packages`,
:mod:`.services` and :mod:`.accounts`. Importing this package registers every journaled
type, so any process that imports it can undo every journal entry.
"""

from __future__ import annotations

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
    journal_type,
    quote_argv,
    register,
    unified_diff,
)
from .commands import Command, Note
from .edits import (
    INVERSE,
    AliasEntries,
    DovecotSettings,
    MasterService,
    PostfixParams,
    ShellVars,
)
from .files import (
    Directory,
    FileChange,
    FileWrite,
    GeneratedFile,
    KeySource,
    PrivateKeyFile,
    Snapshot,
    Validator,
)
from .packages import (
    PACKAGE_LOCKS,
    PACKAGE_PIDFILES,
    Packages,
    etc_snapshot,
    package_manager_busy,
    wait_for_package_manager,
)
from .services import (
    DIRECT,
    ConfiguredService,
    Service,
    SystemdDropIn,
    Validate,
    fingerprint,
    service_manager,
)

__all__ = [
    "ACCOUNT_FILES", "CHANGE_TYPES", "DIRECT", "INVERSE", "LEGACY_TYPES", "PACKAGE_LOCKS",
    "PACKAGE_PIDFILES", "AliasEntries", "BackupStore", "Change", "ChangeContext", "Command",
    "ConfiguredService", "Directory", "DovecotSettings", "ExecutorError", "FileChange",
    "FileWrite", "GeneratedFile", "KeySource", "MasterService", "Note", "Packages",
    "PostfixParams", "Preview", "PrivateKeyFile", "Record", "Service", "ShellForm",
    "ShellVars", "Snapshot",
    "SystemdDropIn", "UserGroup", "Validate", "Validator", "View", "accounts_added",
    "change_types", "etc_snapshot", "fingerprint", "journal_type", "package_manager_busy",
    "quote_argv", "register", "remove_added_accounts", "restore_account_backups",
    "save_account_files", "service_manager", "sha256", "stock_file", "unified_diff",
    "wait_for_package_manager",
]
