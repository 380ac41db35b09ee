"""Import every model module so ``Base.metadata`` is complete (Alembic, create_all)."""

from __future__ import annotations

import importlib

MODEL_MODULES = (
    "portal.community.models",
    "portal.accounts.models",
    "portal.audit.models",
    "portal.settings.models",
    "portal.notifications.models",
    "portal.posts.models",
    "portal.teams.models",
    "portal.activities.models",
    "ledger.models",
    "portal.wishes.models",
    "portal.hours.models",
    "portal.rewards.models",
    "portal.exchange.models",
    "portal.api.models",
)

for _name in MODEL_MODULES:
    importlib.import_module(_name)
