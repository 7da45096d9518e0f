#!/usr/bin/env bash
# routing-bench.sh — Glow's mesh against Yggdrasil (Debian 0.4.7) on the same
# namespace testbed, in one run, with ratios. Run as root: `make bench-routing`
# (or `bash bench/routing-bench.sh`). A program, not a test: it prints figures
# and judges nothing.
#
#   [A] --1-- [B] --2-- [C] --3-- [D]        the line: A reaches C through one
#    |                              |         relay (B) and D through two (B, C)
#    +--------------4---------------+         wire 4 carries no link until the
#                                             failover part closes the ring
#
# Wire N gives 198.18.N.1 to its first host and 198.18.N.2 to its second
# (198.18.0.0/15, only ever inside the namespaces made here). IPv6 is off on
# the wires, so their byte counters hold only the mesh's own traffic.
#
# For each system, on the line:
#   (4) idle traffic per link over IDLE_S seconds after it has settled
#   (1) bulk throughput A->B (direct), A->C (1 relay), A->D (2 relays)
#   (2) latency over 0, 1 and 2 relays
# then wire 4 is linked (a ring: A->C goes through B or D, both 2 hops), A
# pings C every 10 ms, the way A's traffic takes is read from A's wire
# counters over the last 0.5 s, and that relay's side of the relay-C wire is
# cut (then mended; FAIL_TRIALS times):
#   (3) failover: the longest gap between successful replies around the cut
#
# Glow: glowd per host listening on its wire addresses, links A-B, B-C, C-D by
# -c, A-D by `glow connect`; throughput and latency measured by A's own Diag
# (glow.Diag.Measure THROUGHPUT / LATENCY toward the target's resource 3),
# also `glow ping`. Yggdrasil: one per host, tcp:// peers over the same wires
# only, multicast off, admin socket in the temp dir, TUN in each namespace;
# iperf3 and ping -6 over the Yggdrasil addresses. Yggdrasil's tcp:// links
# are not encrypted hop by hop (its traffic is encrypted end to end); every
# Glow link is (Noise), and relayed Glow packets are sealed end to end too.
#
# Everything it makes (namespaces, veths, processes, the temp dir) is removed
# on exit, whatever the exit. Every loop is bounded in count and time.
#
# Environment: BUILD (default build), TP_COUNT (64 KiB items per Glow
# throughput run, default 20000), TP_RUNS (runs per figure, median; 3),
# IPERF_S (seconds per iperf3 run; 4), LAT_COUNT (2000), PING_COUNT (1000),
# IDLE_S (30), FAIL_TRIALS (cuts per system; 3), GFAIL_S / FAIL_S (seconds
# of pings around each cut: Glow 8, Yggdrasil 25, it takes longer), LOGDIR
# (keep the daemons' and the pings' logs there).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
TP_COUNT=${TP_COUNT:-20000}
TP_RUNS=${TP_RUNS:-3}
IPERF_S=${IPERF_S:-4}
LAT_COUNT=${LAT_COUNT:-2000}
PING_COUNT=${PING_COUNT:-1000}
IDLE_S=${IDLE_S:-30}
FAIL_S=${FAIL_S:-25}
GFAIL_S=${GFAIL_S:-8}
FAIL_TRIALS=${FAIL_TRIALS:-3}

die() { echo "routing-bench: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
[ -x "$BUILD/glowd" ] && [ -x "$BUILD/glow" ] || die "no $BUILD/glowd: run 'make build' (or 'make bench-routing')"
bash scripts/setup-bench-deps.sh || die "could not install the benchmark's packages"
for t in yggdrasil yggdrasilctl iperf3 ping nsenter ip python3 timeout; do
	command -v "$t" >/dev/null || die "$t is missing"
done

P="rb$$"        # namespace prefix: rb<pid>-A ...
HOSTS=(A B C D)
PIDS=()
TMP=$(mktemp -d /tmp/glow-routing-bench-XXXXXX)

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for _ in $(seq 1 20); do
		local alive=0
		for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	for h in "${HOSTS[@]}"; do ip netns del "$P-$h" 2>/dev/null; done
	if [ -n "${LOGDIR:-}" ]; then # keep the logs (daemons' output, ping logs)
		mkdir -p "$LOGDIR" && (cd "$TMP" && find . -type f ! -path './bin/*' ! -name '*.json' ! -name '*.key' ! -name '*key*' \
			! -name '*.sock' -exec cp --parents {} "$LOGDIR/" \;)
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo "routing-bench: interrupted" >&2; exit 130' INT TERM HUP

# The binaries are copied first: a rebuild of build/ during the run changes nothing.
mkdir -p "$TMP/bin"
cp "$BUILD/glowd" "$BUILD/glow" "$TMP/bin/"
GLOWD=$TMP/bin/glowd
GLOW=$TMP/bin/glow

# ---- helpers -------------------------------------------------------------------------

cat >"$TMP/h.py" <<'PY'
import json, sys, re
cmd, args = sys.argv[1], sys.argv[2:]
def pct(v, p):  # nearest rank, like glow's Measure (sorted[len*p])
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))] if v else 0
if cmd == "get":            # get KEY: a top-level field of the JSON on stdin
    print(json.load(sys.stdin).get(args[0], 0))
elif cmd == "sum":          # sum KEY: sum of KEY in every object of the list "links"
    print(sum(l.get(args[0], 0) for l in json.load(sys.stdin).get("links", [])))
elif cmd == "has":          # has ID...: exit 0 when every ID is in the routing table on stdin
    t = sys.stdin.read()
    sys.exit(0 if all('"%s"' % i in t for i in args) else 1)
elif cmd == "median":
    v = sorted(float(x) for x in args)
    print(v[len(v) // 2])
elif cmd == "gping":        # glow ping --json lines: p50_us p99_us ok failed
    r, f = [], 0
    for line in sys.stdin:
        if '"seq"' not in line: continue
        d = json.loads(line)
        if "rtt_us" in d: r.append(d["rtt_us"])
        else: f += 1
    print(pct(r, .5), pct(r, .99), len(r), f)
elif cmd == "icmp":         # ping output: p50_us p99_us ok
    r = [float(m.group(1)) * 1000 for m in re.finditer(r"time=([0-9.]+) ms", sys.stdin.read())]
    print(int(pct(r, .5)), int(pct(r, .99)), len(r))
elif cmd == "ggap":         # ggap INTERVAL_MS < glow ping --json: gap_ms failed ok recovered
    iv = float(args[0]); last = None; gap = 0; f = 0; ok = 0; end = 0
    for line in sys.stdin:
        if '"seq"' not in line: continue
        d = json.loads(line); end = d["at_ms"]
        if "rtt_us" in d:
            ok += 1
            if last is not None: gap = max(gap, d["at_ms"] - last)
            last = d["at_ms"]
        else: f += 1
    rec = 1
    if last is None: last, rec = 0, 0
    if end - last > gap: gap, rec = end - last, 0   # no reply after the cut: not recovered
    print(int(max(0, gap - iv)), f, ok, rec)
elif cmd == "igap":         # igap INTERVAL_MS START END < ping -D output: gap_ms ok recovered
    iv, start, end = float(args[0]), float(args[1]), float(args[2])
    ts = [float(m.group(1)) for m in re.finditer(r"^\[([0-9.]+)\].*time=", sys.stdin.read(), re.M)]
    gap, rec = 0.0, 1
    for a, b in zip(ts, ts[1:]): gap = max(gap, b - a)
    tail = end - (ts[-1] if ts else start)
    if tail > gap + 1.0: gap, rec = tail, 0
    print(int(max(0, gap * 1000 - iv)), len(ts), rec)
elif cmd == "medmax":       # medmax V...: median and max ('>N' = at least N)
    v = sorted(args, key=lambda x: float(x.lstrip(">")))
    print(v[len(v) // 2], v[-1])
elif cmd == "iperf":        # iperf3 -J: receiver bits/s
    print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])
elif cmd == "yconf":        # yconf ADMIN LISTEN,.. PEER,.. < genconf -json: the test's config
    c = json.load(sys.stdin)
    c["Peers"] = [p for p in args[2].split(",") if p]
    c["InterfacePeers"] = {}
    c["Listen"] = [l for l in args[1].split(",") if l]
    c["AdminListen"] = args[0]
    c["MulticastInterfaces"] = []
    c["AllowedPublicKeys"] = []
    c["IfName"] = "ygg0"
    c["NodeInfoPrivacy"] = True
    c["NodeInfo"] = {}
    json.dump(c, sys.stdout, indent=2)
elif cmd == "ypeers":       # getPeers -json: number of peers
    d = json.load(sys.stdin)
    print(len(d.get("peers", d)))
PY
h() { python3 "$TMP/h.py" "$@"; }
fmt() { python3 -c "import sys; print(('%.'+sys.argv[1]+'f') % float(sys.argv[2]))" "$@"; }
ratio() { python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print('%.2f' % (a / b) if b else '-')" "$1" "$2"; }
now() { date +%s.%N; }
ms_since() { python3 -c "import sys, time; print(int((time.time() - float(sys.argv[1])) * 1000))" "$1"; }

nx() { local host=$1; shift; nsenter --net="/run/netns/$P-$host" "$@"; }

# CPU used by each host's daemon (HPID) since cpu_snap, as a share of one
# CPU over MS milliseconds (the transfers' own time): cpu_report MS
CLK=$(getconf CLK_TCK)
declare -A HPID CT
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
cpu_snap() { local x; for x in "${HOSTS[@]}"; do CT[$x]=$(ticks "${HPID[$x]}"); done; }
cpu_report() {
	local el=$1 x out=""
	[ "$el" -gt 0 ] || el=1
	for x in "${HOSTS[@]}"; do out="$out $x $((($(ticks "${HPID[$x]}") - CT[$x]) * 100000 / CLK / el))%"; done
	echo "${out# }"
}

# spawn HOST LOG CMD...: CMD in HOST's namespace, in the background, its pid kept
# (nsenter execs in place, so $! is CMD's own pid)
spawn() {
	local host=$1 log=$2
	shift 2
	nsenter --net="/run/netns/$P-$host" "$@" >"$log" 2>&1 &
	PIDS+=("$!")
	LAST_PID=$!

}

# stop_all: every process spawned so far, SIGTERM then SIGKILL after 2 s
stop_all() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for _ in $(seq 1 20); do
		local alive=0
		for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	PIDS=()
}

# wire X Y N: a veth pair, X gets 198.18.N.1 on v-Y, Y gets 198.18.N.2 on v-X
wire() {
	local x=$1 y=$2 n=$3
	local tx="$P"x$n ty="$P"y$n
	ip link add "$tx" type veth peer name "$ty" || die "ip link add failed"
	ip link set "$tx" netns "$P-$x" name "v-$y"
	ip link set "$ty" netns "$P-$y" name "v-$x"
	nx "$x" sh -c "echo 1 >/proc/sys/net/ipv6/conf/v-$y/disable_ipv6"
	nx "$y" sh -c "echo 1 >/proc/sys/net/ipv6/conf/v-$x/disable_ipv6"
	ip -n "$P-$x" addr add "198.18.$n.1/24" dev "v-$y"
	ip -n "$P-$y" addr add "198.18.$n.2/24" dev "v-$x"
	ip -n "$P-$x" link set "v-$y" up
	ip -n "$P-$y" link set "v-$x" up
}
wire_cut() { ip -n "$P-$1" link set "v-$2" down; }
wire_mend() { ip -n "$P-$1" link set "v-$2" up; }

# txb HOST PEER: bytes sent so far on HOST's wire to PEER (kernel counters:
# every byte on the wire, TCP/IP headers and ACKs included)
txb() { nx "$1" cat /proc/net/dev | sed 's/:/ /' | awk -v i="v-$2" '$1 == i { print $10 }'; }
# ways: over 0.5 s, which of A's wires (B or D) carries more of what A sends,
# and which of C's carries more of what C sends: "FORWARD RETURN"
ways() {
	local ab ad cb cd
	ab=$(txb A B) ad=$(txb A D) cb=$(txb C B) cd=$(txb C D)
	sleep 0.5
	ab=$(($(txb A B) - ab)) ad=$(($(txb A D) - ad)) cb=$(($(txb C B) - cb)) cd=$(($(txb C D) - cd))
	echo "$([ $ab -ge $ad ] && echo B || echo D) $([ $cb -ge $cd ] && echo B || echo D)"
}
# line_tx: bytes sent so far on the line's three wires, both ends
line_tx() {
	echo $(($(txb A B) + $(txb B A) + $(txb B C) + $(txb C B) + $(txb C D) + $(txb D C)))
}

for x in "${HOSTS[@]}"; do
	ip netns add "$P-$x" || die "ip netns add failed"
	ip -n "$P-$x" link set lo up
done
wire A B 1
wire B C 2
wire C D 3
wire D A 4
declare -A ADDRS=([A]="198.18.1.1 198.18.4.2" [B]="198.18.1.2 198.18.2.1" [C]="198.18.2.2 198.18.3.1" [D]="198.18.3.2 198.18.4.1")
# the wire between two neighbours: the address of Y on the X-Y wire
declare -A NREL=([B]=0 [C]=1 [D]=2)
declare -A ADDR_ON=([A-B]=198.18.1.2 [B-C]=198.18.2.2 [C-D]=198.18.3.2 [A-D]=198.18.4.1)

echo "routing-bench: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$(realpath "$BUILD")" = "$(realpath build 2>/dev/null)" ]; then
	from="git $(git rev-parse --short HEAD 2>/dev/null || echo ?)$(git diff --quiet HEAD -- src include proto 2>/dev/null || echo ' + uncommitted changes in src')"
else
	from="built in $BUILD"
fi
echo "  glowd: $BUILD/glowd of $(stat -c '%y' "$BUILD/glowd" | cut -d. -f1), $from (copied to $TMP/bin)"
echo "  yggdrasil: $(dpkg-query -W -f='${Version}' yggdrasil), iperf3: $(dpkg-query -W -f='${Version}' iperf3)"
echo "  testbed: line A-B-C-D (veth, namespaces $P-*), wire D-A for the ring; IDLE_S=$IDLE_S FAIL_TRIALS=$FAIL_TRIALS GFAIL_S=$GFAIL_S TP_COUNT=$TP_COUNT TP_RUNS=$TP_RUNS IPERF_S=$IPERF_S LAT_COUNT=$LAT_COUNT PING_COUNT=$PING_COUNT FAIL_S=$FAIL_S"
echo

declare -A R # results: R[glow.key], R[ygg.key]

# ======================================================================================
# Glow
# ======================================================================================
echo "== Glow"
g() { local host=$1; shift; "$GLOW" -d "$TMP/glow/$host" "$@"; }

gstart() { # gstart HOST [CONNECT-ADDR...]
	local host=$1 a
	shift
	local d=$TMP/glow/$host args=()
	mkdir -p "$d"
	for a in ${ADDRS[$host]}; do args+=(-l "$a:7177"); done
	for a in "$@"; do args+=(-c "$a:7177"); done
	spawn "$host" "$d/out" "$GLOWD" -d "$d" -n "$host" "${args[@]}"
	HPID[$host]=$LAST_PID
	for _ in $(seq 1 100); do
		grep -q "control socket" "$d/out" 2>/dev/null && return 0
		sleep 0.05
	done
	cat "$d/out"
	die "glowd on $host did not start"
}
gstart D
gstart C "${ADDR_ON[C-D]}"
gstart B "${ADDR_ON[B-C]}"
gstart A "${ADDR_ON[A-B]}"
declare -A ID
for x in "${HOSTS[@]}"; do ID[$x]=$(g "$x" id) || die "glow id on $x failed"; done

t0=$(now)
for _ in $(seq 1 100); do
	g A --json routes 2>/dev/null | h has "${ID[B]}" "${ID[C]}" "${ID[D]}" &&
		g D --json routes 2>/dev/null | h has "${ID[A]}" && break
	sleep 0.1
done
g A --json routes | h has "${ID[B]}" "${ID[C]}" "${ID[D]}" || die "glow: A has no route to every node after 10 s"
echo "  converged: A has routes to B, C, D after $(ms_since "$t0") ms of starting the last glowd"
for x in B C D; do
	hops=$(g A --json ping -c 1 -W 2000 "${ID[$x]}" | sed -n 's/.*"hops": \([0-9]*\)}$/\1/p' | head -1)
	echo "  A -> $x: hops=$hops"
done

# (4) idle traffic
sleep 3
declare -A GB0 GR0
for x in "${HOSTS[@]}"; do
	GB0[$x]=$(g "$x" --json links | h sum bytes_out)
	GR0[$x]=$(g "$x" --json status | h get routing_bytes_out)
done
w0=$(line_tx)
t0=$(now)
sleep "$IDLE_S"
el=$(ms_since "$t0")
w1=$(line_tx)
gb=0 gr=0
for x in "${HOSTS[@]}"; do
	gb=$((gb + $(g "$x" --json links | h sum bytes_out) - GB0[$x]))
	gr=$((gr + $(g "$x" --json status | h get routing_bytes_out) - GR0[$x]))
done
R[glow.idle_wire]=$(python3 -c "print(round(($w1 - $w0) / 3 / ($el / 1000.0)))")
R[glow.idle_rec]=$(python3 -c "print(round($gb / 3 / ($el / 1000.0)))")
R[glow.idle_route]=$(python3 -c "print(round($gr / 3 / ($el / 1000.0)))")
echo "  (4) idle, per link (both directions) over $((el / 1000)) s: ${R[glow.idle_wire]} B/s on the wire (veth counters)," \
	"${R[glow.idle_rec]} B/s of Glow records (links bytes_out), ${R[glow.idle_route]} B/s of routing messages (routing_bytes_out)"

# (1) throughput
for x in B C D; do
	runs=()
	busy_us=0
	cpu_snap
	for _ in $(seq 1 "$TP_RUNS"); do
		out=$(timeout 300 "$GLOW" -d "$TMP/glow/A" -t 240000 call 3 Measure \
			"{\"target\":\"glow://${ID[$x]}/3\",\"mode\":\"THROUGHPUT\",\"count\":$TP_COUNT,\"size\":65536}") ||
			die "glow Measure THROUGHPUT to $x failed: $out"
		runs+=("$(echo "$out" | h get bytes_per_sec)")
		busy_us=$((busy_us + $(echo "$out" | h get elapsed_us)))
	done
	R[glow.tp_$x]=$(h median "${runs[@]}")
	list=""
	for r in "${runs[@]}"; do list="$list $(fmt 0 "$(python3 -c "print($r / 1e6)")")"; done
	echo "  (1) throughput A -> $x: $(fmt 1 "$(python3 -c "print(${R[glow.tp_$x]} / 1e6)")") MB/s" \
		"= $(fmt 2 "$(python3 -c "print(${R[glow.tp_$x]} * 8 / 1e9)")") Gbit/s (median; runs MB/s:$list)"
	echo "      CPU of each glowd while streaming (share of one CPU; 2 CPUs in all): $(cpu_report $((busy_us / 1000)))"
done
echo "      relayed/direct: 1 relay $(ratio "${R[glow.tp_C]}" "${R[glow.tp_B]}"), 2 relays $(ratio "${R[glow.tp_D]}" "${R[glow.tp_B]}")"
relayed=$(g B --json status | h get relayed_bytes)
echo "      B relayed $((relayed / 1000000)) MB in all"

# (2) latency
for x in B C D; do
	out=$(timeout 120 "$GLOW" -d "$TMP/glow/A" -t 100000 call 3 Measure \
		"{\"target\":\"glow://${ID[$x]}/3\",\"mode\":\"LATENCY\",\"count\":$LAT_COUNT,\"size\":16}") ||
		die "glow Measure LATENCY to $x failed: $out"
	R[glow.lat50_$x]=$(echo "$out" | h get p50_us)
	R[glow.lat99_$x]=$(echo "$out" | h get p99_us)
	read -r p50 p99 ok fl < <(timeout 120 "$GLOW" -d "$TMP/glow/A" --json ping -c "$PING_COUNT" -i 5 -W 1000 -s 16 "${ID[$x]}" | h gping)
	R[glow.ping50_$x]=$p50
	R[glow.ping99_$x]=$p99
	echo "  (2) latency A -> $x (${NREL[$x]} relays): Measure LATENCY p50 ${R[glow.lat50_$x]} us, p99 ${R[glow.lat99_$x]} us;" \
		"glow ping -i 5 p50 $p50 us, p99 $p99 us ($ok replies, $fl failed)"
done

# (3) failover: close the ring, find A's relay toward C, cut the relay's side of relay-C
g A -t 5000 connect "${ADDR_ON[A-D]}:7177" "${ID[D]}" >/dev/null || die "glow connect A -> D failed"
for _ in $(seq 1 50); do
	g A --json routes "${ID[D]}" 2>/dev/null | grep -q "\"next_hop_id\" : \"${ID[D]}\"" && break
	sleep 0.1
done
sleep 2
echo "  (3) ring closed (A-D linked by glow connect); $FAIL_TRIALS cuts, each of the relay's side of the relay-C wire"
GF=()
for t in $(seq 1 "$FAIL_TRIALS"); do
	timeout $((GFAIL_S + 60)) "$GLOW" -d "$TMP/glow/A" --json ping -c $((GFAIL_S * 100)) -i 10 -W 200 "${ID[C]}" \
		>"$TMP/glow-fail-$t" 2>&1 &
	PING=$!
	sleep 1.5
	read -r RELAY RET < <(ways)
	nh=$(g A --json routes "${ID[C]}" | grep -q "\"next_hop_id\" : \"${ID[B]}\"" && echo B || echo D)
	wire_cut "$RELAY" C
	wait $PING
	read -r gap fl ok rec < <(h ggap 10 <"$TMP/glow-fail-$t")
	[ "$rec" = 1 ] || gap=">$gap"
	GF+=("$gap")
	echo "      cut $t: A -> C went through $RELAY (route's next hop $nh), C -> A through $RET; cut $RELAY's side of $RELAY-C:" \
		"longest gap $gap ms$([ "$rec" = 1 ] || echo ' (NOT recovered before the pings ended)'), $fl of $((fl + ok)) pings failed" \
		"$([ "$fl" = 0 ] && echo '(none lost: the traffic had moved before the cut?)')"
	grep -h "down:" "$TMP/glow/$RELAY/out" "$TMP/glow/C/out" | grep -v stopping | tail -n 2 | sed 's/^/        /'
	wire_mend "$RELAY" C
	for _ in $(seq 1 100); do # until the wire's link is back (redial backoff <= 1 s)
		g "$RELAY" --json links | grep -q "\"peer_id\" : \"${ID[C]}\"" && break
		sleep 0.1
	done
	sleep 2
done
read -r R[glow.fail] R[glow.fail_max] < <(h medmax "${GF[@]}")
R[glow.fail_all]="${GF[*]}"
stop_all
echo

# ======================================================================================
# Yggdrasil
# ======================================================================================
echo "== Yggdrasil"
YPORT=7200
ysock() { echo "unix://$TMP/ygg/$1/admin.sock"; }
yctl() { local host=$1; shift; timeout 10 yggdrasilctl -json -endpoint="$(ysock "$host")" "$@"; }

ygen() { # ygen HOST PEER-ADDR...: (re)writes HOST's config, keys kept
	local host=$1 a listen="" peers=""
	shift
	local d=$TMP/ygg/$host
	mkdir -p "$d"
	[ -f "$d/gen.json" ] || yggdrasil -genconf -json >"$d/gen.json" || die "yggdrasil -genconf failed"
	for a in ${ADDRS[$host]}; do listen="$listen,tcp://$a:$YPORT"; done
	for a in "$@"; do peers="$peers,tcp://$a:$YPORT"; done
	h yconf "$(ysock "$host")" "$listen" "$peers" <"$d/gen.json" >"$d/conf.json" || die "yggdrasil config for $host"
}
ystart() {
	local host=$1 d=$TMP/ygg/$1
	rm -f "$d/admin.sock"
	spawn "$host" "$d/log" yggdrasil -useconffile "$d/conf.json" -logto stdout
	HPID[$host]=$LAST_PID
	for _ in $(seq 1 100); do
		[ -S "$d/admin.sock" ] && nx "$host" ip -6 addr show dev ygg0 2>/dev/null | grep -q "inet6 2" && return 0
		sleep 0.05
	done
	cat "$d/log"
	die "yggdrasil on $host did not start (no admin socket or no ygg0 address)"
}
# yreach HOST ADDR SECONDS: until HOST gets an ICMPv6 echo reply from ADDR
yreach() {
	local t0
	t0=$(now)
	for _ in $(seq 1 $(($3 * 2))); do
		nx "$1" ping -6 -c 1 -W 0.5 "$2" >/dev/null 2>&1 && { ms_since "$t0"; return 0; }
		sleep 0.05
	done
	return 1
}

ygen D
ygen C "${ADDR_ON[C-D]}"
ygen B "${ADDR_ON[B-C]}"
ygen A "${ADDR_ON[A-B]}"
declare -A YA
for x in "${HOSTS[@]}"; do YA[$x]=$(yggdrasil -useconffile "$TMP/ygg/$x/conf.json" -address) || die "yggdrasil -address"; done
for x in D C B A; do ystart "$x"; done
t0=$(now)
for x in B C D; do yreach A "${YA[$x]}" 30 >/dev/null || die "yggdrasil: A cannot reach $x (${YA[$x]}) after 30 s: $(tail -5 "$TMP/ygg/A/log")"; done
echo "  converged: A reaches B, C, D after $(ms_since "$t0") ms of starting the last yggdrasil; A has $(yctl A getPeers | h ypeers) peer(s)"
for x in "${HOSTS[@]}"; do echo "  $x: ${YA[$x]}"; done

# (4) idle traffic
sleep 3
w0=$(line_tx)
t0=$(now)
sleep "$IDLE_S"
el=$(ms_since "$t0")
w1=$(line_tx)
R[ygg.idle_wire]=$(python3 -c "print(round(($w1 - $w0) / 3 / ($el / 1000.0)))")
echo "  (4) idle, per link (both directions) over $((el / 1000)) s: ${R[ygg.idle_wire]} B/s on the wire (veth counters)"

# (1) throughput: iperf3, one TCP stream over the Yggdrasil addresses
for x in B C D; do
	spawn "$x" "$TMP/ygg/$x/iperf3.log" iperf3 -s -B "${YA[$x]}" -p 5201
done
sleep 0.5
for x in B C D; do
	runs=()
	busy_ms=0
	cpu_snap
	for _ in $(seq 1 "$TP_RUNS"); do
		t0=$(now)
		out=$(nx A timeout $((IPERF_S + 30)) iperf3 -c "${YA[$x]}" -p 5201 -t "$IPERF_S" -O 1 -J) ||
			die "iperf3 A -> $x failed: $(echo "$out" | tail -5)"
		busy_ms=$((busy_ms + $(ms_since "$t0")))
		runs+=("$(echo "$out" | python3 -c "import json,sys; print(json.load(sys.stdin)['end']['sum_received']['bits_per_second'] / 8)")")
	done
	R[ygg.tp_$x]=$(h median "${runs[@]}")
	list=""
	for r in "${runs[@]}"; do list="$list $(fmt 0 "$(python3 -c "print($r / 1e6)")")"; done
	echo "  (1) throughput A -> $x: $(fmt 1 "$(python3 -c "print(${R[ygg.tp_$x]} / 1e6)")") MB/s" \
		"= $(fmt 2 "$(python3 -c "print(${R[ygg.tp_$x]} * 8 / 1e9)")") Gbit/s (iperf3 -t $IPERF_S, median; runs MB/s:$list)"
	echo "      CPU of each yggdrasil during the iperf3 runs (share of one CPU; iperf3 itself not counted): $(cpu_report "$busy_ms")"
done
echo "      relayed/direct: 1 relay $(ratio "${R[ygg.tp_C]}" "${R[ygg.tp_B]}"), 2 relays $(ratio "${R[ygg.tp_D]}" "${R[ygg.tp_B]}")"

# (2) latency: ping -6, 16-byte payload like Glow's
for x in B C D; do
	read -r p50 p99 ok < <(nx A timeout 120 ping -6 -c "$PING_COUNT" -i 0.005 -W 1 -s 16 "${YA[$x]}" | h icmp)
	R[ygg.ping50_$x]=$p50
	R[ygg.ping99_$x]=$p99
	echo "  (2) latency A -> $x: ping -6 -i 0.005 p50 $p50 us, p99 $p99 us ($ok of $PING_COUNT replies)"
done

# (3) failover: restart all four with the ring's peering (A also peers with D over wire 4)
stop_all
ygen A "${ADDR_ON[A-B]}" "${ADDR_ON[A-D]}"
for x in D C B A; do ystart "$x"; done
yreach A "${YA[C]}" 30 >/dev/null || die "yggdrasil ring: A cannot reach C"
for _ in $(seq 1 100); do [ "$(yctl A getPeers | h ypeers 2>/dev/null || echo 0)" -ge 2 ] && break; sleep 0.1; done
sleep 3
echo "  (3) ring (A peers with B and D: $(yctl A getPeers | h ypeers) peers); $FAIL_TRIALS cuts, each of the relay's side of the relay-C wire"
YF=()
for t in $(seq 1 "$FAIL_TRIALS"); do
	start=$(now)
	nx A timeout $((FAIL_S + 10)) ping -6 -D -c $((FAIL_S * 100)) -i 0.01 -W 0.2 -w "$FAIL_S" -s 16 "${YA[C]}" \
		>"$TMP/ygg-fail-$t" 2>&1 &
	PING=$!
	sleep 1.5
	read -r RELAY RET < <(ways)
	wire_cut "$RELAY" C
	wait $PING
	end=$(now)
	read -r gap ok rec < <(h igap 10 "$start" "$end" <"$TMP/ygg-fail-$t")
	[ "$rec" = 1 ] || gap=">$gap"
	YF+=("$gap")
	echo "      cut $t: A -> C went through $RELAY, C -> A through $RET; cut $RELAY's side of $RELAY-C:" \
		"longest gap $gap ms$([ "$rec" = 1 ] || echo " (NOT recovered within the ${FAIL_S} s of pings)"), $ok of $((FAIL_S * 100)) pings answered"
	wire_mend "$RELAY" C
	[ "$t" = "$FAIL_TRIALS" ] && break
	back=0 # until the relay has its two peers again, else start all four afresh
	for _ in $(seq 1 300); do
		[ "$(yctl "$RELAY" getPeers | h ypeers 2>/dev/null || echo 0)" -ge 2 ] && { back=1; break; }
		sleep 0.1
	done
	if [ $back = 0 ]; then
		echo "        ($RELAY has not re-peered with C 30 s after the mend: all four restarted)"
		stop_all
		for x in D C B A; do ystart "$x"; done
		yreach A "${YA[C]}" 30 >/dev/null || die "yggdrasil ring: A cannot reach C after a restart"
	fi
	sleep 3
done
read -r R[ygg.fail] R[ygg.fail_max] < <(h medmax "${YF[@]}")
R[ygg.fail_all]="${YF[*]}"
stop_all
echo

# ======================================================================================
# Summary
# ======================================================================================
mbs() { python3 -c "print('%.0f MB/s' % ($1 / 1e6))"; }
gbs() { python3 -c "print('%.2f Gbit/s' % ($1 * 8 / 1e9))"; }
row() { printf '| %-44s | %-14s | %-14s | %-6s |\n' "$1" "$2" "$3" "$4"; }
echo "== Summary (ratio = glow / yggdrasil; throughput: higher is better, the rest: lower is better)"
row metric glow yggdrasil ratio
row "---" "---" "---" "---"
for x in B C D; do
	label=$([ $x = B ] && echo "direct A->B" || { [ $x = C ] && echo "1 relay A->C" || echo "2 relays A->D"; })
	row "throughput, $label" "$(mbs "${R[glow.tp_$x]}")" "$(mbs "${R[ygg.tp_$x]}")" "$(ratio "${R[glow.tp_$x]}" "${R[ygg.tp_$x]}")"
	row "  (Gbit/s)" "$(gbs "${R[glow.tp_$x]}")" "$(gbs "${R[ygg.tp_$x]}")" ""
done
gr=$(ratio "${R[glow.tp_C]}" "${R[glow.tp_B]}")
yr=$(ratio "${R[ygg.tp_C]}" "${R[ygg.tp_B]}")
row "throughput 1 relay / direct" "$gr" "$yr" "$(ratio "$gr" "$yr")"
gr=$(ratio "${R[glow.tp_D]}" "${R[glow.tp_B]}")
yr=$(ratio "${R[ygg.tp_D]}" "${R[ygg.tp_B]}")
row "throughput 2 relays / direct" "$gr" "$yr" "$(ratio "$gr" "$yr")"
for x in B C D; do
	nrel=${NREL[$x]}
	row "ping p50, $nrel relays (us)" "${R[glow.ping50_$x]}" "${R[ygg.ping50_$x]}" "$(ratio "${R[glow.ping50_$x]}" "${R[ygg.ping50_$x]}")"
	row "ping p99, $nrel relays (us)" "${R[glow.ping99_$x]}" "${R[ygg.ping99_$x]}" "$(ratio "${R[glow.ping99_$x]}" "${R[ygg.ping99_$x]}")"
done
for x in B C D; do
	nrel=${NREL[$x]}
	row "call p50 / p99, $nrel relays (us; Measure)" "${R[glow.lat50_$x]} / ${R[glow.lat99_$x]}" "-" "-"
done
row "failover after a one-sided cut, median (ms)" "${R[glow.fail]}" "${R[ygg.fail]}" "$(ratio "${R[glow.fail]#>}" "${R[ygg.fail]#>}")"
row "failover, worst of $FAIL_TRIALS cuts (ms)" "${R[glow.fail_max]}" "${R[ygg.fail_max]}" "$(ratio "${R[glow.fail_max]#>}" "${R[ygg.fail_max]#>}")"
row "idle per link, wire bytes (B/s)" "${R[glow.idle_wire]}" "${R[ygg.idle_wire]}" "$(ratio "${R[glow.idle_wire]}" "${R[ygg.idle_wire]}")"
row "idle per link, Glow records / routing (B/s)" "${R[glow.idle_rec]} / ${R[glow.idle_route]}" "-" "-"
echo
echo "ping: glow ping (CLI -> glowd -> Node.Ping and back, -i 5 ms) vs ICMP echo over Yggdrasil's TUN (-i 0.005 s), 16-byte payloads."
echo "call: glow.Diag.Measure LATENCY, sequential 16-byte Echo calls made by node A itself; Yggdrasil has no equivalent."
echo "failover: the longest gap between successful replies to pings every 10 ms (Glow: glow ping -W 200, so 200 ms resolution while"
echo "  pings time out; Yggdrasil: ping -6 -D); '>' = not recovered before the pings ended. Cuts: glow ${R[glow.fail_all]}; yggdrasil ${R[ygg.fail_all]}."
echo "throughput: Glow, one Diag.Source stream of ${TP_COUNT} x 64 KiB; Yggdrasil, one iperf3 TCP stream for ${IPERF_S} s."
