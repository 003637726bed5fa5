#!/bin/sh
# SPDX-License-Identifier: MIT
# The libraries a user builds and installs carry no fault injection: no
# "IOENGINE_FAULT" string (the variable is never read) and no ioe_fault_*
# symbol, global, local or debug-only. With --with FAULTLIB, that library
# (the tests' own fault-injection build) must have both: the check can fail.
# Usage: check_nofault.sh [--with FAULTLIB] LIB...
has_fault() {	# LIB: its fault-injection traces, one a line
	strings -a "$1" | grep -m1 IOENGINE_FAULT
	nm -a "$1" 2>/dev/null | awk '$NF ~ /^ioe_fault_/ { print $NF }' | sort -u
}

bad=0
if [ "$1" = --with ]; then
	[ -f "$2" ] || { echo "no such library: $2"; exit 1; }
	t=$(has_fault "$2")
	case $t in
	*IOENGINE_FAULT*ioe_fault_*) echo "ok: $(basename "$2") has fault injection (control)" ;;
	*) echo "FAIL: the control $2 shows no fault injection: $t"; bad=1 ;;
	esac
	shift 2
fi
for lib; do
	[ -f "$lib" ] || { echo "no such library: $lib"; bad=1; continue; }
	t=$(has_fault "$lib")
	if [ -n "$t" ]; then
		echo "FAIL: $lib contains fault injection:"
		echo "$t" | head -10
		bad=1
	else
		echo "ok: $(basename "$lib"): no IOENGINE_FAULT, no ioe_fault_* symbol"
	fi
done
exit $bad
