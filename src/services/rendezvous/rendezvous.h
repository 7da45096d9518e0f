/* rendezvous.h — the built-in "rendezvous" process and its glow.Rendezvous
 * resource: any node with a reachable address helps others find each other
 * and pass signaling messages (the browser node's WebRTC offers and NAT
 * traversal will use it).
 *
 * Layer: services. Public: any node may call it, so everything is bounded
 * (GLOW_RENDEZVOUS_MAX_NODES registrations, 8 addresses each, 16 KiB per
 * signal, a signal rate per caller, one listener per node). Callers are
 * the authenticated source nodes of their calls; nobody can register or
 * listen for another node. Lookup finds only nodes that registered
 * (Announce or Listen); their address as seen here, when they are linked,
 * is added (what NAT traversal needs). The stop hook ends every open
 * Listen stream.
 */
#pragma once

#include "node/node.h"

#define GLOW_RENDEZVOUS_MAX_NODES 1024
#define GLOW_RENDEZVOUS_SIGNAL_MAX 16384
#define GLOW_RENDEZVOUS_SIGNALS_PER_SEC 50

GlowProcess *glow_rendezvous_start(GlowNode *node, GError **error);
