#!/usr/bin/env bash
# Compile and run the engine example exactly as README.md shows it.
# Usage: example.sh README CC INCLUDE_DIR LIBIOENGINE_A BACKEND
set -euo pipefail
readme=$1 cc=$2 inc=$3 lib=$4 backend=$5
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed -n '/<!-- example:begin -->/,/<!-- example:end -->/p' "$readme" | sed '1,2d;$d' | sed '$d' >"$work/example.c"
grep -q 'int main' "$work/example.c"
"$cc" -std=gnu11 -Wall -Wextra -Werror -I"$inc" "$work/example.c" "$lib" \
	$(pkg-config --libs liburing) -laio -lpthread -o "$work/example"
cd "$work"
out=$(IOENGINE_BACKEND=$backend ./example)
echo "$out"
want="backend: $([ "$backend" = uring ] && echo io_uring || echo aio)
write: 14
read: 14"
[ "$out" = "$want" ]
