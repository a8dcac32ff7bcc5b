# Shared by scripts/serve and scripts/test: create .venv and install the project.
# Usage: [KEFU_EXTRAS=dev] . scripts/_venv.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
EXTRAS="${KEFU_EXTRAS:-}"
STAMP=".venv/.kefu-installed${EXTRAS:+-$EXTRAS}"
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
  echo "kefu: installing the project into .venv ..." >&2
  TARGET="."
  if [ -n "$EXTRAS" ]; then TARGET=".[$EXTRAS]"; fi
  # (pip's warnings about this machine's unreachable local indexes are noise: filtered)
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$TARGET" \
    2> >(grep -v -e "is ignored: it is neither" -e "BuildBackendWarning" -e "^  " >&2)
  touch "$STAMP"
fi
