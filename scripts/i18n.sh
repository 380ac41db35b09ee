#!/bin/sh
# Translations: extract → update → compile, and a completeness check.
#   scripts/i18n.sh extract   # code + templates → translations/messages.pot
#   scripts/i18n.sh update    # extract, then merge into translations/zh_Hans_CN/.../messages.po
#   scripts/i18n.sh compile   # .po → .mo (only when missing or stale; .mo files are gitignored)
#   scripts/i18n.sh check     # list msgids without a (non-fuzzy) zh_Hans_CN translation; exit 1 if any
#   scripts/i18n.sh all       # update + compile
# Works from a clean clone with only the venv (.venv/bin/python, else $PYTHON or python3).
set -eu
cd "$(dirname "$0")/.."
if [ -n "${PYTHON:-}" ]; then PY="$PYTHON"
elif [ -x .venv/bin/python ]; then PY=.venv/bin/python
else PY=python3; fi

run() { "$PY" -c "import sys; sys.path.insert(0, '.'); from portal import i18n; $1"; }

case "${1:-all}" in
  extract) run "print(i18n.extract_messages())" ;;
  update)  run "i18n.update_catalogs()" ;;
  compile) run "[print('compiled', p) for p in i18n.compile_catalogs(force='--force' in sys.argv)]" ;;
  check)   run "
missing = i18n.untranslated()
for m in missing: print('untranslated:', m)
sys.exit(1 if missing else 0)" ;;
  all)     run "i18n.update_catalogs(); [print('compiled', p) for p in i18n.compile_catalogs()]" ;;
  *) echo "usage: $0 extract|update|compile|check|all" >&2; exit 2 ;;
esac
