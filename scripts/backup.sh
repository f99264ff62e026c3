#!/usr/bin/env bash
# Back up the database of DATABASE_URL: scripts/backup.sh FILE
#
# A custom-format pg_dump (compressed, restorable table by table) written to FILE.tmp and
# renamed when complete, so a failed run never leaves a file that looks like a backup.
# The file holds every tenant's name and notes: keep it encrypted and off the web server.
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 FILE" >&2; exit 2; }
: "${DATABASE_URL:?DATABASE_URL must name the database to back up}"
umask 077
pg_dump --format=custom --no-owner --no-privileges --file "$1.tmp" "$DATABASE_URL"
mv "$1.tmp" "$1"
echo "backup: $(du -h "$1" | cut -f1) written to $1" >&2
