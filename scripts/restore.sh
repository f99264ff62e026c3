#!/usr/bin/env bash
# Restore a backup of scripts/backup.sh into an EMPTY database: scripts/restore.sh FILE URL
#
# The target must exist and be empty (createdb it first): restoring over live data is
# refused. Runs in one transaction, so a failed restore leaves the target empty again.
set -euo pipefail
[[ $# -eq 2 ]] || { echo "usage: $0 FILE postgres://user@host:port/empty_database" >&2; exit 2; }
file=$1 target=$2
tables=$(psql --no-psqlrc --tuples-only --no-align --dbname "$target" \
  --command "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")
if [[ $tables -ne 0 ]]; then
  echo "restore: the target database has $tables tables; restore only into an empty one" >&2
  exit 1
fi
pg_restore --no-owner --no-privileges --single-transaction --exit-on-error --dbname "$target" "$file"
echo "restore: $file restored" >&2
