/* glow-bench — how close Glow gets to the machine it runs on.
 *
 * One run measures the floor: (a) loopback TCP with plain sockets and
 * (b) one core of ChaCha20-Poly1305, the link cipher; then Glow on top of
 * it: (c) bulk throughput over one link, (d) call latency and call rate,
 * (e) glowd memory. It prints every figure with its unit, target and ratio
 * to the floor.
 *
 * It is a measuring instrument, not a test: it exits non-zero only when it
 * could not measure (glowd would not start, crashed, hung or answered
 * nonsense), never because a target was missed.
 *
 * It runs real glowd processes (GLOWD, default the one built beside it) with
 * state dirs under one mkdtemp dir in /tmp. Every child is killed and that
 * dir removed at exit, on error and on SIGINT/SIGTERM/SIGHUP; every wait has
 * a timeout, and a watchdog ends a run that takes far longer than it should.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "glow/client.h"
#include "rpc/iface.h"
#include "rpc/rpc.h"
#include "wire/nodeid.h"
#include "glow/common.pb-c.h"
#include "glow/diag.pb-c.h"
#include "glow/node.pb-c.h"
#include "transport/loop.h"

#ifndef GLOWD_PATH
#define GLOWD_PATH "glowd"
#endif

/* Targets the figures are held against. */
#define TARGET_BULK_RATIO 0.70   /* (c) / min(a, b) */
#define TARGET_P50_US 50.0       /* (d) */
#define TARGET_RSS_MIB 8.0       /* (e) */

#define TCP_CHUNK (256 * 1024)
#define PING_LEN 16
#define AEAD_BUF (64 * 1024)
#define BULK_ITEM 65536u
#define BULK_MAX_ITEMS 40000u
#define BULK_MIN_ITEMS 200u
#define RATE_INFLIGHT 64u
#define LEAVES 10
#define MAX_CHILDREN 32

/* Per-step limits: a step that exceeds one fails with a clear message. */
#define BANNER_TIMEOUT_MS 10000
#define CLIENT_TIMEOUT_MS 5000
#define SMALL_CALL_MS 5000
#define CONNECT_CALL_MS 10000
#define LINKS_WAIT_MS 20000
#define STOP_WAIT_MS 3000
#define IO_TIMEOUT_MS 5000

typedef struct {
	gboolean quick, json;
	guint64 items;          /* (c) items per run; 0 = sized for bulk_secs, at most BULK_MAX_ITEMS */
	double tcp_secs, aead_secs, bulk_secs;
	guint pingpong_n, warm_n, latency_n, rate_n, warm_items, runs;
	guint watchdog_s;
	const char *glowd;
	int busy_poll_us;        /* passed to every glowd; -1 = glowd's default */
} Settings;

/* Where the two ends of a round trip run. On a VM a loopback round trip
 * costs ~3x more across two CPUs (a cross-CPU wake-up) than on one (a direct
 * hand-off), and an unpinned pair lands either way; so latency is measured
 * unpinned (as deployed) and also pinned both ways, to compare like with like. */
typedef enum { PLACE_FREE, PLACE_ONE_CPU, PLACE_TWO_CPUS, N_PLACES } Place;
static const char *const place_names[N_PLACES] = { "unpinned", "pinned to one CPU", "pinned to two CPUs" };
static const char *const place_keys[N_PLACES] = { "unpinned", "one_cpu", "two_cpus" };

/* Every figure starts as NAN ("not measured"); a section that fails keeps
 * its error text and the run goes on with the others. */
typedef struct {
	double tcp_gbps, tcp_p50_us[N_PLACES], tcp_p99_us[N_PLACES];
	double tcp_spin_p50_us, tcp_spin_p99_us; /* unpinned, both ends busy-polling as glowd does */
	double aead_gbps;
	double bulk_gbps, bulk_runs[8];
	guint n_bulk_runs;
	guint64 bulk_items;
	double call_p50_us[N_PLACES], call_p99_us[N_PLACES], calls_per_sec;
	double call_off_p50_us, call_off_p99_us; /* unpinned, glowd --busy-poll-us 0: the baseline */
	double rss_idle_mib, rss_links_mib, rss_busy_mib;
	char *err_a, *err_b, *err_c, *err_d, *err_e;
	GPtrArray *notes; /* things seen on the way: glowd exit trouble, ... */
} Results;

/* --- children and temp files: registry and cleanup ------------------------------------ */

typedef struct {
	pid_t pid;
	char name[32];
	gboolean reaped;
	int status;
	gboolean stopping; /* we sent SIGTERM: dying of it is expected */
} Child;

/* The registry is shared with the signal thread, which may clean up at any
 * moment; the lock makes fork+register and cleanup mutually exclusive so no
 * child escapes the cleanup. */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static Child children[MAX_CHILDREN];
static int n_children;
static char *root_dir;
static gboolean cleaned;
static guint watchdog_s;

static Child *child_find(pid_t pid)
{
	for (int i = 0; i < n_children; i++)
		if (children[i].pid == pid)
			return &children[i];
	return NULL;
}

static char *describe_status(int status)
{
	if (WIFEXITED(status))
		return g_strdup_printf("exited with status %d", WEXITSTATUS(status));
	if (WIFSIGNALED(status))
		return g_strdup_printf("was killed by signal %d (%s)%s", WTERMSIG(status), strsignal(WTERMSIG(status)),
		                       WCOREDUMP(status) ? ", core dumped" : "");
	return g_strdup_printf("ended with wait status 0x%x", status);
}

/* Non-blocking: TRUE (and its wait status) once the child has ended. */
static gboolean child_ended_locked(Child *c)
{
	int st;
	if (!c->reaped && waitpid(c->pid, &st, WNOHANG) == c->pid) {
		c->reaped = TRUE;
		c->status = st;
	}
	return c->reaped;
}

static gboolean child_ended(pid_t pid, int *status)
{
	gboolean ended = FALSE;
	pthread_mutex_lock(&reg_lock);
	Child *c = child_find(pid);
	if (c && child_ended_locked(c)) {
		ended = TRUE;
		if (status)
			*status = c->status;
	}
	pthread_mutex_unlock(&reg_lock);
	return ended;
}

/* A clean stop is exit 0 after our SIGTERM; anything else is worth telling. */
static void note_stop(Child *c, gboolean forced, GPtrArray *notes)
{
	g_autofree char *how = describe_status(c->status);
	char *msg = NULL;
	if (forced)
		msg = g_strdup_printf("%s (pid %d) did not stop within %d ms of SIGTERM; killed it", c->name, c->pid,
		                      STOP_WAIT_MS);
	else if (!(WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0) &&
	         !(c->stopping && WIFSIGNALED(c->status) && WTERMSIG(c->status) == SIGTERM))
		msg = g_strdup_printf("%s (pid %d) %s", c->name, c->pid, how);
	if (!msg)
		return;
	if (notes)
		g_ptr_array_add(notes, msg);
	else {
		fprintf(stderr, "glow-bench: note: %s\n", msg);
		g_free(msg);
	}
}

/* SIGTERM, a bounded wait, then SIGKILL: the caller holds reg_lock. */
static void stop_children_locked(Child **list, int n, GPtrArray *notes)
{
	gint64 deadline = g_get_monotonic_time() + STOP_WAIT_MS * 1000;
	gboolean all;

	for (int i = 0; i < n; i++) {
		if (!child_ended_locked(list[i])) {
			list[i]->stopping = TRUE;
			kill(list[i]->pid, SIGTERM);
		}
	}
	do {
		all = TRUE;
		for (int i = 0; i < n; i++)
			all &= child_ended_locked(list[i]);
		if (!all)
			g_usleep(5000);
	} while (!all && g_get_monotonic_time() < deadline);
	for (int i = 0; i < n; i++) {
		gboolean forced = !list[i]->reaped;
		if (forced) {
			kill(list[i]->pid, SIGKILL);
			if (waitpid(list[i]->pid, &list[i]->status, 0) == list[i]->pid)
				list[i]->reaped = TRUE;
		}
		note_stop(list[i], forced, notes);
	}
}

static void child_stop(pid_t pid, GPtrArray *notes)
{
	pthread_mutex_lock(&reg_lock);
	Child *c = child_find(pid);
	/* One already reaped was reported when it was found dead. */
	if (c && !c->reaped)
		stop_children_locked(&c, 1, notes);
	pthread_mutex_unlock(&reg_lock);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	if (remove(path) < 0)
		fprintf(stderr, "glow-bench: cannot remove %s: %s\n", path, strerror(errno));
	return 0;
}

/* Idempotent; the caller holds reg_lock. */
static void cleanup_locked(GPtrArray *notes)
{
	Child *list[MAX_CHILDREN];
	int n = 0;

	if (cleaned)
		return;
	cleaned = TRUE;
	for (int i = 0; i < n_children; i++)
		if (!children[i].reaped)
			list[n++] = &children[i];
	stop_children_locked(list, n, notes);
	if (root_dir)
		nftw(root_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Called from main at the end and from atexit. */
static void cleanup_all(GPtrArray *notes)
{
	pthread_mutex_lock(&reg_lock);
	cleanup_locked(notes);
	pthread_mutex_unlock(&reg_lock);
}

static void cleanup_at_exit(void)
{
	cleanup_all(NULL);
}

/* Signals are blocked in every thread and taken here, in a normal thread
 * context, so cleanup can use waitpid, nftw and stdio safely. */
static void *signal_thread(void *arg)
{
	const sigset_t *set = arg;
	int sig = 0;
	while (sigwait(set, &sig) != 0)
		;
	if (sig == SIGALRM)
		fprintf(stderr, "glow-bench: gave up: the run took longer than %u s (a step hung); cleaning up\n",
		        watchdog_s);
	else
		fprintf(stderr, "glow-bench: interrupted by %s; cleaning up\n", strsignal(sig));
	/* The lock is never released: main, which sees its nodes die, must not
	 * go on to measure or report a torn-down run; it blocks at its next
	 * registry access (every failure path and the final cleanup make one)
	 * until _exit ends it. */
	pthread_mutex_lock(&reg_lock);
	cleanup_locked(NULL);
	_exit(sig == SIGALRM ? 1 : 128 + sig);
}

static sigset_t handled_signals;

static gboolean start_signal_thread(GError **error)
{
	pthread_t t;
	sigemptyset(&handled_signals);
	sigaddset(&handled_signals, SIGINT);
	sigaddset(&handled_signals, SIGTERM);
	sigaddset(&handled_signals, SIGHUP);
	sigaddset(&handled_signals, SIGALRM);
	/* Before any other thread exists, so they all inherit the mask. */
	pthread_sigmask(SIG_BLOCK, &handled_signals, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (pthread_create(&t, NULL, signal_thread, &handled_signals) != 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot start the signal thread");
		return FALSE;
	}
	pthread_detach(t);
	return TRUE;
}

/* Forks a registered child that runs fn (which must not return). The child
 * dies with us even if we are SIGKILLed (PDEATHSIG). */
static pid_t spawn(const char *name, void (*fn)(void *), void *arg, GError **error)
{
	pid_t parent = getpid(), pid;
	sigset_t none;

	pthread_mutex_lock(&reg_lock);
	if (cleaned || n_children == MAX_CHILDREN) {
		pthread_mutex_unlock(&reg_lock);
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot start %s: %s", name,
		            cleaned ? "shutting down" : "too many children");
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		sigemptyset(&none);
		pthread_sigmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		fn(arg);
		_exit(127);
	}
	if (pid > 0) {
		Child *c = &children[n_children++];
		memset(c, 0, sizeof *c);
		c->pid = pid;
		g_strlcpy(c->name, name, sizeof c->name);
	}
	pthread_mutex_unlock(&reg_lock);
	if (pid < 0)
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "cannot fork %s: %s", name,
		            g_strerror(errno));
	return pid;
}

/* --- small helpers ---------------------------------------------------------------------- */

static gint64 now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (gint64)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static gboolean set_errno(GError **error, const char *what)
{
	int e = errno;
	g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "%s: %s", what, g_strerror(e));
	return FALSE;
}

static void progress(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static void progress(const char *fmt, ...)
{
	va_list ap;
	fputs("glow-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int cmp_i64(const void *a, const void *b)
{
	gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
	return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The same percentile rule as glow.Diag's Measure, so (a) and (d) compare. */
static gint64 percentile(const gint64 *sorted, guint n, guint pct)
{
	return sorted[MIN(n - 1, (guint64)n * pct / 100)];
}

static cpu_set_t start_cpus; /* our affinity at start: what pinned processes go back to */
static int cpu_ids[2] = { -1, -1 }; /* the first two CPUs we may use; [1] = -1 with only one */

static void cpus_init(void)
{
	int k = 0;
	CPU_ZERO(&start_cpus);
	if (sched_getaffinity(0, sizeof start_cpus, &start_cpus) < 0)
		return;
	for (int c = 0; c < CPU_SETSIZE && k < 2; c++)
		if (CPU_ISSET(c, &start_cpus))
			cpu_ids[k++] = c;
}

/* The CPUs for the two ends at place p (-1: not pinned); FALSE if this
 * machine cannot offer p. */
static gboolean place_cpus(Place p, int *c0, int *c1)
{
	*c0 = p == PLACE_FREE ? -1 : cpu_ids[0];
	*c1 = p == PLACE_FREE ? -1 : p == PLACE_ONE_CPU ? cpu_ids[0] : cpu_ids[1];
	return p == PLACE_FREE || (*c0 >= 0 && *c1 >= 0);
}

/* Pins pid (0: the calling thread) to one CPU, or back to our start set. */
static gboolean pin(pid_t pid, int cpu, GError **error)
{
	cpu_set_t one;
	CPU_ZERO(&one);
	if (cpu >= 0)
		CPU_SET(cpu, &one);
	if (sched_setaffinity(pid, sizeof one, cpu >= 0 ? &one : &start_cpus) < 0)
		return set_errno(error, "sched_setaffinity");
	return TRUE;
}

/* Polls one fd for ev; FALSE with error on timeout. */
static gboolean wait_fd(int fd, short ev, int timeout_ms, const char *what, GError **error)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int n;
	do
		n = poll(&p, 1, timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return set_errno(error, what);
	if (n == 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "%s: nothing within %d ms", what, timeout_ms);
		return FALSE;
	}
	return TRUE;
}

/* --- (a) raw loopback TCP ---------------------------------------------------------------- */

static int tcp_listen_loopback(guint16 *port, GError **error)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		set_errno(error, "loopback listener");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static int tcp_connect_loopback(guint16 port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
	                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int tcp_accept_within(int lfd, GError **error)
{
	int fd;
	if (!wait_fd(lfd, POLLIN, IO_TIMEOUT_MS, "waiting for the loopback connection", error))
		return -1;
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		set_errno(error, "accept");
	return fd;
}

typedef struct {
	guint16 port;
	double secs;
	int err; /* errno of a failure, 0 = none */
} Sender;

/* Writes 256 KiB chunks for s->secs, then closes: the reader's EOF ends the
 * measurement. SO_SNDTIMEO bounds every write in case the reader stalls. */
static void *sender_main(void *p)
{
	Sender *s = p;
	struct timeval tv = { .tv_sec = IO_TIMEOUT_MS / 1000 };
	uint8_t *buf = g_malloc(TCP_CHUNK);
	gint64 end = now_ns() + (gint64)(s->secs * 1e9);
	int fd = tcp_connect_loopback(s->port);

	memset(buf, 0xa5, TCP_CHUNK);
	if (fd < 0) {
		s->err = errno;
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	while (now_ns() < end) {
		for (size_t off = 0; off < TCP_CHUNK;) {
			ssize_t n = send(fd, buf + off, TCP_CHUNK - off, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				s->err = errno;
				goto out;
			}
			off += (size_t)n;
		}
	}
out:
	if (fd >= 0)
		close(fd);
	g_free(buf);
	return NULL;
}

/* Reads to EOF; the rate is counted from the first byte to the last. */
static gboolean drain(int fd, double *gbps, GError **error)
{
	uint8_t *buf = g_malloc(TCP_CHUNK);
	guint64 bytes = 0;
	gint64 first = 0, last = 0;
	gboolean ok = FALSE;

	for (;;) {
		if (!wait_fd(fd, POLLIN, IO_TIMEOUT_MS, "reading the loopback stream", error))
			goto out;
		ssize_t n = recv(fd, buf, TCP_CHUNK, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			set_errno(error, "reading the loopback stream");
			goto out;
		}
		if (n == 0)
			break;
		last = now_ns();
		if (!first)
			first = last;
		bytes += (guint64)n;
	}
	if (last <= first) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "the loopback stream carried no data");
		goto out;
	}
	*gbps = (double)bytes / ((double)(last - first) * 1e-9) / 1e9;
	ok = TRUE;
out:
	g_free(buf);
	return ok;
}

static gboolean bench_tcp_throughput(const Settings *s, Results *r, GError **error)
{
	Sender snd = { .secs = s->tcp_secs };
	pthread_t t;
	int fd = -1, lfd = tcp_listen_loopback(&snd.port, error);
	gboolean ok;

	if (lfd < 0)
		return FALSE;
	if (pthread_create(&t, NULL, sender_main, &snd) != 0) {
		close(lfd);
		return set_errno(error, "starting the sender thread");
	}
	fd = tcp_accept_within(lfd, error);
	ok = fd >= 0 && drain(fd, &r->tcp_gbps, error);
	/* Closing first makes a still-writing sender fail fast, so the join is bounded. */
	if (fd >= 0)
		close(fd);
	close(lfd);
	pthread_join(t, NULL);
	if (ok && snd.err) {
		errno = snd.err;
		return set_errno(error, "the loopback sender failed");
	}
	return ok;
}

typedef struct {
	int lfd, cpu;
	guint spin_us; /* busy-poll this long before blocking */
} EchoArgs;

/* Busy-polls fd for up to spin_us, yielding the CPU between polls, as
 * glowd's loop does (src/transport/loop.c), so that the floor for a
 * busy-polling glowd is taken the same way. */
static void spin_readable(int fd, guint spin_us)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	gint64 end = now_ns() + (gint64)spin_us * 1000;
	while (spin_us && now_ns() < end) {
		if (poll(&p, 1, 0) > 0)
			return;
		sched_yield();
	}
}

/* The echo child: returns every byte it reads until EOF. alarm() bounds its
 * life should the parent never connect or never close. */
static void echo_child(void *arg)
{
	const EchoArgs *x = arg;
	int lfd = x->lfd, fd, one = 1;
	char buf[4096];
	alarm(120);
	if (x->cpu >= 0 && !pin(0, x->cpu, NULL))
		_exit(1);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		_exit(1);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	for (;;) {
		ssize_t n;
		spin_readable(fd, x->spin_us);
		n = read(fd, buf, sizeof buf);
		if (n <= 0)
			_exit(n == 0 ? 0 : 1);
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(fd, buf + off, (size_t)(n - off));
			if (w <= 0)
				_exit(1);
			off += w;
		}
	}
}

/* One 16-byte round trip, waiting for the answer with poll() like an event loop. */
static gboolean ping_once(int fd, guint spin_us, gint64 *ns, GError **error)
{
	char msg[PING_LEN] = "glow-bench-ping", back[PING_LEN];
	size_t got = 0;
	gint64 t0 = now_ns();

	if (send(fd, msg, sizeof msg, MSG_NOSIGNAL) != (ssize_t)sizeof msg)
		return set_errno(error, "ping-pong send");
	while (got < sizeof back) {
		spin_readable(fd, spin_us);
		if (!wait_fd(fd, POLLIN, IO_TIMEOUT_MS, "waiting for the echo", error))
			return FALSE;
		ssize_t n = recv(fd, back + got, sizeof back - got, 0);
		if (n <= 0) {
			if (n == 0)
				errno = ECONNRESET;
			return set_errno(error, "ping-pong receive");
		}
		got += (size_t)n;
	}
	*ns = now_ns() - t0;
	return TRUE;
}

static gboolean ping_loop(const Settings *s, int fd, guint spin_us, double *p50, double *p99, GError **error)
{
	guint n = s->pingpong_n;
	gint64 *lat = g_new(gint64, n), ns;
	gboolean ok = TRUE;

	for (guint i = 0; ok && i < s->warm_n; i++)
		ok = ping_once(fd, spin_us, &ns, error);
	for (guint i = 0; ok && i < n; i++)
		ok = ping_once(fd, spin_us, &lat[i], error);
	if (ok) {
		qsort(lat, n, sizeof *lat, cmp_i64);
		*p50 = (double)percentile(lat, n, 50) / 1e3;
		*p99 = (double)percentile(lat, n, 99) / 1e3;
	}
	g_free(lat);
	return ok;
}

/* The busy-poll window glowd runs with in this bench. */
static guint glowd_spin_us(const Settings *s)
{
	return s->busy_poll_us < 0 ? GLOW_LOOP_BUSY_POLL_DEFAULT_US : (guint)s->busy_poll_us;
}

static gboolean pingpong_at(const Settings *s, Place place, guint spin_us, Results *r, GError **error)
{
	EchoArgs x = { .spin_us = spin_us };
	guint16 port;
	int one = 1, fd, c0;
	pid_t pid;
	gboolean ok;

	if (!place_cpus(place, &c0, &x.cpu))
		return TRUE; /* a one-CPU machine: the figure stays "-" */
	if ((x.lfd = tcp_listen_loopback(&port, error)) < 0)
		return FALSE;
	pid = spawn("the echo child", echo_child, &x, error);
	close(x.lfd);
	if (pid < 0)
		return FALSE;
	fd = tcp_connect_loopback(port);
	if (fd < 0) {
		child_stop(pid, r->notes);
		return set_errno(error, "connecting to the echo child");
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	ok = pin(0, c0, error) &&
	     ping_loop(s, fd, spin_us, spin_us ? &r->tcp_spin_p50_us : &r->tcp_p50_us[place],
	               spin_us ? &r->tcp_spin_p99_us : &r->tcp_p99_us[place], error);
	pin(0, -1, NULL);
	close(fd); /* EOF: the child exits 0 */
	child_stop(pid, r->notes);
	if (!ok)
		g_prefix_error(error, "ping-pong %s: ", place_names[place]);
	return ok;
}

static gboolean bench_tcp_pingpong(const Settings *s, Results *r, GError **error)
{
	for (Place p = 0; p < N_PLACES; p++)
		if (!pingpong_at(s, p, 0, r, error))
			return FALSE;
	return !glowd_spin_us(s) || pingpong_at(s, PLACE_FREE, glowd_spin_us(s), r, error);
}

/* --- (b) ChaCha20-Poly1305 on one core ----------------------------------------------------- */

static void bench_aead(const Settings *s, Results *r)
{
	unsigned char key[crypto_aead_chacha20poly1305_ietf_KEYBYTES];
	unsigned char nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES] = { 0 };
	uint8_t *in = g_malloc(AEAD_BUF), *out = g_malloc(AEAD_BUF + crypto_aead_chacha20poly1305_ietf_ABYTES);
	guint64 blocks = 0;
	unsigned long long outlen;
	gint64 t0 = now_ns(), end = t0 + (gint64)(s->aead_secs * 1e9), t;

	crypto_aead_chacha20poly1305_ietf_keygen(key);
	randombytes_buf(in, AEAD_BUF);
	do {
		/* Check the clock every 32 buffers (~1 ms): cheap next to the cipher. */
		for (int i = 0; i < 32; i++, blocks++) {
			sodium_increment(nonce, sizeof nonce); /* a fresh nonce per record, as a link does */
			crypto_aead_chacha20poly1305_ietf_encrypt(out, &outlen, in, AEAD_BUF, NULL, 0, NULL, nonce, key);
		}
		t = now_ns();
	} while (t < end);
	r->aead_gbps = (double)blocks * AEAD_BUF / ((double)(t - t0) * 1e-9) / 1e9;
	g_free(in);
	g_free(out);
}

/* --- glowd nodes ---------------------------------------------------------------------------- */

typedef struct {
	char *label;      /* "A", "B", "M", "leaf3": for messages */
	pid_t pid;
	int out_fd;       /* glowd's stdout: the banner */
	char *dir, *log;  /* state dir; stderr log (outside the state dir) */
	char *id;         /* node ID, text form */
	char *listen;     /* "127.0.0.1:PORT", NULL when not listening */
	char *sock;       /* control socket, NULL with --no-control */
	GlowClient *client;
} Node;

typedef struct {
	char **argv;
	int out_fd, log_fd;
} ExecArgs;

static void exec_child(void *p)
{
	static const char msg[] = "glow-bench: cannot exec glowd\n";
	ExecArgs *x = p;
	if (dup2(x->out_fd, STDOUT_FILENO) < 0 || dup2(x->log_fd, STDERR_FILENO) < 0)
		_exit(127);
	execv(x->argv[0], x->argv);
	if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0)
		_exit(127);
	_exit(127);
}

/* The last lines glowd wrote to stderr, indented, or "" when it wrote none. */
static char *log_tail(const Node *n)
{
	g_autofree char *text = NULL;
	g_auto(GStrv) lines = NULL;
	GString *s = g_string_new(NULL);
	guint len, from;

	if (!g_file_get_contents(n->log, &text, NULL, NULL) || !*text)
		return g_string_free(s, FALSE);
	lines = g_strsplit(g_strchomp(text), "\n", -1);
	len = g_strv_length(lines);
	from = len > 6 ? len - 6 : 0;
	g_string_append_printf(s, "; its stderr ends:");
	for (guint i = from; i < len; i++)
		g_string_append_printf(s, "\n      %s", lines[i]);
	return g_string_free(s, FALSE);
}

/* "S (sleeping)", "T (stopped)"...: tells a hung node from a busy one. */
static char *proc_state(pid_t pid)
{
	g_autofree char *path = g_strdup_printf("/proc/%d/status", pid), *text = NULL;
	const char *p;
	if (!g_file_get_contents(path, &text, NULL, NULL) || !(p = strstr(text, "\nState:")))
		return g_strdup("?");
	p += 7;
	p += strspn(p, " \t");
	return g_strndup(p, strcspn(p, "\n"));
}

/* What became of a node, for error messages: dead (how) or alive, plus its log. */
static char *node_state(const Node *n)
{
	int st = 0;
	g_autofree char *tail = log_tail(n);
	/* A node that just closed its stdout may need a moment to be reapable. */
	for (int i = 0; i < 20 && !child_ended(n->pid, &st); i++)
		g_usleep(5000);
	if (child_ended(n->pid, &st)) {
		g_autofree char *how = describe_status(st);
		return g_strdup_printf("glowd %s (pid %d) %s%s", n->label, n->pid, how, tail);
	}
	g_autofree char *state = proc_state(n->pid);
	return g_strdup_printf("glowd %s (pid %d) is still there, state %s%s", n->label, n->pid, state, tail);
}

/* Appends what became of the nodes to an error, so a crash is named as one. */
static void explain(GError *e, Node *const *nodes, guint n)
{
	GString *s;
	if (!e)
		return;
	s = g_string_new(e->message);
	for (guint i = 0; i < n; i++) {
		if (nodes[i]) {
			g_autofree char *st = node_state(nodes[i]);
			g_string_append_printf(s, "\n    %s", st);
		}
	}
	g_free(e->message);
	e->message = g_string_free(s, FALSE);
}

/* Fills the node's fields from the banner text; TRUE once it has all it needs. */
static gboolean banner_parse(Node *n, const char *text, gboolean want_sock)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	gboolean outbound_only = FALSE;
	/* The last element is an unfinished line (or ""): wait for its newline. */
	for (guint i = 0; lines[i] && lines[i + 1]; i++) {
		const char *l = g_strstrip(lines[i]);
		const char *id = strstr(l, ": node ");
		if (g_str_has_prefix(l, "glowd ") && id && !n->id)
			n->id = g_strdup(id + 7);
		else if (g_str_has_prefix(l, "listening on ") && !n->listen)
			n->listen = g_strndup(l + 13, strcspn(l + 13, " "));
		else if (g_str_has_prefix(l, "not listening"))
			outbound_only = TRUE;
		else if (g_str_has_prefix(l, "control socket ") && !n->sock)
			n->sock = g_strdup(l + 15);
	}
	return n->id && (n->listen || outbound_only) && (n->sock || !want_sock);
}

static gboolean read_banner(Node *n, gboolean want_sock, GError **error)
{
	g_autoptr(GString) out = g_string_new(NULL);
	gint64 deadline = g_get_monotonic_time() + BANNER_TIMEOUT_MS * 1000;
	char buf[1024];

	while (!banner_parse(n, out->str, want_sock)) {
		int left = (int)((deadline - g_get_monotonic_time()) / 1000);
		if (left <= 0 || !wait_fd(n->out_fd, POLLIN, left, "glowd's banner", NULL)) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
			            "glowd %s printed no complete banner within %d ms (got \"%s\")", n->label,
			            BANNER_TIMEOUT_MS, out->str);
			return FALSE;
		}
		ssize_t k = read(n->out_fd, buf, sizeof buf);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "glowd %s closed its stdout before its banner",
			            n->label);
			return FALSE;
		}
		g_string_append_len(out, buf, k);
	}
	if (n->id) {
		GlowNodeId id;
		if (glow_node_id_from_text(n->id, &id) != GLOW_ID_OK) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "glowd %s printed a bad node ID \"%s\"", n->label,
			            n->id);
			return FALSE;
		}
	}
	return TRUE;
}

static void node_free(Node *n)
{
	if (!n)
		return;
	glow_client_free(n->client);
	if (n->out_fd >= 0)
		close(n->out_fd);
	g_free(n->label);
	g_free(n->dir);
	g_free(n->log);
	g_free(n->id);
	g_free(n->listen);
	g_free(n->sock);
	g_free(n);
}

/* Stops the process (SIGTERM, bounded wait) and frees the node. */
static void node_stop(Node *n, GPtrArray *notes)
{
	if (!n)
		return;
	glow_client_free(n->client);
	n->client = NULL;
	if (n->pid > 0)
		child_stop(n->pid, notes);
	node_free(n);
}

static char **node_argv(const Settings *s, const Node *n, const char *connect_to)
{
	GPtrArray *a = g_ptr_array_new();
	g_ptr_array_add(a, g_strdup(s->glowd));
	g_ptr_array_add(a, g_strdup("-d"));
	g_ptr_array_add(a, g_strdup(n->dir));
	g_ptr_array_add(a, g_strdup("-n"));
	g_ptr_array_add(a, g_strdup_printf("bench-%s", n->label));
	g_ptr_array_add(a, g_strdup("-l"));
	/* Leaves only dial out: no listener, no control socket to disturb the figure. */
	g_ptr_array_add(a, g_strdup(connect_to ? "none" : "127.0.0.1:0"));
	g_ptr_array_add(a, g_strdup("--no-discovery"));
	if (s->busy_poll_us >= 0) {
		g_ptr_array_add(a, g_strdup("--busy-poll-us"));
		g_ptr_array_add(a, g_strdup_printf("%d", s->busy_poll_us));
	}
	if (connect_to) {
		g_ptr_array_add(a, g_strdup("--no-control"));
		g_ptr_array_add(a, g_strdup("-c"));
		g_ptr_array_add(a, g_strdup(connect_to));
	}
	g_ptr_array_add(a, NULL);
	return (char **)g_ptr_array_free(a, FALSE);
}

/* Every node of the bench is a device of one user, so that they may call
 * each other's resources: the user key goes into each state dir, as
 * `glow join` would leave it. The key is made once per run. */
static gboolean give_user(const char *dir, GError **error)
{
	static char text[sizeof "GLOW-USER-V1\n" + 65];
	g_autofree char *path = g_build_filename(dir, "user.key", NULL);
	if (!text[0]) {
		uint8_t seed[32];
		char hex[65];
		randombytes_buf(seed, sizeof seed);
		sodium_bin2hex(hex, sizeof hex, seed, sizeof seed);
		g_snprintf(text, sizeof text, "GLOW-USER-V1\n%s\n", hex);
	}
	return g_file_set_contents_full(path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

/* Forks glowd with its stdout on a pipe (kept in n->out_fd) and its stderr
 * in n->log. */
static gboolean node_spawn(const Settings *s, Node *n, const char *connect_to, GError **error)
{
	g_auto(GStrv) argv = node_argv(s, n, connect_to);
	int pipefd[2], log_fd;
	ExecArgs x;

	if (mkdir(n->dir, 0700) < 0)
		return set_errno(error, "creating a glowd state dir");
	if (!give_user(n->dir, error))
		return FALSE;
	log_fd = open(n->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (log_fd < 0)
		return set_errno(error, "creating a glowd log");
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		close(log_fd);
		return set_errno(error, "creating a pipe");
	}
	x = (ExecArgs){ argv, pipefd[1], log_fd };
	n->pid = spawn(n->label, exec_child, &x, error);
	close(pipefd[1]);
	close(log_fd);
	n->out_fd = pipefd[0];
	return n->pid > 0;
}

/* Starts glowd with a fresh state dir and waits for its banner. With
 * connect_to it is a leaf that links to that address at start. */
static Node *node_start(const Settings *s, GMainContext *ctx, const char *label, const char *connect_to,
                        GError **error)
{
	Node *n = g_new0(Node, 1);

	n->label = g_strdup(label);
	n->out_fd = -1;
	n->dir = g_build_filename(root_dir, label, NULL);
	n->log = g_strdup_printf("%s/%s.log", root_dir, label);
	if (!node_spawn(s, n, connect_to, error) || !read_banner(n, !connect_to, error))
		goto fail;
	if (n->sock && !(n->client = glow_client_connect(ctx, n->sock, CLIENT_TIMEOUT_MS, error)))
		goto fail;
	return n;
fail:
	if (n->pid > 0)
		explain(*error, &n, 1);
	node_stop(n, NULL);
	return NULL;
}

/* A call to a resource of the node the client is attached to. */
static gboolean node_call(Node *n, guint64 resource, const char *iface, const char *method,
                          const ProtobufCMessage *in, guint deadline_ms, ProtobufCMessage **out, GError **error)
{
	GlowAddr dst = { .resource = resource }; /* all-zero node: the local node */
	return glow_client_call_sync(n->client, &dst, iface, method, in, deadline_ms, out, error);
}

static gboolean node_links(Node *n, guint *links, GError **error)
{
	Glow__Empty empty = GLOW__EMPTY__INIT;
	Glow__NodeInfo *info = NULL;
	if (!node_call(n, GLOW_RESOURCE_NODE, "glow.Node", "Info", &empty.base, SMALL_CALL_MS,
	               (ProtobufCMessage **)&info, error))
		return FALSE;
	*links = info->links;
	glow__node_info__free_unpacked(info, NULL);
	return TRUE;
}

static gboolean node_link_to(Node *a, const Node *b, GError **error)
{
	Glow__ConnectRequest req = GLOW__CONNECT_REQUEST__INIT;
	Glow__LinkInfo *info = NULL;
	req.address = b->listen;
	req.node_id = b->id; /* refuse any other node */
	req.timeout_ms = CONNECT_CALL_MS - 2000;
	if (!node_call(a, GLOW_RESOURCE_NODE, "glow.Node", "Connect", &req.base, CONNECT_CALL_MS,
	               (ProtobufCMessage **)&info, error)) {
		g_prefix_error(error, "Node.Connect %s -> %s: ", a->label, b->label);
		return FALSE;
	}
	glow__link_info__free_unpacked(info, NULL);
	return TRUE;
}

/* VmRSS in MiB from /proc/PID/status, NAN if it cannot be read. */
static double rss_mib(pid_t pid)
{
	g_autofree char *path = g_strdup_printf("/proc/%d/status", pid), *text = NULL;
	const char *p;
	if (!g_file_get_contents(path, &text, NULL, NULL) || !(p = strstr(text, "\nVmRSS:")))
		return NAN;
	return g_ascii_strtod(p + 7, NULL) / 1024.0; /* the kernel reports kB = KiB */
}

/* Moves an error's text into a section's error slot (appending: (a) has two parts). */
static void keep_error(char **slot, GError **e)
{
	char *old = *slot;
	*slot = old ? g_strdup_printf("%s; %s", old, (*e)->message) : g_strdup((*e)->message);
	g_free(old);
	g_clear_error(e);
}

/* --- (c) and (d): Glow between two nodes ------------------------------------------------------ */

typedef struct {
	Node *a, *b;
	char *target; /* glow://<B>/3 */
} Pair;

typedef struct {
	guint64 pkts_out, pkts_in, bytes_in;
} LinkCounters;

/* A's traffic counters on its links to B (Node.ListLinks). */
static gboolean link_counters(Pair *p, LinkCounters *c, GError **error)
{
	Glow__Empty empty = GLOW__EMPTY__INIT;
	Glow__LinkList *list = NULL;
	if (!node_call(p->a, GLOW_RESOURCE_NODE, "glow.Node", "ListLinks", &empty.base, SMALL_CALL_MS,
	               (ProtobufCMessage **)&list, error))
		return FALSE;
	memset(c, 0, sizeof *c);
	for (size_t i = 0; i < list->n_links; i++) {
		const Glow__LinkInfo *l = list->links[i];
		if (!strcmp(l->peer_id, p->b->id)) {
			c->pkts_out += l->packets_out;
			c->pkts_in += l->packets_in;
			c->bytes_in += l->bytes_in;
		}
	}
	glow__link_list__free_unpacked(list, NULL);
	return TRUE;
}

/* Did A's link to B carry at least the work the reply claims? Catches a
 * Measure that answers without really going through the link. */
static gboolean check_traffic(Pair *p, const LinkCounters *before, Glow__MeasureRequest__Mode mode, guint64 count,
                              guint32 size, GError **error)
{
	LinkCounters after;
	guint64 out, in, bytes;
	gboolean stream = mode == GLOW__MEASURE_REQUEST__MODE__THROUGHPUT;

	if (!link_counters(p, &after, error))
		return FALSE;
	out = after.pkts_out - before->pkts_out;
	in = after.pkts_in - before->pkts_in;
	bytes = after.bytes_in - before->bytes_in;
	if (in >= count && (stream ? bytes >= count * size : out >= count))
		return TRUE;
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
	            "Diag.Measure (mode %d) reported %" G_GUINT64_FORMAT " done, but A's link to B carried only %"
	            G_GUINT64_FORMAT " packets out, %" G_GUINT64_FORMAT " in, %" G_GUINT64_FORMAT " bytes in",
	            mode, count, out, in, bytes);
	return FALSE;
}

static gboolean measure(Pair *p, Glow__MeasureRequest__Mode mode, guint64 count, guint32 size, guint32 inflight,
                        guint deadline_ms, Glow__MeasureReply **out, GError **error)
{
	Glow__MeasureRequest req = GLOW__MEASURE_REQUEST__INIT;
	LinkCounters before;

	if (!link_counters(p, &before, error))
		return FALSE;
	req.target = p->target;
	req.mode = mode;
	req.count = count;
	req.size = size;
	req.inflight = inflight;
	if (!node_call(p->a, GLOW_RESOURCE_DIAG, "glow.Diag", "Measure", &req.base, deadline_ms,
	               (ProtobufCMessage **)out, error)) {
		g_prefix_error(error, "Diag.Measure (mode %d, %" G_GUINT64_FORMAT " x %u B) on A: ", mode, count, size);
		explain(*error, (Node *[]){ p->a, p->b }, 2);
		return FALSE;
	}
	/* Figures from a reply that did not do the work asked would be fiction. */
	if ((*out)->count != count || (*out)->elapsed_us == 0 ||
	    (mode == GLOW__MEASURE_REQUEST__MODE__THROUGHPUT && (*out)->bytes < count * size) ||
	    (mode == GLOW__MEASURE_REQUEST__MODE__LATENCY && (*out)->p50_us > (*out)->p99_us)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
		            "Diag.Measure (mode %d) answered nonsense: asked %" G_GUINT64_FORMAT " x %u B, got count %"
		            G_GUINT64_FORMAT ", bytes %" G_GUINT64_FORMAT ", elapsed %" G_GUINT64_FORMAT " us, p50 %"
		            G_GUINT64_FORMAT " p99 %" G_GUINT64_FORMAT,
		            mode, count, size, (*out)->count, (*out)->bytes, (*out)->elapsed_us, (*out)->p50_us,
		            (*out)->p99_us);
		glow__measure_reply__free_unpacked(*out, NULL);
		*out = NULL;
		return FALSE;
	}
	if (!check_traffic(p, &before, mode, count, size, error)) {
		glow__measure_reply__free_unpacked(*out, NULL);
		*out = NULL;
		return FALSE;
	}
	return TRUE;
}

/* Payload GB/s of one THROUGHPUT run (item framing not counted). */
static gboolean bulk_run(Pair *p, guint64 items, guint deadline_ms, double *gbps, GError **error)
{
	Glow__MeasureReply *m = NULL;
	if (!measure(p, GLOW__MEASURE_REQUEST__MODE__THROUGHPUT, items, BULK_ITEM, 0, deadline_ms, &m, error))
		return FALSE;
	*gbps = (double)items * BULK_ITEM / ((double)m->elapsed_us * 1e-6) / 1e9;
	glow__measure_reply__free_unpacked(m, NULL);
	return TRUE;
}

/* A deadline several times the expected duration: generous, yet a stalled
 * stream still fails in bounded time. */
static guint deadline_for(double expected_s)
{
	return (guint)MIN(180000.0, expected_s * 5000.0 + 10000.0);
}

static gboolean bench_bulk(const Settings *s, Pair *p, Results *r, GError **error)
{
	double warm_gbps, est;
	guint64 n = s->items;

	progress("(c) bulk: warm-up run of %u x 64 KiB", s->warm_items);
	/* Its deadline assumes a pessimistic 50 MB/s: nothing is known yet. */
	if (!bulk_run(p, s->warm_items, deadline_for(s->warm_items * (double)BULK_ITEM / 50e6), &warm_gbps, error))
		return FALSE;
	if (!n) {
		/* Size the runs for ~bulk_secs at the warm-up rate, capped at the default. */
		est = warm_gbps * 1e9 * s->bulk_secs / BULK_ITEM;
		n = (guint64)CLAMP(est, (double)BULK_MIN_ITEMS, (double)BULK_MAX_ITEMS);
	}
	r->bulk_items = n;
	for (guint i = 0; i < s->runs; i++) {
		progress("(c) bulk: run %u/%u, %" G_GUINT64_FORMAT " x 64 KiB", i + 1, s->runs, n);
		if (!bulk_run(p, n, deadline_for((double)n * BULK_ITEM / (warm_gbps * 1e9)), &r->bulk_runs[i], error))
			return FALSE;
		r->n_bulk_runs = i + 1;
	}
	{
		double sorted[G_N_ELEMENTS(r->bulk_runs)];
		memcpy(sorted, r->bulk_runs, s->runs * sizeof *sorted);
		qsort(sorted, s->runs, sizeof *sorted, cmp_double);
		r->bulk_gbps = sorted[s->runs / 2];
	}
	return TRUE;
}

/* Sequential calls with A and B placed as p (see Place); a warm-up first, so
 * the figure does not include the move to new CPUs. */
static gboolean latency_at(const Settings *s, Pair *p, Place place, double *p50, double *p99, GError **error)
{
	Glow__MeasureReply *m = NULL;
	int c0, c1;
	gboolean ok;

	if (!place_cpus(place, &c0, &c1))
		return TRUE;
	progress("(d) latency, %s: %u sequential 16-byte calls", place_names[place], s->latency_n);
	if (place != PLACE_FREE && !(pin(p->a->pid, c0, error) && pin(p->b->pid, c1, error))) {
		explain(*error, (Node *[]){ p->a, p->b }, 2);
		return FALSE;
	}
	ok = measure(p, GLOW__MEASURE_REQUEST__MODE__LATENCY, s->warm_n, PING_LEN, 0, deadline_for(s->warm_n * 5e-4),
	             &m, error);
	if (ok) {
		glow__measure_reply__free_unpacked(m, NULL);
		/* Deadlines assume 0.5 ms per call: 10x the target, still bounded. */
		ok = measure(p, GLOW__MEASURE_REQUEST__MODE__LATENCY, s->latency_n, PING_LEN, 0,
		             deadline_for(s->latency_n * 5e-4), &m, error);
	}
	if (ok) {
		*p50 = (double)m->p50_us;
		*p99 = (double)m->p99_us;
		glow__measure_reply__free_unpacked(m, NULL);
	}
	if (place != PLACE_FREE) {
		pin(p->a->pid, -1, NULL);
		pin(p->b->pid, -1, NULL);
	}
	return ok;
}

static gboolean bench_calls(const Settings *s, Pair *p, Results *r, GError **error)
{
	Glow__MeasureReply *m = NULL;

	if (!latency_at(s, p, PLACE_FREE, &r->call_p50_us[PLACE_FREE], &r->call_p99_us[PLACE_FREE], error))
		return FALSE;

	progress("(d) rate: %u calls, %u in flight", s->rate_n, RATE_INFLIGHT);
	if (!measure(p, GLOW__MEASURE_REQUEST__MODE__RATE, s->rate_n, PING_LEN, RATE_INFLIGHT,
	             deadline_for(s->rate_n * 1e-4), &m, error))
		return FALSE;
	r->calls_per_sec = m->calls_per_sec;
	glow__measure_reply__free_unpacked(m, NULL);
	/* Pinned runs last: unpinned is how glowd runs, so it comes first. */
	return latency_at(s, p, PLACE_ONE_CPU, &r->call_p50_us[PLACE_ONE_CPU], &r->call_p99_us[PLACE_ONE_CPU], error) &&
	       latency_at(s, p, PLACE_TWO_CPUS, &r->call_p50_us[PLACE_TWO_CPUS], &r->call_p99_us[PLACE_TWO_CPUS], error);
}

static gboolean pair_start(const Settings *s, GMainContext *ctx, Pair *p, const char *la, const char *lb,
                           GError **error)
{
	progress("(c)(d) starting glowd %s and %s and linking %s -> %s", la, lb, la, lb);
	if (!(p->a = node_start(s, ctx, la, NULL, error)) || !(p->b = node_start(s, ctx, lb, NULL, error)))
		return FALSE;
	if (!node_link_to(p->a, p->b, error)) {
		explain(*error, (Node *[]){ p->a, p->b }, 2);
		return FALSE;
	}
	p->target = g_strdup_printf("glow://%s/%d", p->b->id, GLOW_RESOURCE_DIAG);
	return TRUE;
}

static void bench_glow(const Settings *s, GMainContext *ctx, Results *r)
{
	Pair p = { 0 };
	GError *e = NULL;

	if (!pair_start(s, ctx, &p, "A", "B", &e)) {
		r->err_c = g_strdup(e->message);
		r->err_d = g_strdup(e->message);
	} else {
		if (!bench_bulk(s, &p, r, &e)) {
			r->err_c = g_strdup(e->message);
			g_clear_error(&e);
		}
		if (!bench_calls(s, &p, r, &e))
			r->err_d = g_strdup(e->message);
		r->rss_busy_mib = rss_mib(p.a->pid);
	}
	g_clear_error(&e);
	/* Stop A and B now so they do not share the CPUs with (e). */
	node_stop(p.a, r->notes);
	node_stop(p.b, r->notes);
	g_free(p.target);
}

/* The same unpinned round trip with glowd's busy polling off: what the
 * polling buys, measured in this run. */
static void bench_glow_no_polling(const Settings *s, GMainContext *ctx, Results *r)
{
	Settings off = *s;
	Pair p = { 0 };
	GError *e = NULL;

	if (!glowd_spin_us(s))
		return;
	off.busy_poll_us = 0;
	progress("(d) baseline: glowd A and B with --busy-poll-us 0");
	if (!pair_start(&off, ctx, &p, "A-nopoll", "B-nopoll", &e) ||
	    !latency_at(&off, &p, PLACE_FREE, &r->call_off_p50_us, &r->call_off_p99_us, &e))
		keep_error(&r->err_d, &e);
	node_stop(p.a, r->notes);
	node_stop(p.b, r->notes);
	g_free(p.target);
}

/* --- (e) glowd memory ------------------------------------------------------------------------------- */

/* Polls M's Node.Info until it reports `want` links, failing after LINKS_WAIT_MS. */
static gboolean wait_links(GMainContext *ctx, Node *m, guint want, GError **error)
{
	gint64 deadline = g_get_monotonic_time() + LINKS_WAIT_MS * 1000;
	guint links = 0;
	for (;;) {
		if (!node_links(m, &links, error))
			return FALSE;
		if (links == want)
			return TRUE;
		if (g_get_monotonic_time() > deadline) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
			            "node M reports %u links after %d ms, expected %u", links, LINKS_WAIT_MS, want);
			return FALSE;
		}
		while (g_main_context_iteration(ctx, FALSE))
			;
		g_usleep(50000);
	}
}

static gboolean memory_with_leaves(const Settings *s, GMainContext *ctx, Node *m, Results *r, GError **error)
{
	Node *leaves[LEAVES] = { 0 };
	gboolean ok = TRUE;

	for (int i = 0; ok && i < LEAVES; i++) {
		g_autofree char *label = g_strdup_printf("leaf%d", i + 1);
		ok = (leaves[i] = node_start(s, ctx, label, m->listen, error)) != NULL;
	}
	if (ok && !(ok = wait_links(ctx, m, LEAVES, error)))
		explain(*error, leaves, LEAVES);
	if (ok) {
		g_usleep(300000); /* let the last handshakes' buffers go, as for the idle figure */
		r->rss_links_mib = rss_mib(m->pid);
	}
	for (int i = 0; i < LEAVES; i++)
		node_stop(leaves[i], r->notes);
	return ok;
}

static gboolean bench_memory(const Settings *s, GMainContext *ctx, Results *r, GError **error)
{
	guint links = 0;
	Node *m;
	gboolean ok;

	progress("(e) memory: a fresh glowd M, then %d more that link to it", LEAVES);
	if (!(m = node_start(s, ctx, "M", NULL, error)))
		return FALSE;
	/* An answered Info means M is fully up; then let it sit idle briefly. */
	ok = node_links(m, &links, error);
	if (ok) {
		g_usleep(300000);
		r->rss_idle_mib = rss_mib(m->pid);
		ok = memory_with_leaves(s, ctx, m, r, error);
	}
	if (!ok)
		explain(*error, &m, 1);
	node_stop(m, r->notes);
	return ok;
}

/* --- report -------------------------------------------------------------------------------------- */

typedef struct {
	char *date, *command, *host;
	long cpus;
	double load; /* 1-minute load average at start: other work skews the figures */
} RunInfo;

static const char *verdict(gboolean met)
{
	return met ? "met" : "MISSED";
}

static char *fmt(const char *f, double v)
{
	return isnan(v) ? g_strdup("-") : g_strdup_printf(f, v);
}

/* printf's %-Ns counts bytes; "µs" needs padding by characters. */
static void cell(GString *line, const char *text, glong width)
{
	glong n = g_utf8_strlen(text, -1);
	g_string_append(line, text);
	for (glong i = n; i < width + 1; i++)
		g_string_append_c(line, ' ');
}

static void row(const char *what, const char *value, const char *target, const char *note)
{
	GString *line = g_string_new("  ");
	cell(line, what, 46);
	cell(line, value, 17);
	cell(line, target ? target : "", 14);
	g_string_append(line, note ? note : "");
	while (line->len && line->str[line->len - 1] == ' ')
		g_string_truncate(line, line->len - 1);
	printf("%s\n", line->str);
	g_string_free(line, TRUE);
}

static void row_error(const char *sec, const char *err)
{
	if (err)
		printf("  %s could not be measured: %s\n", sec, err);
}

static double floor_gbps(const Results *r)
{
	return MIN(r->tcp_gbps, r->aead_gbps); /* NAN if either is */
}

static char *p50_p99(double p50, double p99, const char *f)
{
	g_autofree char *both = g_strdup_printf("%s / %s µs", f, f);
	return isnan(p50) ? g_strdup("-") : g_strdup_printf(both, p50, p99);
}

static void print_text_ab(const Settings *s, const Results *r)
{
	g_autofree char *tput = fmt("%.2f GB/s", r->tcp_gbps), *aead = fmt("%.2f GB/s", r->aead_gbps);
	g_autofree char *what_t = g_strdup_printf("(a) raw TCP loopback, 256 KiB writes, %.1f s", s->tcp_secs);
	g_autofree char *what_b = g_strdup_printf("(b) ChaCha20-Poly1305, 1 core, 64 KiB, %.1f s", s->aead_secs);
	g_autofree char *n_pp = g_strdup_printf("unpinned; %u round trips, poll()", s->pingpong_n);

	row(what_t, tput, "floor for (c)", NULL);
	for (Place p = 0; p < N_PLACES; p++) {
		g_autofree char *v = p50_p99(r->tcp_p50_us[p], r->tcp_p99_us[p], "%.1f");
		g_autofree char *what = g_strdup_printf("      %s", place_names[p]);
		row(p ? what : "(a) raw TCP ping-pong 16 B, p50 / p99", v, p ? NULL : "floor for (d)",
		    p ? NULL : n_pp);
	}
	if (glowd_spin_us(s)) {
		g_autofree char *v = p50_p99(r->tcp_spin_p50_us, r->tcp_spin_p99_us, "%.1f");
		g_autofree char *what = g_strdup_printf("      unpinned, busy-polling %u µs", glowd_spin_us(s));
		row(what, v, NULL, "both ends poll before blocking, as glowd does");
	}
	row_error("(a)", r->err_a);
	row(what_b, aead, "floor for (c)", NULL);
	row_error("(b)", r->err_b);
}

static void print_text_c(const Settings *s, const Results *r)
{
	double ratio = r->bulk_gbps / floor_gbps(r);
	g_autofree char *v = fmt("%.2f GB/s", r->bulk_gbps), *pct = fmt("%.1f %%", ratio * 100);
	g_autofree char *what = g_strdup_printf("(c) Glow link bulk, 64 KiB items, median of %u", s->runs);
	GString *runs = g_string_new(NULL);

	for (guint i = 0; i < r->n_bulk_runs; i++)
		g_string_append_printf(runs, "%s%.2f", i ? " " : "runs ", r->bulk_runs[i]);
	if (r->n_bulk_runs)
		g_string_append_printf(runs, " GB/s; %" G_GUINT64_FORMAT " items each", r->bulk_items);
	row(what, v, NULL, runs->str);
	row("    (c) / min(a, b)", pct, ">= 70 %", isnan(ratio) ? NULL : verdict(ratio >= TARGET_BULK_RATIO));
	row_error("(c)", r->err_c);
	g_string_free(runs, TRUE);
}

/* "met  2.0x raw TCP": a verdict (when a target applies) and the ratio to the floor. */
static char *vs(double v, double target, double raw, const char *what)
{
	if (isnan(v))
		return g_strdup("");
	if (isnan(raw))
		return g_strdup(verdict(v <= target));
	return g_strdup_printf("%s  %.2gx raw TCP %s", verdict(v <= target), v / raw, what);
}

static void print_text_d(const Settings *s, const Results *r)
{
	g_autofree char *p50 = fmt("%.0f µs", r->call_p50_us[0]), *p99 = fmt("%.0f µs", r->call_p99_us[0]);
	/* Compare like with like: a busy-polling glowd against busy-polling raw TCP. */
	gboolean spin = glowd_spin_us(s) && !isnan(r->tcp_spin_p50_us);
	g_autofree char *n50 = vs(r->call_p50_us[0], TARGET_P50_US, spin ? r->tcp_spin_p50_us : r->tcp_p50_us[0],
	                          spin ? "p50 (unpinned, busy-polling)" : "p50 (unpinned)");
	g_autofree char *n99 = vs(r->call_p99_us[0], TARGET_P50_US, spin ? r->tcp_spin_p99_us : r->tcp_p99_us[0],
	                          spin ? "p99 (unpinned, busy-polling)" : "p99 (unpinned)");
	g_autofree char *rate = fmt("%.0f calls/s", r->calls_per_sec);
	g_autofree char *what_r = g_strdup_printf("(d) Glow calls/s, 16 B, %u in flight", RATE_INFLIGHT);
	g_autofree char *n_l = g_strdup_printf("unpinned; %u sequential calls each", s->latency_n);
	g_autofree char *n_r = g_strdup_printf("%u calls", s->rate_n);

	row("(d) Glow call A->B->A, 16 B, p50", p50, "<= 50 µs", n50);
	row("(d) Glow call A->B->A, 16 B, p99", p99, "<= 50 µs", n99);
	for (Place p = 0; p < N_PLACES; p++) {
		g_autofree char *v = p50_p99(r->call_p50_us[p], r->call_p99_us[p], "%.0f");
		g_autofree char *what = g_strdup_printf("      A and B %s", place_names[p]);
		double x50 = r->call_p50_us[p] / r->tcp_p50_us[p], x99 = r->call_p99_us[p] / r->tcp_p99_us[p];
		g_autofree char *note = isnan(x50) ? g_strdup("")
		                                   : g_strdup_printf("%.2gx / %.2gx raw TCP %s", x50, x99, place_names[p]);
		row(what, v, NULL, p ? note : n_l);
	}
	if (glowd_spin_us(s)) {
		g_autofree char *v = p50_p99(r->call_off_p50_us, r->call_off_p99_us, "%.0f");
		g_autofree char *note =
		        isnan(r->call_off_p50_us)
		                ? g_strdup("")
		                : g_strdup_printf("baseline: busy polling buys %.2gx at p50 (%.2gx raw TCP unpinned)",
		                                  r->call_off_p50_us / r->call_p50_us[0],
		                                  r->call_off_p50_us / r->tcp_p50_us[0]);
		row("      A and B unpinned, --busy-poll-us 0", v, NULL, note);
	}
	row(what_r, rate, NULL, n_r);
	row_error("(d)", r->err_d);
}

static void print_text_e(const Results *r)
{
	g_autofree char *idle = fmt("%.1f MiB", r->rss_idle_mib), *links = fmt("%.1f MiB", r->rss_links_mib);
	g_autofree char *busy = fmt("%.1f MiB", r->rss_busy_mib);
	g_autofree char *what_l = g_strdup_printf("(e) glowd VmRSS, %d links", LEAVES);

	row("(e) glowd VmRSS, idle fresh node", idle, "<= 8 MiB",
	    isnan(r->rss_idle_mib) ? NULL : verdict(r->rss_idle_mib <= TARGET_RSS_MIB));
	row(what_l, links, "<= 8 MiB", isnan(r->rss_links_mib) ? NULL : verdict(r->rss_links_mib <= TARGET_RSS_MIB));
	row("      node A after (c) and (d)", busy, NULL, "for reference, no target");
	row_error("(e)", r->err_e);
}

static void print_text(const Settings *s, const RunInfo *ri, const Results *r)
{
	printf("glow-bench %s   %s   %s, %ld CPUs, load %.2f at start\n", GLOW_VERSION, ri->date, ri->host,
	       ri->cpus, ri->load);
	printf("command: %s\n", ri->command);
	printf("glowd:   %s%s\n", s->glowd, s->quick ? "   (--quick: small counts, rough figures)" : "");
	printf("units:   GB/s = 10^9 bytes/s, MiB = 2^20 bytes, µs = microseconds\n\n");
	row("figure", "measured", "target", "notes");
	print_text_ab(s, r);
	print_text_c(s, r);
	print_text_d(s, r);
	print_text_e(r);
	for (guint i = 0; i < r->notes->len; i++)
		printf("note: %s\n", (const char *)r->notes->pdata[i]);
}

static void j_num(JsonBuilder *b, const char *name, double v)
{
	json_builder_set_member_name(b, name);
	if (isnan(v))
		json_builder_add_null_value(b);
	else
		json_builder_add_double_value(b, v);
}

static void j_int(JsonBuilder *b, const char *name, gint64 v)
{
	json_builder_set_member_name(b, name);
	json_builder_add_int_value(b, v);
}

static void j_str(JsonBuilder *b, const char *name, const char *v)
{
	json_builder_set_member_name(b, name);
	if (v)
		json_builder_add_string_value(b, v);
	else
		json_builder_add_null_value(b);
}

static void j_met(JsonBuilder *b, const char *name, double v, gboolean met)
{
	json_builder_set_member_name(b, name);
	if (isnan(v))
		json_builder_add_null_value(b);
	else
		json_builder_add_boolean_value(b, met);
}

static void json_raw(JsonBuilder *b, const Settings *s, const Results *r)
{
	json_builder_set_member_name(b, "raw_tcp");
	json_builder_begin_object(b);
	j_num(b, "throughput_gbps", r->tcp_gbps);
	j_num(b, "pingpong_p50_us", r->tcp_p50_us[PLACE_FREE]);
	j_num(b, "pingpong_p99_us", r->tcp_p99_us[PLACE_FREE]);
	json_builder_set_member_name(b, "pingpong_by_placement");
	json_builder_begin_object(b);
	for (Place p = 0; p < N_PLACES; p++) {
		json_builder_set_member_name(b, place_keys[p]);
		json_builder_begin_object(b);
		j_num(b, "p50_us", r->tcp_p50_us[p]);
		j_num(b, "p99_us", r->tcp_p99_us[p]);
		json_builder_end_object(b);
	}
	json_builder_end_object(b);
	j_num(b, "pingpong_busy_poll_p50_us", r->tcp_spin_p50_us);
	j_num(b, "pingpong_busy_poll_p99_us", r->tcp_spin_p99_us);
	j_int(b, "busy_poll_us", glowd_spin_us(s));
	j_int(b, "pingpong_round_trips", s->pingpong_n);
	j_str(b, "error", r->err_a);
	json_builder_end_object(b);
	json_builder_set_member_name(b, "chacha20poly1305");
	json_builder_begin_object(b);
	j_num(b, "gbps", r->aead_gbps);
	j_int(b, "buffer_bytes", AEAD_BUF);
	j_str(b, "error", r->err_b);
	json_builder_end_object(b);
}

static void json_bulk(JsonBuilder *b, const Results *r)
{
	double ratio = r->bulk_gbps / floor_gbps(r);
	json_builder_set_member_name(b, "link_bulk");
	json_builder_begin_object(b);
	j_num(b, "gbps", r->bulk_gbps);
	json_builder_set_member_name(b, "runs_gbps");
	json_builder_begin_array(b);
	for (guint i = 0; i < r->n_bulk_runs; i++)
		json_builder_add_double_value(b, r->bulk_runs[i]);
	json_builder_end_array(b);
	j_int(b, "items", (gint64)r->bulk_items);
	j_int(b, "item_bytes", BULK_ITEM);
	j_num(b, "ratio_to_floor", ratio);
	j_num(b, "target_ratio", TARGET_BULK_RATIO);
	j_met(b, "met", ratio, ratio >= TARGET_BULK_RATIO);
	j_str(b, "error", r->err_c);
	json_builder_end_object(b);
}

static void json_calls(JsonBuilder *b, const Settings *s, const Results *r)
{
	json_builder_set_member_name(b, "calls");
	json_builder_begin_object(b);
	j_num(b, "p50_us", r->call_p50_us[PLACE_FREE]);
	j_num(b, "p99_us", r->call_p99_us[PLACE_FREE]);
	j_num(b, "target_us", TARGET_P50_US);
	j_met(b, "p50_met", r->call_p50_us[PLACE_FREE], r->call_p50_us[PLACE_FREE] <= TARGET_P50_US);
	j_met(b, "p99_met", r->call_p99_us[PLACE_FREE], r->call_p99_us[PLACE_FREE] <= TARGET_P50_US);
	json_builder_set_member_name(b, "by_placement");
	json_builder_begin_object(b);
	for (Place p = 0; p < N_PLACES; p++) {
		json_builder_set_member_name(b, place_keys[p]);
		json_builder_begin_object(b);
		j_num(b, "p50_us", r->call_p50_us[p]);
		j_num(b, "p99_us", r->call_p99_us[p]);
		j_num(b, "p50_vs_raw_tcp", r->call_p50_us[p] / r->tcp_p50_us[p]);
		j_num(b, "p99_vs_raw_tcp", r->call_p99_us[p] / r->tcp_p99_us[p]);
		json_builder_end_object(b);
	}
	json_builder_end_object(b);
	j_num(b, "no_busy_poll_p50_us", r->call_off_p50_us);
	j_num(b, "no_busy_poll_p99_us", r->call_off_p99_us);
	j_int(b, "busy_poll_us", glowd_spin_us(s));
	j_int(b, "latency_calls", s->latency_n);
	j_num(b, "calls_per_sec", r->calls_per_sec);
	j_int(b, "rate_calls", s->rate_n);
	j_int(b, "inflight", RATE_INFLIGHT);
	j_str(b, "error", r->err_d);
	json_builder_end_object(b);
}

static void json_memory(JsonBuilder *b, const Results *r)
{
	json_builder_set_member_name(b, "memory");
	json_builder_begin_object(b);
	j_num(b, "idle_mib", r->rss_idle_mib);
	j_num(b, "links10_mib", r->rss_links_mib);
	j_num(b, "after_traffic_mib", r->rss_busy_mib);
	j_num(b, "target_mib", TARGET_RSS_MIB);
	j_met(b, "idle_met", r->rss_idle_mib, r->rss_idle_mib <= TARGET_RSS_MIB);
	j_met(b, "links10_met", r->rss_links_mib, r->rss_links_mib <= TARGET_RSS_MIB);
	j_str(b, "error", r->err_e);
	json_builder_end_object(b);
}

static void print_json(const Settings *s, const RunInfo *ri, const Results *r, gboolean ok)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autoptr(JsonNode) root = NULL;
	g_autofree char *text = NULL;

	json_builder_begin_object(b);
	j_str(b, "tool", "glow-bench");
	j_str(b, "version", GLOW_VERSION);
	j_str(b, "date", ri->date);
	j_str(b, "command", ri->command);
	j_str(b, "host", ri->host);
	j_int(b, "cpus", ri->cpus);
	j_num(b, "load_at_start", ri->load);
	j_str(b, "glowd", s->glowd);
	json_builder_set_member_name(b, "quick");
	json_builder_add_boolean_value(b, s->quick);
	json_raw(b, s, r);
	json_bulk(b, r);
	json_calls(b, s, r);
	json_memory(b, r);
	json_builder_set_member_name(b, "notes");
	json_builder_begin_array(b);
	for (guint i = 0; i < r->notes->len; i++)
		json_builder_add_string_value(b, r->notes->pdata[i]);
	json_builder_end_array(b);
	json_builder_set_member_name(b, "ok");
	json_builder_add_boolean_value(b, ok);
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	json_generator_set_root(gen, root);
	json_generator_set_pretty(gen, TRUE);
	text = json_generator_to_data(gen, NULL);
	printf("%s\n", text);
}

/* --- main ---------------------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
	        "Usage: glow-bench [--quick] [--json] [--items N] [--busy-poll-us N]\n\n"
	        "Measures the floor and Glow on top of it, and prints each figure with its target:\n"
	        "  (a) raw loopback TCP: throughput (256 KiB writes) and 16-byte ping-pong p50/p99\n"
	        "      (unpinned, and pinned to one CPU and to two, as is (d): on VMs the CPU\n"
	        "      placement alone can change a round trip 3x)\n"
	        "  (b) ChaCha20-Poly1305 on one core, 64 KiB buffers\n"
	        "  (c) bulk throughput over one Glow link (Diag.Measure THROUGHPUT, 64 KiB items,\n"
	        "      median of 3); target >= 70 %% of min(a, b)\n"
	        "  (d) call round trip p50/p99 (target 50 µs) and calls/s with %u in flight\n"
	        "  (e) glowd VmRSS idle and with %d links (target 8 MiB)\n\n"
	        "Options:\n"
	        "  --quick      small counts: a smoke run in well under 20 s, rough figures\n"
	        "  --json       print the results as JSON (progress still goes to stderr)\n"
	        "  --items N    (c) items per run (default: sized for ~3 s, at most %u)\n"
	        "  --busy-poll-us N  run every glowd with --busy-poll-us N (default: glowd's, %u);\n"
	        "               (d) also measures glowd with busy polling off, as the baseline\n"
	        "  -h, --help   this help\n\n"
	        "Environment: GLOWD=PATH runs that glowd (default %s).\n"
	        "Exit status: 0 measured (targets met or not), 1 could not measure, 2 bad usage.\n",
	        RATE_INFLIGHT, LEAVES, BULK_MAX_ITEMS, GLOW_LOOP_BUSY_POLL_DEFAULT_US, GLOWD_PATH);
}

static void settings_init(Settings *s, gboolean quick)
{
	s->quick = quick;
	s->tcp_secs = quick ? 0.5 : 2.0;
	s->aead_secs = quick ? 0.5 : 2.0;
	s->bulk_secs = quick ? 0.4 : 3.0;
	s->pingpong_n = quick ? 3000 : 20000;
	s->warm_n = quick ? 200 : 1000;
	s->latency_n = quick ? 2000 : 20000;
	s->rate_n = quick ? 10000 : 100000;
	s->warm_items = quick ? 300 : 2000;
	s->runs = 3;
	s->watchdog_s = quick ? 90 : 400;
	s->glowd = g_getenv("GLOWD") ? g_getenv("GLOWD") : GLOWD_PATH;
}

/* Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, Settings *s)
{
	gboolean quick = FALSE, json = FALSE;
	guint64 items = 0, busy = G_MAXUINT64;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			quick = TRUE;
		} else if (!strcmp(argv[i], "--json")) {
			json = TRUE;
		} else if (!strcmp(argv[i], "--items")) {
			if (i + 1 == argc || !g_ascii_string_to_unsigned(argv[++i], 10, 1, 10000000, &items, NULL)) {
				fprintf(stderr, "glow-bench: --items takes a count, 1 to 10000000\n");
				return 2;
			}
		} else if (!strcmp(argv[i], "--busy-poll-us")) {
			if (i + 1 == argc || !g_ascii_string_to_unsigned(argv[++i], 10, 0, 1000, &busy, NULL)) {
				fprintf(stderr, "glow-bench: --busy-poll-us takes 0 to 1000\n");
				return 2;
			}
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "glow-bench: unknown argument \"%s\"\n\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	settings_init(s, quick);
	s->json = json;
	s->items = items;
	s->busy_poll_us = busy == G_MAXUINT64 ? -1 : (int)busy;
	return -1;
}

/* The command line that reproduces this run, GLOWD included when set. */
static char *command_line(int argc, char **argv)
{
	GString *s = g_string_new(NULL);
	if (g_getenv("GLOWD")) {
		g_autofree char *q = g_shell_quote(g_getenv("GLOWD"));
		g_string_append_printf(s, "GLOWD=%s ", q);
	}
	for (int i = 0; i < argc; i++) {
		gboolean plain = *argv[i] && strspn(argv[i], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		                                             "0123456789-_./=:+,") == strlen(argv[i]);
		g_autofree char *q = plain ? g_strdup(argv[i]) : g_shell_quote(argv[i]);
		g_string_append_printf(s, "%s%s", i ? " " : "", q);
	}
	return g_string_free(s, FALSE);
}

static void run_info_init(RunInfo *ri, int argc, char **argv)
{
	g_autoptr(GDateTime) now = g_date_time_new_now_local();
	struct utsname u;
	ri->date = g_date_time_format(now, "%Y-%m-%d %H:%M:%S %z");
	ri->command = command_line(argc, argv);
	ri->cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (getloadavg(&ri->load, 1) != 1)
		ri->load = NAN;
	ri->host = uname(&u) == 0 ? g_strdup_printf("%s (%s %s %s)", u.nodename, u.sysname, u.release, u.machine)
	                          : g_strdup(g_get_host_name());
}

static gboolean prepare(const Settings *s, GError **error)
{
	if (access(s->glowd, X_OK) < 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
		            "cannot run glowd at %s: %s (build it with `ninja -C build`, or set GLOWD)", s->glowd,
		            g_strerror(errno));
		return FALSE;
	}
	cpus_init();
	if (sodium_init() < 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "libsodium failed to initialise");
		return FALSE;
	}
	if (!start_signal_thread(error))
		return FALSE;
	root_dir = g_strdup("/tmp/glow-bench-XXXXXX");
	if (!g_mkdtemp(root_dir)) {
		g_free(root_dir);
		root_dir = NULL;
		return set_errno(error, "cannot create a temporary dir under /tmp");
	}
	atexit(cleanup_at_exit);
	watchdog_s = s->watchdog_s;
	alarm(s->watchdog_s);
	return TRUE;
}

static void run_all(const Settings *s, GMainContext *ctx, Results *r)
{
	GError *e = NULL;

	progress("(a) raw loopback TCP throughput, %.1f s", s->tcp_secs);
	if (!bench_tcp_throughput(s, r, &e))
		keep_error(&r->err_a, &e);
	progress("(a) raw TCP ping-pong, %u round trips", s->pingpong_n);
	if (!bench_tcp_pingpong(s, r, &e))
		keep_error(&r->err_a, &e);
	progress("(b) ChaCha20-Poly1305, %.1f s", s->aead_secs);
	bench_aead(s, r);
	bench_glow(s, ctx, r);
	bench_glow_no_polling(s, ctx, r);
	if (!bench_memory(s, ctx, r, &e))
		keep_error(&r->err_e, &e);
}

static void results_init(Results *r)
{
	memset(r, 0, sizeof *r);
	r->tcp_gbps = r->aead_gbps = r->bulk_gbps = r->calls_per_sec = NAN;
	r->tcp_spin_p50_us = r->tcp_spin_p99_us = r->call_off_p50_us = r->call_off_p99_us = NAN;
	for (Place p = 0; p < N_PLACES; p++)
		r->tcp_p50_us[p] = r->tcp_p99_us[p] = r->call_p50_us[p] = r->call_p99_us[p] = NAN;
	r->rss_idle_mib = r->rss_links_mib = r->rss_busy_mib = NAN;
	r->notes = g_ptr_array_new_with_free_func(g_free);
}

int main(int argc, char **argv)
{
	Settings s = { 0 };
	Results r;
	RunInfo ri;
	GError *e = NULL;
	GMainContext *ctx;
	gboolean ok;
	int rc = parse_args(argc, argv, &s);

	if (rc >= 0)
		return rc;
	if (!prepare(&s, &e)) {
		fprintf(stderr, "glow-bench: %s\n", e->message);
		g_error_free(e);
		return 1;
	}
	results_init(&r);
	run_info_init(&ri, argc, argv);
	ctx = g_main_context_new();
	run_all(&s, ctx, &r);
	/* Stop everything before the report, so shutdown trouble is in it. */
	cleanup_all(r.notes);
	alarm(0);
	ok = !r.err_a && !r.err_b && !r.err_c && !r.err_d && !r.err_e;
	if (s.json)
		print_json(&s, &ri, &r, ok);
	else
		print_text(&s, &ri, &r);
	if (!ok)
		fprintf(stderr, "glow-bench: some figures could not be measured (see above)\n");
	g_main_context_unref(ctx);
	return ok ? 0 : 1;
}
