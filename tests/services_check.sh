#!/usr/bin/env bash
# Fails unless the throwaway Redis and PostgreSQL of scripts/test-services.sh answer.
set -euo pipefail
: "${TM_TEST_REDIS_URL:?run under scripts/run-tests.sh (make test): TM_TEST_REDIS_URL is not set}"
: "${TM_TEST_POSTGRES_DSN:?run under scripts/run-tests.sh (make test): TM_TEST_POSTGRES_DSN is not set}"
[[ "$(redis-cli -u "$TM_TEST_REDIS_URL" ping)" == PONG ]]
[[ "$(psql "$TM_TEST_POSTGRES_DSN" -XAtc 'SELECT current_user')" == taskmaster ]]
[[ "$TM_TEST_REDIS_PORT" != 6379 && "$TM_TEST_PG_PORT" != 5432 ]]
