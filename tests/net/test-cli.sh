#!/usr/bin/env bash
# The glow CLI against real glowd processes on loopback: linking, calling
# resources across nodes, errors, exit codes, --json, --help, stop.
. "$(dirname "$0")/lib.sh"

expect_out "no daemon: exit 3 and how to start one" 3 "not running.*glowd" "$GLOW" -d "$TMP/none" status

start_node alpha
start_node beta
ID_A=$(g alpha id)
ID_B=$(g beta id)
PFX_B=${ID_B:0:9}

[ "$(stat -c %a "$DIR_alpha/glowd.sock")" = 600 ] && ok "control socket is mode 0600" || not_ok "control socket is mode 0600"
[ "$(stat -c %a "$DIR_alpha/identity.key")" = 600 ] && ok "identity key is mode 0600" || not_ok "identity key is mode 0600"
expect_out "status shows the node" 0 "node +$ID_A" g alpha status
expect_out "status --json" 0 "\"node_id\" : \"$ID_A\"" g alpha --json status
expect_out "no links yet" 0 "no links" g alpha links
typo=X; [ "${ID_B:20:1}" = X ] && typo=Y
expect_out "connect to a mistyped ID is refused" 1 "not a node ID|mistyped" g alpha connect 127.0.0.1:$PORT_beta "${ID_B:0:20}$typo${ID_B:21}"
expect_out "connect expecting another node fails" 1 "different node ID" g alpha connect 127.0.0.1:$PORT_beta "$ID_A"
expect_out "connect to a closed port fails" 1 "cannot reach|refused" g alpha connect 127.0.0.1:1
expect_out "connect with the right ID" 0 "linked to $ID_B \"beta\"" g alpha connect 127.0.0.1:$PORT_beta "$ID_B"
expect_out "links lists beta" 0 "$ID_B +beta" g alpha links
expect_out "beta sees alpha" 0 "$ID_A +alpha" g beta links
expect_out "resources of beta by 8+ char prefix" 0 "glow.Diag" g alpha resources "$PFX_B"
expect_out "a 7 char prefix is refused" 1 "too short" g alpha resources "${ID_B:0:7}"
expect_out "unknown prefix" 1 "no reachable node" g alpha resources AAAAAAAA
expect_out "describe beta's node" 0 "Connect\(glow.ConnectRequest\)" g alpha describe "glow://$ID_B/0"
expect_out "describe shows stream methods" 0 "Source\(glow.SourceRequest\) returns \(stream glow.SourceItem\)" g alpha describe "$PFX_B/3"
expect_out "call Info on beta through alpha" 0 "\"name\" : \"beta\"" g alpha call "glow://$ID_B/0" Info
expect_out "call with JSON argument" 0 "\"data\" : \"aGVsbG8=\"" g alpha call "$PFX_B/3" Echo '{"data":"aGVsbG8="}'
out=$(g alpha call "$PFX_B/3" Source '{"count":3,"size":2}' 2>/dev/null | grep -c '"seq"')
[ "$out" = 3 ] && ok "stream prints one line per item" || not_ok "stream prints one line per item (got $out)"
expect_out "unknown resource" 1 "no such resource glow://$ID_B/99" g alpha call "$PFX_B/99" Info
expect_out "unknown method" 2 "has no method \"Nope\"" g alpha call "$PFX_B/0" Nope
expect_out "bad JSON" 2 "bad argument" g alpha call "$PFX_B/3" Echo '{"data":'
expect_out "wrong field" 2 "unknown field|no field" g alpha call "$PFX_B/3" Echo '{"bogus":1}'
expect_out "alpha measures calls to beta" 0 "\"count\" : 50" g alpha call 3 Measure "{\"target\":\"glow://$ID_B/3\",\"count\":50}"
expect_out "only a node's own clients may make it measure" 1 "only be called from that node" g alpha call "$PFX_B/3" Measure "{\"target\":\"glow://$ID_A/3\",\"count\":5}"
expect_out "deadline" 1 "deadline|timeout" g alpha -t 300 call "$PFX_B/3" Echo '{"delay_ms":3000}'
expect_out "--json error object" 1 "\"code\" *: *\"NOT_FOUND\"" g alpha --json call "$PFX_B/99" Info
expect_out "remote nodes may not stop a node" 1 "only be called from that node" g alpha call "$PFX_B/0" Shutdown
expect_out "remote nodes may not terminate processes" 1 "only be called from that node" g alpha call "$PFX_B/2" Terminate
expect_out "remote nodes may not make a node dial" 1 "only be called from that node" g alpha call "$PFX_B/0" Connect '{"address":"127.0.0.1:1"}'
expect_out "terminating the core process is refused" 1 "cannot be terminated" g beta call 1 Terminate
expect_out "terminate beta's diag process locally" 0 "\\{" g beta call 2 Terminate
expect_out "its resource is gone" 1 "no such resource" g alpha call "$PFX_B/3" Echo
for c in status id links connect disconnect resources describe call stop init invite join name peers config; do
	expect_out "$c --help" 0 "Usage: glow" g alpha "$c" --help
done
expect_out "glow --help" 0 "Exit status" "$GLOW" --help
expect_out "unknown command" 2 "unknown command" "$GLOW" frobnicate
expect_out "missing argument" 2 "Usage" g alpha describe
expect_out "disconnect beta" 0 "disconnected" g alpha disconnect "$PFX_B"
sleep 0.3
expect_out "beta noticed" 0 "no links" g beta links
expect_out "calls to beta now fail fast" 1 "unreachable" g alpha call "glow://$ID_B/0" Info

# Identity safety: a readable key stops the node, with the fix in the message.
g beta stop >/dev/null
wait "$PID_beta"
rc=$?
[ "$rc" = 0 ] && ok "glow stop stops beta cleanly" || not_ok "glow stop stops beta cleanly (exit $rc)"
chmod 644 "$DIR_beta/identity.key"
expect_out "group/world-readable key refused" 1 "chmod 600" "$GLOWD" -d "$DIR_beta" -l 127.0.0.1:0
chmod 600 "$DIR_beta/identity.key"
start_node beta
[ "$(g beta id)" = "$ID_B" ] && ok "identity survives a restart" || not_ok "identity survives a restart"
chmod 644 "$DIR_beta/user.key"
expect_out "a readable user key is refused too" 1 "chmod 600" "$GLOWD" -d "$DIR_beta" -l 127.0.0.1:0
chmod 600 "$DIR_beta/user.key"
expect_out "the user survives a restart" 0 "$(g alpha --json status | sed -n 's/.*"user_id" : "\([^"]*\)".*/\1/p')" g beta status

# Live settings: applied and saved without a restart, bad values refused.
# Beta just restarted: let the devices relink (the book redials) before
# noting which links exist; each must still be there after the changes.
for _ in $(seq 1 50); do [ "$(g alpha --json links | grep -c '"peer_id"')" -ge 1 ] && break; sleep 0.1; done
sleep 0.5
links_before=$(g alpha --json links | sed -n 's/.*"link_id" : \([0-9]*\).*/\1/p' | sort | tr '\n' ' ')
expect_out "config get lists settings" 0 "link.keepalive_ms" g alpha config get
expect_out "config set applies a setting" 0 "link.keepalive_ms *= 4000" g alpha config set link.keepalive_ms 4000
expect_out "config get shows it" 0 "^4000$" g alpha config get link.keepalive_ms
grep -q "keepalive_ms=4000" "$DIR_alpha/glowd.conf" && ok "config set writes glowd.conf" || not_ok "config set writes glowd.conf"
expect_out "a value out of range is refused" 1 "from 100 to 600000" g alpha config set link.keepalive_ms 5
expect_out "a rule between settings is checked" 1 "dead_ms must be larger" g alpha config set link.keepalive_ms 9000
expect_out "an unknown setting is refused" 1 "no setting" g alpha config set frob.nicate 1
expect_out "config set node.listen opens a listener live" 0 "127.0.0.1:0" g alpha config set node.listen "127.0.0.1:0;127.0.0.1:0"
[ "$(g alpha --json status | grep -c '"127.0.0.1:')" -ge 2 ] && ok "alpha listens on two addresses now" \
	|| not_ok "alpha listens on two addresses now"
links_after=$(g alpha --json links | sed -n 's/.*"link_id" : \([0-9]*\).*/\1/p' | sort | tr '\n' ' ')
dropped=""
for l in $links_before; do case " $links_after " in *" $l "*) ;; *) dropped="$dropped $l" ;; esac; done
[ -n "$links_before" ] && [ -z "$dropped" ] && ok "changing settings dropped no link (links $links_before)" \
	|| not_ok "changing settings dropped no link (before: $links_before; after: $links_after)"
expect_out "glow name renames the node live" 0 "now called" g alpha name "alpha prime"
expect_out "and peers see the name (Sync)" 0 "alpha prime" g alpha name
expect_out "a name with a control character is refused" 1 "control characters" g alpha name "$(printf 'a\tb')"
expect_out "glowd --help" 0 "state-dir" "$GLOWD" --help
expect_out "glowd bad flag" 2 "Unknown option|unknown" "$GLOWD" --frob
finish
