#!/usr/bin/env bash
# Install the build into a fresh prefix (cmake --install --prefix DIR), then
# compile the README's engine example as README.md says for an installed
# library, `cc prog.c $(pkg-config --cflags --libs ioengine)`, with that
# prefix's ioengine.pc, and run it: every path pkg-config gives lies in DIR.
# Usage: installed.sh README BUILD_DIR CC
set -euo pipefail
readme=$1 build=$2 cc=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
pc=$(find "$prefix" -name ioengine.pc)
[ -n "$pc" ] || { echo "no ioengine.pc under $prefix"; exit 1; }
export PKG_CONFIG_PATH=${pc%/*}
flags=$(pkg-config --cflags --libs ioengine)
for f in $flags; do
	case $f in
	-I* | -L*)
		dir=$(realpath "${f:2}")
		case $dir in
		"$prefix"/*) ;;
		*) echo "pkg-config points outside the prefix: $f ($dir)"; exit 1 ;;
		esac
		;;
	esac
done
sed -n '/<!-- example:begin -->/,/<!-- example:end -->/p' "$readme" | sed '1,2d;$d' | sed '$d' >"$work/example.c"
# shellcheck disable=SC2086
"$cc" -std=gnu11 -Wall -Wextra -Werror "$work/example.c" $flags -o "$work/example"
libdir=$(realpath "$(pkg-config --variable=libdir ioengine)")
cd "$work"
out=$(LD_LIBRARY_PATH=$libdir ./example)
echo "$out"
grep -q '^read: 14$' <<<"$out"
# The program ran against the installed library, not one of the build tree's.
libs=$(LD_LIBRARY_PATH=$libdir ldd ./example)
grep -q "=> $libdir/libioengine\.so" <<<"$libs"
