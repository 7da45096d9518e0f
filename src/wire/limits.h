/* limits.h — every wire constant and limit of Glow in one place.
 *
 * Layer: wire. Changing a value here changes the protocol or a resource
 * bound; docs/firefly.md quotes these numbers and must change with them.
 */
#pragma once

/* Firefly packets (docs/firefly.md "Packet header"). */
#define GLOW_PACKET_VERSION 1
#define GLOW_PACKET_HEADER_LEN 112
#define GLOW_PACKET_MAX_PAYLOAD (1024 * 1024)  /* 1 MiB */
#define GLOW_PACKET_MAX_LEN (GLOW_PACKET_HEADER_LEN + GLOW_PACKET_MAX_PAYLOAD)
#define GLOW_HOP_LIMIT_DEFAULT 16

/* End-to-end sessions (docs/firefly.md "End-to-end sessions"). */
#define GLOW_E2E_NOISE_PROTOCOL "Noise_IK_25519_ChaChaPoly_BLAKE2b"
#define GLOW_E2E_PROLOGUE "glow-e2e-v1"
/* SEALED payload = u32 receiver index | u64 counter | AEAD(inner header + payload) */
#define GLOW_E2E_OVERHEAD (4 + 8 + GLOW_PACKET_HEADER_LEN + 16)
#define GLOW_E2E_INIT_LEN (32 + 48 + 4 + 16)      /* IK message 1 carrying the sender index */
#define GLOW_E2E_RESP_LEN (4 + 32 + 4 + 16)       /* receiver index | IK message 2 carrying the sender index */
#define GLOW_E2E_HANDSHAKE_MS 5000                /* a handshake not answered by then fails */
#define GLOW_E2E_RETRY_MS 1000                    /* message 1 is sent again this often meanwhile */
#define GLOW_E2E_REKEY_MS (10u * 60 * 1000)       /* a session this old is replaced on next use */
#define GLOW_E2E_EXPIRE_MS (15u * 60 * 1000)      /* ... and dropped at this age */
#define GLOW_E2E_REKEY_MESSAGES (1ull << 40)
#define GLOW_E2E_REJECT_MESSAGES (1ull << 48)     /* counters at or above are refused */
#define GLOW_E2E_REPLAY_WINDOW 1024               /* counters accepted out of order */
#define GLOW_E2E_MAX_PEERS 4096
#define GLOW_E2E_SESSIONS_PER_PEER 4
#define GLOW_E2E_HANDSHAKES_PER_SEC 8             /* answered per claimed initiator */
#define GLOW_E2E_HANDSHAKES_NODE_PER_SEC 512      /* answered in all (each costs four X25519) */
#define GLOW_E2E_UNKNOWN_NODE_PER_SEC 16          /* handshakes started because of unknown sessions */
#define GLOW_E2E_QUEUE_PER_PEER (1024u * 1024 * 2) /* bytes waiting for a handshake */
#define GLOW_E2E_QUEUE_MAX (16u * 1024 * 1024)

/* Routing and relaying (docs/routing.md). */
#define GLOW_ROUTER_TICK_MS 200
#define GLOW_RELAY_QUEUE_SHARE 2                  /* relayed packets may fill 1/2 of a link's queue */
#define GLOW_RELAY_SHAPER_MAX (8u * 1024 * 1024)  /* relayed bytes waiting for relay_rate tokens */

/* Link records (docs/firefly.md "Link layer"). */
#define GLOW_LINK_PROLOGUE "glow-link-v1"
#define GLOW_LINK_NOISE_PROTOCOL "Noise_XX_25519_ChaChaPoly_BLAKE2b"
#define GLOW_LINK_SIG_CONTEXT "glow-link-v1 noise static"
#define GLOW_LINK_MAX_RECORD 65535                /* bytes after the length prefix (type + ciphertext) */
#define GLOW_LINK_MAX_RECORD_PLAIN (GLOW_LINK_MAX_RECORD - 1 - 16) /* type byte + tag */
#define GLOW_LINK_MAX_HELLO 1024                  /* handshake payload bytes */
#define GLOW_LINK_REKEY_RECORDS (1u << 20)        /* rekey after this many records sent */
#define GLOW_LINK_REKEY_SECONDS 600               /* ... or this long since the last rekey */
#define GLOW_LINK_KEEPALIVE_MS 6000               /* idle: ping after hearing nothing for 0.85-1 of this */
#define GLOW_LINK_DEAD_MS 8500                    /* no record for this long: link is dead */
#define GLOW_LINK_ROUTING_RESERVE (4u * 1024 * 1024) /* routing packets may exceed the send queue limit by this much: a whole table of 65536 origins (~2.7 MB) fits */
#define GLOW_LINK_PROBE_MS 200                    /* sending, peer silent this long: probe it */
#define GLOW_LINK_BUSY_DEAD_MS 750                /* sending, peer silent this long: link is dead */
#define GLOW_LINK_HANDSHAKE_MS 5000               /* a handshake must finish within this */
#define GLOW_LINK_MAX_PENDING_HANDSHAKES 64       /* inbound handshakes in progress, per node */
#define GLOW_LINK_MAX_LINKS 1024
#define GLOW_LINK_SENDQ_MAX (8u * 1024 * 1024)    /* bytes queued per link before back-pressure */

/* Control socket. */
#define GLOW_CONTROL_SOCKET_NAME "glowd.sock"
#define GLOW_CONTROL_MAX_CLIENTS 128
#define GLOW_CONTROL_SENDQ_MAX (16u * 1024 * 1024)

/* RPC. */
#define GLOW_RPC_DEFAULT_DEADLINE_MS 10000
#define GLOW_RPC_MAX_DEADLINE_MS (24u * 3600 * 1000)
#define GLOW_RPC_MAX_CALLS_PER_PEER 4096          /* calls in progress per caller node (then TOO_FAST) */
#define GLOW_RPC_STREAM_WINDOW 32                 /* default initial credit, items */

/* Resource ids with a fixed meaning on every node. */
#define GLOW_RESOURCE_NODE 0
#define GLOW_RESOURCE_CORE_PROCESS 1
#define GLOW_RESOURCE_DIAG_PROCESS 2
#define GLOW_RESOURCE_DIAG 3
#define GLOW_RESOURCE_PAIRING 4          /* glow.Pairing, owned by the core process */
#define GLOW_RESOURCE_RENDEZVOUS_PROCESS 5
#define GLOW_RESOURCE_RENDEZVOUS 6       /* glow.Rendezvous */
#define GLOW_RESOURCE_FIRST_DYNAMIC 16
#define GLOW_RESOURCE_EPHEMERAL_BASE 0x8000000000000000ull /* caller endpoints */
