/* mcast.c — the LAN beacon socket (contract in mcast.h).
 *
 * Layer: transport. Linux socket API: ip_mreqn by interface index for
 * IPv4, ipv6_mreq for IPv6, IP_PKTINFO / IPV6_RECVPKTINFO for the arrival
 * interface and the destination. Joined interfaces are kept per family as
 * arrays of interface indexes; a rescan diffs them against getifaddrs().
 */
#include "transport/mcast.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "transport/transport.h"
#include "wire/beacon.h"

typedef struct {
	GlowMcast *m;      /* the owner, for the fd watch callback */
	int family;        /* AF_INET or AF_INET6 */
	int fd;            /* -1: this family is not available */
	GlowFdWatch *watch;
	GArray *joined;    /* guint ifindex, in join order */
} McastSock;

struct GlowMcast {
	GMainContext *ctx;
	guint16 port;
	GlowMcastRecvFn fn;
	gpointer user;
	struct in_addr group4;
	struct in6_addr group6;
	McastSock s4, s6;
	GSource *rescan;
};

/* --- interfaces ------------------------------------------------------------ */

static gboolean has_index(const GArray *a, guint ifindex)
{
	for (guint i = 0; i < a->len; i++)
		if (g_array_index(a, guint, i) == ifindex)
			return TRUE;
	return FALSE;
}

static void add_unique(GArray *a, guint ifindex)
{
	if (!has_index(a, ifindex))
		g_array_append_val(a, ifindex);
}

/* Interfaces UP and MULTICAST with an address of each family. FALSE when
 * the list could not be read (the caller then keeps what it has). */
static gboolean scan_interfaces(GArray *want4, GArray *want6)
{
	struct ifaddrs *list, *ifa;

	if (getifaddrs(&list) != 0) {
		g_debug("mcast: getifaddrs: %s", g_strerror(errno));
		return FALSE;
	}
	for (ifa = list; ifa; ifa = ifa->ifa_next) {
		guint ifindex;

		if (!ifa->ifa_addr || !ifa->ifa_name)
			continue;
		if ((ifa->ifa_flags & (IFF_UP | IFF_MULTICAST)) != (IFF_UP | IFF_MULTICAST))
			continue;
		if (ifa->ifa_addr->sa_family != AF_INET && ifa->ifa_addr->sa_family != AF_INET6)
			continue;
		ifindex = if_nametoindex(ifa->ifa_name);
		if (ifindex == 0)
			continue; /* gone since getifaddrs */
		add_unique(ifa->ifa_addr->sa_family == AF_INET ? want4 : want6, ifindex);
	}
	freeifaddrs(list);
	return TRUE;
}

static int membership(GlowMcast *m, McastSock *s, guint ifindex, gboolean join)
{
	if (s->family == AF_INET) {
		struct ip_mreqn r = { .imr_multiaddr = m->group4, .imr_ifindex = (int)ifindex };
		return setsockopt(s->fd, IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, &r, sizeof r);
	}
	struct ipv6_mreq r = { .ipv6mr_multiaddr = m->group6, .ipv6mr_interface = ifindex };
	return setsockopt(s->fd, IPPROTO_IPV6, join ? IPV6_JOIN_GROUP : IPV6_LEAVE_GROUP, &r, sizeof r);
}

/* Makes s->joined equal to want, as far as the kernel lets it. */
static void sync_joins(GlowMcast *m, McastSock *s, const GArray *want)
{
	if (s->fd < 0)
		return;
	for (guint i = s->joined->len; i-- > 0;) {
		guint ifindex = g_array_index(s->joined, guint, i);
		if (has_index(want, ifindex))
			continue;
		/* Fails with ENODEV when the interface is gone, which drops it just as well. */
		(void)membership(m, s, ifindex, FALSE);
		g_array_remove_index(s->joined, i);
		g_debug("mcast: left the IPv%d group on interface %u", s->family == AF_INET ? 4 : 6, ifindex);
	}
	for (guint i = 0; i < want->len; i++) {
		guint ifindex = g_array_index(want, guint, i);
		if (has_index(s->joined, ifindex))
			continue;
		/* EADDRINUSE: already a member (the kernel kept it across a rescan). Anything
		 * else (ENOBUFS past igmp_max_memberships, ENODEV) is tried again next scan. */
		if (membership(m, s, ifindex, TRUE) != 0 && errno != EADDRINUSE) {
			g_debug("mcast: joining the IPv%d group on interface %u: %s", s->family == AF_INET ? 4 : 6,
			        ifindex, g_strerror(errno));
			continue;
		}
		g_array_append_val(s->joined, ifindex);
		g_debug("mcast: joined the IPv%d group on interface %u", s->family == AF_INET ? 4 : 6, ifindex);
	}
}

static void rescan(GlowMcast *m)
{
	g_autoptr(GArray) want4 = g_array_new(FALSE, FALSE, sizeof(guint));
	g_autoptr(GArray) want6 = g_array_new(FALSE, FALSE, sizeof(guint));

	if (!scan_interfaces(want4, want6))
		return;
	sync_joins(m, &m->s4, want4);
	sync_joins(m, &m->s6, want6);
}

static gboolean rescan_tick(gpointer user)
{
	rescan(user);
	return G_SOURCE_CONTINUE;
}

/* --- receiving ------------------------------------------------------------- */

/* Arrival interface and destination address from the pktinfo control
 * message. FALSE when there is none (then the datagram is not trusted to be
 * a group datagram at all). */
static gboolean read_pktinfo(McastSock *s, struct msghdr *msg, guint *ifindex, gboolean *to_group,
                             const GlowMcast *m)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (s->family == AF_INET && c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof pi);
			*ifindex = (guint)pi.ipi_ifindex;
			*to_group = pi.ipi_addr.s_addr == m->group4.s_addr;
			return TRUE;
		}
		if (s->family == AF_INET6 && c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
			struct in6_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof pi);
			*ifindex = pi.ipi6_ifindex;
			*to_group = memcmp(&pi.ipi6_addr, &m->group6, sizeof m->group6) == 0;
			return TRUE;
		}
	}
	return FALSE;
}

/* Reads one datagram and hands it on if it is a group datagram of an
 * acceptable size. FALSE when the socket has nothing more to give now. */
static gboolean read_one(GlowMcast *m, McastSock *s)
{
	uint8_t buf[GLOW_MCAST_MAX_DATAGRAM];
	struct sockaddr_storage from;
	union {
		struct cmsghdr align;
		uint8_t b[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(struct in_pktinfo))];
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf };
	struct msghdr msg = {
		.msg_name = &from, .msg_namelen = sizeof from,
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.b, .msg_controllen = sizeof ctl.b,
	};
	guint ifindex = 0;
	gboolean to_group = FALSE;
	ssize_t n;

	/* MSG_TRUNC: n is the datagram's real length, so oversize is seen even
	 * though only sizeof buf bytes were copied. */
	n = recvmsg(s->fd, &msg, MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0) {
		if (errno == EINTR)
			return TRUE;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			g_debug("mcast: recvmsg: %s", g_strerror(errno));
		return FALSE;
	}
	if ((size_t)n > sizeof buf || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
		return TRUE; /* oversize (or pktinfo lost): dropped, but it was a read */
	if (!read_pktinfo(s, &msg, &ifindex, &to_group, m) || !to_group)
		return TRUE; /* unicast to our port: beacons are only taken from the group */
	m->fn(buf, (size_t)n, (const struct sockaddr *)&from, msg.msg_namelen, ifindex, m->user);
	return TRUE;
}

static gboolean on_readable(int fd, GIOCondition cond, gpointer user)
{
	McastSock *s = user;
	GlowMcast *m = s->m;

	if (cond & G_IO_ERR) {
		/* A pending socket error (ICMP) keeps the fd "ready": read it to clear it. */
		int err = 0;
		socklen_t len = sizeof err;
		(void)getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	}
	/* Bounded: what is left wakes us again on the next loop iteration,
	 * after every other ready source had its turn. */
	for (guint i = 0; i < GLOW_MCAST_BURST; i++)
		if (!read_one(m, s))
			break;
	return G_SOURCE_CONTINUE;
}

/* --- sockets ---------------------------------------------------------------- */

static gboolean set_int(int fd, int level, int opt, int value, const char *name, GError **error)
{
	if (setsockopt(fd, level, opt, &value, sizeof value) == 0)
		return TRUE;
	g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "%s: %s", name, g_strerror(errno));
	return FALSE;
}

static gboolean setup_options(int fd, int family, GError **error)
{
	if (!set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR", error))
		return FALSE;
	if (family == AF_INET) {
		/* Only the groups this socket joined, not every group any socket on the
		 * host joined on that port (Linux's default). Best effort. */
		(void)set_int(fd, IPPROTO_IP, IP_MULTICAST_ALL, 0, "IP_MULTICAST_ALL", NULL);
		return set_int(fd, IPPROTO_IP, IP_MULTICAST_TTL, 1, "IP_MULTICAST_TTL", error) &&
		       set_int(fd, IPPROTO_IP, IP_MULTICAST_LOOP, 1, "IP_MULTICAST_LOOP", error) &&
		       set_int(fd, IPPROTO_IP, IP_PKTINFO, 1, "IP_PKTINFO", error);
	}
#ifdef IPV6_MULTICAST_ALL
	(void)set_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0, "IPV6_MULTICAST_ALL", NULL);
#endif
	/* V6ONLY: the IPv4 socket has the port for IPv4. */
	return set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1, "IPV6_V6ONLY", error) &&
	       set_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 1, "IPV6_MULTICAST_HOPS", error) &&
	       set_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 1, "IPV6_MULTICAST_LOOP", error) &&
	       set_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, "IPV6_RECVPKTINFO", error);
}

static int open_socket(int family, guint16 port, GError **error)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sslen;
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "socket: %s", g_strerror(errno));
		return -1;
	}
	if (!setup_options(fd, family, error))
		goto fail;
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		a->sin_addr.s_addr = htonl(INADDR_ANY);
		sslen = sizeof *a;
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		a->sin6_addr = in6addr_any;
		sslen = sizeof *a;
	}
	if (bind(fd, (struct sockaddr *)&ss, sslen) != 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "bind to port %u: %s", port,
		            g_strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

static void sock_init(GlowMcast *m, McastSock *s, int family, GError **error)
{
	s->m = m;
	s->family = family;
	s->joined = g_array_new(FALSE, FALSE, sizeof(guint));
	s->fd = open_socket(family, m->port, error);
	if (s->fd >= 0)
		s->watch = glow_fd_watch_new(m->ctx, s->fd, G_IO_IN, on_readable, s);
}

static void sock_close(GlowMcast *m, McastSock *s)
{
	glow_fd_watch_free(s->watch);
	s->watch = NULL;
	if (s->fd >= 0) {
		/* Leaving explicitly is only politeness: close() leaves every group too. */
		for (guint i = 0; i < s->joined->len; i++)
			(void)membership(m, s, g_array_index(s->joined, guint, i), FALSE);
		close(s->fd);
	}
	s->fd = -1;
	if (s->joined)
		g_array_unref(s->joined);
	s->joined = NULL;
}

GlowMcast *glow_mcast_new(GMainContext *ctx, guint16 port, GlowMcastRecvFn fn, gpointer user, GError **error)
{
	g_autoptr(GError) err4 = NULL;
	g_autoptr(GError) err6 = NULL;
	GlowMcast *m;

	g_return_val_if_fail(fn != NULL, NULL);
	if (port == 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		            "multicast: port 0 (both families must share one known port)");
		return NULL;
	}
	m = g_new0(GlowMcast, 1);
	m->ctx = ctx ? g_main_context_ref(ctx) : g_main_context_ref_thread_default();
	m->port = port;
	m->fn = fn;
	m->user = user;
	inet_pton(AF_INET, GLOW_BEACON_GROUP4, &m->group4);
	inet_pton(AF_INET6, GLOW_BEACON_GROUP6, &m->group6);
	sock_init(m, &m->s4, AF_INET, &err4);
	sock_init(m, &m->s6, AF_INET6, &err6);
	if (m->s4.fd < 0 && m->s6.fd < 0) {
		g_set_error(error, G_IO_ERROR, err4->code, "multicast on port %u: IPv4: %s; IPv6: %s", port,
		            err4->message, err6->message);
		glow_mcast_free(m);
		return NULL;
	}
	if (err4)
		g_debug("mcast: no IPv4: %s", err4->message);
	if (err6)
		g_debug("mcast: no IPv6: %s", err6->message);
	rescan(m);
	m->rescan = glow_timer_new(m->ctx, GLOW_MCAST_RESCAN_MS, rescan_tick, m);
	return m;
}

void glow_mcast_free(GlowMcast *m)
{
	if (!m)
		return;
	if (m->rescan) {
		g_source_destroy(m->rescan);
		g_source_unref(m->rescan);
	}
	sock_close(m, &m->s4);
	sock_close(m, &m->s6);
	g_main_context_unref(m->ctx);
	g_free(m);
}

/* --- sending ------------------------------------------------------------------ */

static gboolean send4(GlowMcast *m, guint ifindex, const uint8_t *data, size_t len)
{
	struct ip_mreqn via = { .imr_ifindex = (int)ifindex };
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(m->port), .sin_addr = m->group4 };

	if (setsockopt(m->s4.fd, IPPROTO_IP, IP_MULTICAST_IF, &via, sizeof via) != 0)
		return FALSE;
	return sendto(m->s4.fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof to) == (ssize_t)len;
}

static gboolean send6(GlowMcast *m, guint ifindex, const uint8_t *data, size_t len)
{
	int via = (int)ifindex;
	/* The scope id names the interface as well; both agree. */
	struct sockaddr_in6 to = { .sin6_family = AF_INET6, .sin6_port = htons(m->port),
		                   .sin6_addr = m->group6, .sin6_scope_id = ifindex };

	if (setsockopt(m->s6.fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &via, sizeof via) != 0)
		return FALSE;
	return sendto(m->s6.fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof to) == (ssize_t)len;
}

guint glow_mcast_send(GlowMcast *m, const uint8_t *data, size_t len)
{
	guint ok = 0;

	if (len > GLOW_MCAST_MAX_DATAGRAM)
		return 0; /* receivers would drop it */
	rescan(m);
	for (guint i = 0; m->s4.fd >= 0 && i < m->s4.joined->len; i++)
		ok += send4(m, g_array_index(m->s4.joined, guint, i), data, len);
	for (guint i = 0; m->s6.fd >= 0 && i < m->s6.joined->len; i++)
		ok += send6(m, g_array_index(m->s6.joined, guint, i), data, len);
	return ok;
}

guint glow_mcast_interfaces(const GlowMcast *m)
{
	guint n = m->s4.joined->len;

	for (guint i = 0; i < m->s6.joined->len; i++)
		n += !has_index(m->s4.joined, g_array_index(m->s6.joined, guint, i));
	return n;
}
