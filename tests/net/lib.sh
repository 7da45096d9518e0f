# Shared helpers for the multi-node shell tests: start glowd processes on
# loopback with private state dirs, assert, and clean up on any exit.
set -u
GLOWD=${GLOWD:-build/glowd}
GLOW=${GLOW:-build/glow}
TMP=$(mktemp -d /tmp/glow-test-XXXXXX)
PIDS=()
FAILED=0
PASSED=0

cleanup() {
	for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null; done
	sleep 0.2
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	# GLOW_TEST_KEEP=DIR keeps every node's state dir and logs for a look afterwards.
	[ -n "${GLOW_TEST_KEEP:-}" ] && mkdir -p "$GLOW_TEST_KEEP" && cp -r "$TMP"/. "$GLOW_TEST_KEEP"/
	rm -rf "$TMP"
}
trap cleanup EXIT

# Every node a test starts is a device of one test user (the key is copied
# into its state dir, as `glow join` would write it), unless the test
# starts it with share_user=no. GLOW_TEST_USER_KEY names the key file.
GLOW_TEST_USER_KEY=$TMP/test-user.key
printf 'GLOW-USER-V1\n%s\n' "$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" >"$GLOW_TEST_USER_KEY"
chmod 600 "$GLOW_TEST_USER_KEY"
# Nodes do not beacon on this machine's interfaces unless a test asks.
GLOW_TEST_NODE_ARGS=${GLOW_TEST_NODE_ARGS:---no-discovery}

# give_user DIR: make the node in DIR a device of the test user.
give_user() { mkdir -p "$1"; cp "$GLOW_TEST_USER_KEY" "$1/user.key"; chmod 600 "$1/user.key"; }

# start_node NAME [extra glowd args...]: sets PORT_<NAME>, PID_<NAME>, DIR_<NAME>
start_node() {
	local name=$1
	shift
	local dir=$TMP/$name
	mkdir -p "$dir"
	[ "${share_user:-yes}" = yes ] && give_user "$dir"
	"$GLOWD" ${GLOW_TEST_GLOWD_ARGS:-} $GLOW_TEST_NODE_ARGS -d "$dir" -l 127.0.0.1:0 -n "$name" "$@" >"$dir/out" 2>"$dir/err" &
	local pid=$!
	PIDS+=("$pid")
	for _ in $(seq 1 100); do
		grep -q "control socket" "$dir/out" 2>/dev/null && break
		sleep 0.05
	done
	local port
	port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$dir/out")
	[ -n "$port" ] || { echo "glowd $name did not start:"; cat "$dir/err"; exit 1; }
	eval "PORT_$name=$port PID_$name=$pid DIR_$name=$dir"
}

g() { local name=$1; shift; local d; eval "d=\$DIR_$name"; "$GLOW" -d "$d" "$@"; }

ok() { PASSED=$((PASSED + 1)); echo "ok - $*"; }
not_ok() { FAILED=$((FAILED + 1)); echo "not ok - $*"; }

# check DESC COMMAND...: passes when the command succeeds
check() { local d=$1; shift; if "$@" >/dev/null 2>&1; then ok "$d"; else not_ok "$d"; fi; }

# expect_out DESC EXPECTED-EXIT PATTERN COMMAND...: exit code and output (stdout+stderr) matching PATTERN
expect_out() {
	local d=$1 code=$2 pat=$3
	shift 3
	local out rc
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" = "$code" ] && printf '%s' "$out" | grep -Eq -- "$pat"; then
		ok "$d"
	else
		not_ok "$d (exit $rc, want $code; output: $(printf '%s' "$out" | head -c 400))"
	fi
}

# Stops every node with SIGTERM; a node that does not exit 0 (a crash, or a
# sanitizer report in the ASan build) fails the test.
stop_all() {
	for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null; kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null
		local rc=$?
		if [ "$rc" != 0 ] && [ "$rc" != 127 ]; then
			not_ok "glowd pid $p exited with status $rc"
			grep -h -A30 -E "Sanitizer|runtime error" "$TMP"/*/err 2>/dev/null | head -60
		fi
	done
	PIDS=()
}

finish() {
	stop_all
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" = 0 ]
	exit $?
}
