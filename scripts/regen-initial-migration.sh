#!/bin/sh
# Development helper, used only before the first release: rebuild the single initial
# migration from the models (nothing has been deployed yet, so there is no history to
# keep). After the first release, every schema change is a new revision instead.
set -eu
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
rm -f migrations/versions/*_initial_schema.py
DATABASE_URL="sqlite:///$tmp/regen.db" .venv/bin/flask --app app db revision -m "initial schema" >/dev/null
f=$(ls migrations/versions/*_initial_schema.py)
.venv/bin/python - "$f" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
s = s.replace("from __future__ import annotations\n", "from __future__ import annotations\n\nimport re\n", 1)
s = s.replace("import core.db  # noqa: F401  (custom column types such as core.db.UTCDateTime)\n",
              "import core.db  # noqa: F401  (custom column types such as core.db.UTCDateTime)\n"
              "from ledger import ddl as ledger_ddl\n", 1)
head, tail = s.split("def downgrade() -> None:\n", 1)
head = head.rstrip() + ("\n    # Ledger immutability triggers and PostgreSQL posting functions (idempotent).\n"
                        "    ledger_ddl.install(op.get_bind())\n\n\n")
tail = tail.rstrip() + ("\n    if op.get_bind().dialect.name == \"postgresql\":\n"
                        "        names = re.findall(r\"CREATE OR REPLACE FUNCTION (\\w+)\", \"\".join(ledger_ddl.PG_FUNCTIONS))\n"
                        "        for fn in reversed(names):\n"
                        "            op.execute(f\"DROP FUNCTION IF EXISTS {fn} CASCADE\")\n")
open(p, "w").write(head + "def downgrade() -> None:\n" + tail)
PY
rm -rf "$tmp"
echo "regenerated $f"
