#!/usr/bin/env bash
# Two hosts in their own network namespaces, one glowd each, linked over a
# veth wire: they link and call each other; the wire is cut on one side
# (the other sees no carrier loss, only silence) and both must declare the
# link dead within 10 s; mended, they link again.
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
finish
