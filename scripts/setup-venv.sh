#!/usr/bin/env bash
# Create .venv (when missing) and install the project with its dev and production extras
# (the production extra: the Airflow providers `kirz airflow --production` and its test need).
# Works with a bare Python 3.11 + pip: falls back to uv's own venv when the stdlib venv
# module is missing (Debian ships it separately as python3.11-venv).
set -euo pipefail
VENV=${1:-.venv}
PY=$(command -v python3.11 || command -v python3)
if [ ! -x "$VENV/bin/python" ]; then
  if ! "$PY" -m venv "$VENV" 2>/dev/null; then
    rm -rf "$VENV"
    "$PY" -m pip install -q --user uv 2>/dev/null || "$PY" -m pip install -q --user --break-system-packages uv
    "$PY" -m uv venv -q --python "$PY" "$VENV"
  fi
fi
if [ ! -x "$VENV/bin/uv" ]; then
  if [ -x "$VENV/bin/pip" ]; then
    "$VENV/bin/pip" install -q uv
  else
    "$PY" -m uv pip install -q --python "$VENV/bin/python" uv
  fi
fi
"$VENV/bin/uv" pip install -q --python "$VENV/bin/python" -e '.[dev,production]'
