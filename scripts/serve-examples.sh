#!/usr/bin/env bash
# Serve the mock platform (test mode) and both example services on 127.0.0.1, for the walk-throughs in
# examples/bank_kyc/README.md and examples/age_check/README.md:
#
#   mock platform  http://127.0.0.1:8700   (MYNA_MOCK_TEST_MODE=true: the walk-throughs move its clock)
#   age-check shop http://127.0.0.1:8701
#   bank (eKYC)    http://127.0.0.1:8702   (registered at the mock first: client id, API key, webhook secret)
#
# Ctrl-C stops all three. Ports can be changed with MOCK_PORT, SHOP_PORT, BANK_PORT.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/.venv/bin"
MOCK_PORT="${MOCK_PORT:-8700}"
SHOP_PORT="${SHOP_PORT:-8701}"
BANK_PORT="${BANK_PORT:-8702}"
MOCK="http://127.0.0.1:$MOCK_PORT"
cd "$ROOT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

MYNA_MOCK_TEST_MODE=true "$BIN/myna-mock" serve --port "$MOCK_PORT" &
pids+=($!)
for _ in $(seq 1 120); do
    if "$BIN/python" -c "import httpx,sys; httpx.get('$MOCK/ca', timeout=1).raise_for_status()" 2>/dev/null; then break; fi
    sleep 0.5
done

AGE_SHOP_CLOCK=platform AGE_SHOP_PLATFORM_URL="$MOCK" \
    "$BIN/uvicorn" --factory examples.age_check.app:create_app --host 127.0.0.1 --port "$SHOP_PORT" &
pids+=($!)

eval "$("$BIN/python" -m examples.bank_kyc.walkthrough register --platform "$MOCK" --bank "http://127.0.0.1:$BANK_PORT")"
BANK_KYC_CLOCK=platform BANK_KYC_PLATFORM_URL="$MOCK" \
    "$BIN/uvicorn" --factory examples.bank_kyc.app:create_app --host 127.0.0.1 --port "$BANK_PORT" &
pids+=($!)

echo "serve-examples: mock $MOCK, shop http://127.0.0.1:$SHOP_PORT, bank http://127.0.0.1:$BANK_PORT (Ctrl-C stops)"
wait
