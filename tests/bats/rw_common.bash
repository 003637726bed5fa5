# SPDX-License-Identifier: MIT
# Shared by the rw_*.bats files: real programs under tools/ioengine-run.
load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

RUN=$(readlink -f "$BATS_TEST_DIRNAME/../../tools/ioengine-run")
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)

# Run "$@" under the wrapper with OPTS (an array set by the caller) and the
# summary in $STATS; sets bats' $status/$output.
STATS=
shim() {
	STATS=$BATS_TEST_TMPDIR/stats.$RANDOM
	run "$RUN" "${OPTS[@]}" --stats="$STATS" -- "$@"
}

# Value of KEY in the (single) summary line of $STATS.
stat_of() {
	[ -f "$STATS" ] || { echo "no stats file $STATS" >&2; return 1; }
	sed -n "s/.* $1=\([^ ]*\).*/\1/p" "$STATS" | tail -n 1
}

# The summary proves the IO went through the engine.
assert_routed() {
	local r w
	r=$(stat_of routed_reads) && w=$(stat_of routed_writes) || fail "no stats summary"
	sed "s/^/# /" "$STATS" >&3 2>/dev/null || true
	[ $((r + w)) -gt 0 ] || fail "nothing routed: $(cat "$STATS")"
	# Each routed request ran on one path.
	assert_equal $(($(stat_of plain_syscalls) + $(stat_of shared_queue))) \
		$((r + w + $(stat_of routed_syncs)))
	case " ${OPTS[*]} " in
	*" --no-fastpath "*) [ "$r" -gt 0 ] || fail "--no-fastpath but no routed reads: $(cat "$STATS")" ;;
	esac
	case " ${OPTS[*]} " in
	*" --backend aio "*) assert_equal "$(stat_of backend)" aio ;;
	*" --backend uring "*) assert_equal "$(stat_of backend)" io_uring ;;
	esac
}
