#!/usr/bin/env bash
# One-command set-up: finds Python 3.10, creates .venv/ at the repository root,
# installs the pinned set (requirements.lock) and the project in editable mode.
# Idempotent: a second run checks the lock's fingerprint and returns at once.
#   ./setup.sh            set up (or verify) the environment
#   ./setup.sh --browser  also install Chromium + ChromeDriver (report test)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$ROOT/.venv"
LOCK="$ROOT/requirements.lock"
STAMP="$VENV/.croptfx-installed"
WANT_BROWSER=0
for arg in "$@"; do
  case "$arg" in
    --browser) WANT_BROWSER=1 ;;
    *) echo "setup.sh: unknown option $arg (use --browser)" >&2; exit 2 ;;
  esac
done

find_python310() {
  if command -v python3.10 >/dev/null 2>&1 && python3.10 -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
    command -v python3.10; return 0
  fi
  if command -v pyenv >/dev/null 2>&1; then
    local v
    v="$(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.[0-9]+)?$' | sort -V | tail -n 1 || true)"
    if [ -n "$v" ] && [ -x "$(pyenv root)/versions/$v/bin/python3.10" ]; then
      echo "$(pyenv root)/versions/$v/bin/python3.10"; return 0
    fi
  fi
  return 1
}

install_browser() {
  if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    return 0
  fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  if command -v apt-get >/dev/null 2>&1 && $sudo true 2>/dev/null; then
    echo "setup: installing chromium and chromium-driver with apt-get (for the report's browser test)"
    $sudo apt-get update -qq >/dev/null 2>&1 || true
    if DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1; then
      return 0
    fi
  fi
  echo "setup: could not install chromium + chromium-driver (needs apt-get as root); the browser test will be skipped with that reason"
}

if [ "$WANT_BROWSER" -eq 1 ]; then install_browser; fi

# The editable install lists the top-level packages when it is made, so a new
# package directory needs a reinstall too.
lock_hash="$( (cat "$LOCK" "$ROOT/pyproject.toml"; cd "$ROOT" && ls -d */__init__.py) | sha256sum | cut -d' ' -f1)"
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$lock_hash" ]; then
  echo "setup: .venv is up to date (Python $("$VENV/bin/python" -c 'import platform; print(platform.python_version())'), requirements.lock unchanged)"
  exit 0
fi

if ! PY="$(find_python310)"; then
  echo "setup: Python 3.10 not found (TFX 1.16 needs exactly 3.10): install it, e.g. 'pyenv install 3.10.13' or your OS package python3.10, then rerun ./setup.sh" >&2
  exit 1
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating .venv with $("$PY" --version)"
  "$PY" -m venv "$VENV"
fi

echo "setup: installing the pinned set from requirements.lock (first time: about 3 minutes)"
start=$(date +%s)
pip_quiet() {  # pip, minus the noise of unreachable mirror entries; keeps pip's exit code
  local log rc=0
  log="$(mktemp)"
  "$VENV/bin/python" -m pip --disable-pip-version-check "$@" >"$log" 2>&1 || rc=$?
  grep -v "^WARNING: Location" "$log" >&2 || true
  rm -f "$log"
  return $rc
}
pip_quiet install --quiet --upgrade "pip==24.2"
# The lock pins every package, so pip does no resolving (and no backtracking).
pip_quiet install --quiet -r "$LOCK"
pip_quiet install --quiet --no-deps -e "$ROOT"
"$VENV/bin/python" -m pip check >/dev/null 2>&1 || { "$VENV/bin/python" -m pip check >&2; echo "setup: pip check failed" >&2; exit 1; }
"$VENV/bin/python" -c 'import tfx, tensorflow_transform, apache_beam, croptfx' 2>/dev/null \
  || { echo "setup: the environment does not import tfx/tft/beam/croptfx; see the pip output above" >&2; exit 1; }
echo "$lock_hash" > "$STAMP"
echo "setup: done in $(( $(date +%s) - start ))s; activate with: source .venv/bin/activate"
