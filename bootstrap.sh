#!/usr/bin/env bash
# Set up everything convrec needs on a fresh machine; safe to re-run (it skips what is already done).
#   ./bootstrap.sh          the app: a virtual environment in .venv with convrec and its models
#   ./bootstrap.sh --test   also the test tools: pytest, Debian's Chromium for the browser test and PostgreSQL's
#                           server binaries for the session-store tests
set -euo pipefail
cd "$(dirname "$0")"
want_test=0
[ "${1:-}" = "--test" ] && want_test=1

if [ ! -x .venv/bin/python ]; then
  "${PYTHON:-python3}" -m venv .venv
fi
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1

# CPU torch first and pinned: any looser torch requirement pulls a multi-GB CUDA build on Linux.
# On a machine without a local torch 2.13.0 wheel, pip fetches it from PyPI (a CPU build is smaller:
# see pytorch.org for the CPU-only install line).
if ! python -c "import torch" 2>/dev/null; then
  pip install -q "torch==2.13.0"
fi
torch_version=$(python -c "import torch; print(torch.__version__.split('+')[0])")

extras="" ; [ $want_test = 1 ] && extras="[test]"
stamp=".venv/.convrec-installed$extras"
fingerprint=$(sha1sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$fingerprint" ]; then
  pip install -q -e ".$extras" -c <(echo "torch==$torch_version")
  echo "$fingerprint" > "$stamp"
fi

if [ $want_test = 1 ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  else
    echo "note: the browser test needs Debian's chromium (sudo apt-get install chromium); it will be skipped" >&2
  fi
fi
# PostgreSQL's server binaries (initdb, pg_ctl): the tests start a throwaway cluster for the production session
# store, and fail without them. Debian puts them in /usr/lib/postgresql/<version>/bin.
if [ $want_test = 1 ] && ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  else
    echo "error: the tests need PostgreSQL's server binaries (sudo apt-get install postgresql)" >&2
    exit 1
  fi
fi
echo "convrec is set up in .venv"
