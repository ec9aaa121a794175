#!/bin/sh
# embed.sh: turns core/schema/*.sql into a C file of ym_migration entries,
# so migrations are compiled into the binary.
set -e
echo '#include "db.h"'
i=0
for f in "$@"; do
  printf 'static const char m%d[] = {' "$i"
  od -An -v -tx1 "$f" | sed 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g' | tr -d '\n'
  echo '0};'
  i=$((i+1))
done
echo 'const ym_migration ym_core_migrations[] = {'
i=0
for f in "$@"; do
  printf '  {"%s", m%d, sizeof m%d - 1},\n' "$(basename "$f")" "$i" "$i"
  i=$((i+1))
done
[ "$i" -gt 0 ] || echo '  {0, 0, 0},'
echo '};'
echo "const size_t ym_core_migrations_count = $i;"
