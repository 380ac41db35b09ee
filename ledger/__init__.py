"""福分 ledger: double-entry, append-only, idempotent, audited. No Flask in here.

Every function takes the caller's SQLAlchemy ``Session`` (or ``Connection``) first and never
commits; the caller commits once at its boundary. See docs/ledger.md.
"""

from ledger import ddl as _ddl  # noqa: F401  (installs triggers/functions on create_all)
from ledger.accounts import (
    available,
    balance,
    balance_as_of,
    balances,
    close_account,
    community_fund,
    find_account,
    get_account,
    merchant_account,
    open_account,
    org_account,
    pending_holds,
    statement,
    system_account,
    user_account,
)
from ledger.audit import append_event
from ledger.checkpoints import (
    checkpoint,
    communities,
    generate_key,
    latest_checkpoint,
    load_private_key,
    totals,
)
from ledger.errors import LedgerError
from ledger.posting import (
    capture,
    expire_holds,
    hold,
    issue,
    post,
    post_many,
    reverse,
    transfer,
    void,
)
from ledger.types import (
    AccountInfo,
    Actor,
    HoldResult,
    LedgerConfig,
    Posting,
    PostResult,
    StatementLine,
    StatementPage,
    config,
    configure,
    python_path,
)
from ledger.verify import Report, verify

__all__ = [
    "AccountInfo",
    "Actor",
    "HoldResult",
    "LedgerConfig",
    "LedgerError",
    "Posting",
    "PostResult",
    "Report",
    "StatementLine",
    "StatementPage",
    "append_event",
    "available",
    "balance",
    "balance_as_of",
    "balances",
    "capture",
    "checkpoint",
    "close_account",
    "communities",
    "community_fund",
    "config",
    "configure",
    "expire_holds",
    "find_account",
    "generate_key",
    "get_account",
    "hold",
    "issue",
    "latest_checkpoint",
    "load_private_key",
    "merchant_account",
    "open_account",
    "org_account",
    "pending_holds",
    "post",
    "post_many",
    "python_path",
    "reverse",
    "statement",
    "system_account",
    "totals",
    "transfer",
    "user_account",
    "verify",
    "void",
]
