# Sourced by scripts/run-ivr and scripts/test: a project virtualenv with the given requirements.
# Re-installs only when the requirements file changed since the last install.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${IVR_VENV:-$ROOT/.venv}"
ensure_venv() {
  local requirements="$1"
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
  fi
  local stamp="$VENV/.installed-$(basename "$requirements")"
  if [ ! -f "$stamp" ] || ! cmp -s "$ROOT/$requirements" "$stamp" \
       || { [ "$requirements" != requirements.txt ] && ! cmp -s "$ROOT/requirements.txt" "$stamp.base"; }; then
    "$VENV/bin/python" -m pip install -q -r "$ROOT/$requirements"
    cp "$ROOT/$requirements" "$stamp"
    cp "$ROOT/requirements.txt" "$stamp.base"
  fi
}
# Debian packages the scripts need, as "command:package" pairs; installs the missing ones.
ensure_debian() {
  local missing=() tool
  for tool in "$@"; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
  done
  ensure_packages "${missing[@]}"
}
ensure_packages() {
  [ "$#" -gt 0 ] || return 0
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  $sudo apt-get install -y -q "$@"
}
