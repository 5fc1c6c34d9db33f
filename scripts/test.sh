#!/usr/bin/env bash
# Install everything from scratch and run the whole test suite. This is the README's test
# command and exactly what CI (.ci/run) runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh all
. .venv/bin/activate
# Real datasets: ECGQA_DATA_DIR if set, else ../shared/data when it exists (this repository's
# layout); tests that need data skip with a reason when neither is there.
if [ -z "${ECGQA_DATA_DIR:-}" ] && [ -d ../shared/data ]; then
  export ECGQA_DATA_DIR="$(cd ../shared/data && pwd)"
fi
# The LLM agent's integration test starts a llama.cpp server (installed by the llm-server extra):
# in CI it must run, so a server that cannot start fails the test instead of skipping it.
export ECGQA_REQUIRE_LLM_SERVER="${ECGQA_REQUIRE_LLM_SERVER:-1}"
set +e
python -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "error: pytest collected no tests" >&2
  exit 1
fi
exit "$status"
