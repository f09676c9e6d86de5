#!/usr/bin/env bash
# The postStart hook of shop-postgres: waits for the server to listen on TCP (during the first
# initialisation the image's temporary server listens only on the socket, so this waits for the
# real one), then creates or updates the roles shop_owner and shop_app (db-roles.sql) with the
# passwords of the Secret shop-postgres, as POSTGRES_USER over the local socket. A failure kills
# the container: a store without its roles must not become Ready.
set -euo pipefail
for _ in $(seq 1 180); do
  pg_isready -q -h 127.0.0.1 -U "${POSTGRES_USER:-shop}" -d "${POSTGRES_DB:-shop}" && break
  sleep 1
done
SHOP_DB_OWNER_PASSWORD="$(cat /run/secrets/postgres/owner_password)" \
  SHOP_DB_APP_PASSWORD="$(cat /run/secrets/postgres/app_password)" \
  psql --no-psqlrc -q -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-shop}" --dbname "${POSTGRES_DB:-shop}" \
  -f /etc/shop-db/db-roles.sql
