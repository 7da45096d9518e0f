#!/usr/bin/env bash
# Two hosts in their own network namespaces, one glowd each, linked over a
# veth wire: they link and call each other; the wire is cut on one side
# (the other sees no carrier loss, only silence) and both must declare the
# link dead within 10 s; mended, they link again. Then a second pair with
# fast liveness settings: detection within ~1 s, and its idle cost.
#
#   [alpha] alpha-beta 198.18.1.1 ---- beta-alpha 198.18.1.2 [beta]
. "$(dirname "$0")/netns.sh"
nb_require

nb_host alpha
nb_host beta
nb_wire alpha beta 1
nb_node alpha 198.18.1.1
nb_node beta 198.18.1.2
ID_B=$(g beta id)

expect_out "alpha links to beta across the wire" 0 "linked to $ID_B" g alpha connect 198.18.1.2:7177 "$ID_B"
expect_out "alpha calls beta" 0 "\"name\" : \"beta\"" g alpha call "glow://$ID_B/0" Info
expect_out "alpha cannot reach a host that is not on its wire" 1 "cannot reach|unreachable|timed out" \
	g alpha -t 3000 connect 198.18.9.9:7177

cut=$(date +%s%3N)
nb_cut alpha beta
t=$(nb_wait_links alpha 0 10 "$cut") && ok "alpha declares the link dead (${t}s after the cut)" \
	|| not_ok "alpha declares the link dead within 10 s"
t=$(nb_wait_links beta 0 10 "$cut") && ok "beta, which saw no carrier loss, declares it dead (${t}s after the cut)" \
	|| not_ok "beta declares the link dead within 10 s"
expect_out "calls to beta fail fast while cut" 1 "unreachable" g alpha call "glow://$ID_B/0" Info

nb_mend alpha beta
sleep 0.5
expect_out "after mending, alpha links again" 0 "linked to $ID_B" g alpha connect 198.18.1.2:7177 "$ID_B"
expect_out "and calls beta again" 0 "\"name\" : \"beta\"" g alpha call "glow://$ID_B/0" Info
# Faster liveness (what routing will want for 1 s failover): keepalive
# 250 ms, dead after 900 ms. A one-sided cut is seen by both ends within
# about a second; the idle cost of that is measured and reported.
FAST='[link]
keepalive_ms=250
dead_ms=900'
nb_host gamma
nb_host delta
nb_wire gamma delta 2
nb_node gamma 198.18.2.1 "$FAST"
nb_node delta 198.18.2.2 "$FAST"
ID_D=$(g delta id)
expect_out "gamma links to delta (fast liveness)" 0 "linked to $ID_D" g gamma connect 198.18.2.2:7177 "$ID_D"
b0=$(nb_link_bytes gamma)
sleep 5
b1=$(nb_link_bytes gamma)
echo "# idle link with keepalive 250 ms: $(((b1 - b0) / 5)) bytes/s sent by each end (Glow records only, no TCP/IP headers)"
[ $(((b1 - b0) / 5)) -lt 400 ] && ok "idle keepalive traffic is small ($(((b1 - b0) / 5)) B/s per direction)" \
	|| not_ok "idle keepalive traffic is small (got $(((b1 - b0) / 5)) B/s)"
cut=$(date +%s%3N)
nb_cut gamma delta
t=$(nb_wait_links gamma 0 5 "$cut") && ok "fast liveness: gamma sees the cut in ${t}s" || not_ok "gamma sees the cut within 5 s"
t=$(nb_wait_links delta 0 5 "$cut") && ok "fast liveness: delta (no carrier loss) sees it in ${t}s" \
	|| not_ok "delta sees the cut within 5 s"
[ "${t%%.*}" -lt 2 ] && ok "far end detects a silent peer within 2 s" || not_ok "far end detects a silent peer within 2 s (${t}s)"
finish
