"""Every model module, so ``Base.metadata`` is complete (Alembic, create_all, tests).

It sits at the top of the portal (it imports every floor); ``core`` and ``ledger`` below
know nothing of the portal.
"""

from __future__ import annotations

import ledger.models  # noqa: F401
import portal.api.models  # noqa: F401
import portal.audit.models  # noqa: F401
import portal.exchange.models  # noqa: F401
import portal.needs.models  # noqa: F401
import portal.notifications.models  # noqa: F401
import portal.people.carers  # noqa: F401
import portal.people.models  # noqa: F401
import portal.people.reports  # noqa: F401
import portal.places.models  # noqa: F401
import portal.rewards.models  # noqa: F401
import portal.roster.models  # noqa: F401
import portal.settings.models  # noqa: F401
import portal.volunteering.activities  # noqa: F401
import portal.volunteering.hours  # noqa: F401
import portal.volunteering.posts  # noqa: F401
import portal.volunteering.teams  # noqa: F401
import portal.volunteering.wishes  # noqa: F401
