#!/bin/sh
# A throwaway cluster in the container: initdb, the database and its owner, then postgres
# in the foreground on 127.0.0.1:$PGPORT (host network: the pods reach it there).
# Env: PGPORT, HAUSBUS_DB_USER, HAUSBUS_DB_PASSWORD, HAUSBUS_DB_NAME.
set -eu
data=/tmp/pgdata
printf '%s\n' "$HAUSBUS_DB_PASSWORD" >/tmp/pwfile
initdb -D "$data" -U "$HAUSBUS_DB_USER" --pwfile=/tmp/pwfile --auth-local=trust \
    --auth-host=scram-sha-256 --encoding=UTF8 --locale=C >/dev/null
rm -f /tmp/pwfile
pg_ctl -D "$data" -w -o "-c listen_addresses='' -k /tmp" start >/dev/null
createdb -h /tmp -U "$HAUSBUS_DB_USER" "$HAUSBUS_DB_NAME"
pg_ctl -D "$data" -w stop >/dev/null
exec postgres -D "$data" -c listen_addresses=127.0.0.1 -p "$PGPORT" -k /tmp
