// SPDX-License-Identifier: GPL-2.0
/*
 * vsocktop's Prometheus side: the text exposition format (version 0.0.4)
 * of a snapshot's devices, served at /metrics by a small HTTP thread
 * (--listen) or written atomically for node_exporter's textfile
 * collector (--textfile). One series per device and metric: no
 * connection or port labels, so the cardinality stays that of the
 * device registry.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE		/* accept4() */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "snapshot.h"
#include "../lib/num.h"

/*
 * Histogram buckets: le = 2^(k+1) ns for slots k = 9..34 (1.024 us to
 * 34.4 s), each counting slots 0..k; slots above 34 only count in +Inf.
 * A slot ends just below its le (a sample of exactly le ns is in the
 * next one): as close as log2 slots get to Prometheus' "<=".
 */
#define PROM_HIST_FIRST		9
#define PROM_HIST_LAST		34

#define PROM_REQ_MAX		8192	/* request line and headers */
#define PROM_REQ_TIMEOUT_MS	2000	/* for all of them */
#define PROM_SEND_TIMEOUT_S	2

/* ---- rendering ---- */

enum prom_kind {
	PROM_I64,	/* int64_t, VT_NA: no sample */
	PROM_SECS,	/* double, < 0 or not finite: no sample */
	PROM_BOOL,	/* bool, always there */
};

struct prom_family {
	const char *name, *type, *help;
	enum prom_kind kind;
	size_t off;
};

#define PROM_FAM(n, t, k, f, h) \
	{ .name = n, .type = t, .help = h, .kind = k, \
	  .off = offsetof(struct vt_dev, f) }

static const struct prom_family prom_families[] = {
	PROM_FAM("vsock_transmit_bytes_total", "counter", PROM_I64,
		 tx_bytes_total,
		 "Payload bytes of RW packets sent on the device since "
		 "vsocktop started."),
	PROM_FAM("vsock_receive_bytes_total", "counter", PROM_I64,
		 rx_bytes_total,
		 "Payload bytes of RW packets received on the device since "
		 "vsocktop started."),
	PROM_FAM("vsock_transmit_packets_total", "counter", PROM_I64,
		 tx_pkts_total,
		 "Packets sent on the device since vsocktop started."),
	PROM_FAM("vsock_receive_packets_total", "counter", PROM_I64,
		 rx_pkts_total,
		 "Packets received on the device since vsocktop started."),
	PROM_FAM("vsock_connections", "gauge", PROM_I64, conns,
		 "Connections on the device."),
	PROM_FAM("vsock_credit_stalled_connections", "gauge", PROM_I64,
		 stalled,
		 "Connections on the device stalled on the peer's credit."),
	PROM_FAM("vsock_credit_stalls_total", "counter", PROM_I64,
		 credit_stalls_total,
		 "Credit stalls begun on the device since vsocktop started."),
	PROM_FAM("vsock_credit_limited_seconds_total", "counter", PROM_SECS,
		 credit_limited_s_total,
		 "Time connections on the device spent stalled on the peer's "
		 "credit since vsocktop started."),
	PROM_FAM("vsock_queue_depth", "gauge", PROM_I64, queue_depth,
		 "Packets handed to the device and not yet done or dropped."),
	PROM_FAM("vsock_rx_buffers_posted", "gauge", PROM_I64, rx_posted,
		 "Receive buffers posted to the virtio device."),
	PROM_FAM("vsock_device_default", "gauge", PROM_BOOL, is_default,
		 "1 for the default device, else 0."),
};

struct prom_hist_family {
	const char *name, *help;
	size_t slots, sum_ns, count;
};

#define PROM_HIST(n, dir, h) \
	{ .name = n, .help = h, \
	  .slots = offsetof(struct vt_dev, dir##_hist), \
	  .sum_ns = offsetof(struct vt_dev, dir##_hist_sum_ns), \
	  .count = offsetof(struct vt_dev, dir##_hist_count) }

static const struct prom_hist_family prom_hists[] = {
	PROM_HIST("vsock_tx_completion_seconds", tx,
		  "Time from a packet handed to the device to its completion, "
		  "since vsocktop started."),
	PROM_HIST("vsock_rx_delivery_seconds", rx,
		  "Time received data waited in a socket's receive queue "
		  "until read, since vsocktop started."),
};

#define PROM_FIELD(d, off, type) \
	(*(const type *)((const char *)(d) + (off)))

/* length of the valid UTF-8 sequence at @s (at most @n bytes), 0 if none */
static size_t prom_utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t c;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		c = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		c = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
	    (len == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	return len;
}

/* a label value: \, " and newline escaped; bytes that are not UTF-8 as '?' */
static void prom_label_value(FILE *f, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < n && p[i];) {
		size_t len = prom_utf8_len(p + i, n - i);

		if (!len) {
			fputc('?', f);
			i++;
		} else if (p[i] == '\\') {
			fputs("\\\\", f);
			i++;
		} else if (p[i] == '"') {
			fputs("\\\"", f);
			i++;
		} else if (p[i] == '\n') {
			fputs("\\n", f);
			i++;
		} else {
			fwrite(p + i, 1, len, f);
			i += len;
		}
	}
}

/* dev="1",cid="3",role="guest",name="virtio0" (no braces) */
static void prom_dev_labels(FILE *f, const struct vt_dev *d)
{
	const char *role = d->role ? d->role : "";

	fprintf(f, "dev=\"%" PRId64 "\",cid=\"", d->id);
	if (d->cid != VT_NA)
		fprintf(f, "%" PRId64, d->cid);
	fputs("\",role=\"", f);
	prom_label_value(f, role, strlen(role));
	fputs("\",name=\"", f);
	prom_label_value(f, d->name, sizeof(d->name));
	fputc('"', f);
}

static void prom_header(FILE *f, const char *name, const char *type,
			const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* whether device @d has a value for @fam, printed into @buf */
static bool prom_value(const struct prom_family *fam, const struct vt_dev *d,
		       char *buf, size_t len)
{
	int64_t i;
	double v;

	switch (fam->kind) {
	case PROM_I64:
		i = PROM_FIELD(d, fam->off, int64_t);
		if (i == VT_NA)
			return false;
		snprintf(buf, len, "%" PRId64, i);
		return true;
	case PROM_SECS:
		v = PROM_FIELD(d, fam->off, double);
		if (!isfinite(v) || v < 0)
			return false;
		snprintf(buf, len, "%.15g", v);
		return true;
	case PROM_BOOL:
		snprintf(buf, len, "%d", PROM_FIELD(d, fam->off, bool) ? 1 : 0);
		return true;
	}
	return false;
}

static void prom_render_family(FILE *f, const struct vt_snapshot *s,
			       const struct prom_family *fam)
{
	bool header = false;
	char buf[64];

	for (int i = 0; i < s->ndevs; i++) {
		const struct vt_dev *d = &s->devs[i];

		if (!prom_value(fam, d, buf, sizeof(buf)))
			continue;
		if (!header) {
			prom_header(f, fam->name, fam->type, fam->help);
			header = true;
		}
		fprintf(f, "%s{", fam->name);
		prom_dev_labels(f, d);
		fprintf(f, "} %s\n", buf);
	}
}

/* @ns nanoseconds as exact decimal seconds: 1024 -> "0.000001024" */
static void prom_ns_to_s(FILE *f, uint64_t ns)
{
	uint64_t frac = ns % 1000000000;
	char digits[10];
	int n;

	fprintf(f, "%" PRIu64, ns / 1000000000);
	if (!frac)
		return;
	snprintf(digits, sizeof(digits), "%09" PRIu64, frac);
	for (n = 9; digits[n - 1] == '0'; n--)
		;
	fprintf(f, ".%.*s", n, digits);
}

static void prom_render_hist(FILE *f, const struct vt_snapshot *s,
			     const struct prom_hist_family *h)
{
	if (!s->ndevs)
		return;
	prom_header(f, h->name, "histogram", h->help);
	for (int i = 0; i < s->ndevs; i++) {
		const struct vt_dev *d = &s->devs[i];
		const uint64_t *slots = &PROM_FIELD(d, h->slots, uint64_t);
		uint64_t count = PROM_FIELD(d, h->count, uint64_t);
		uint64_t cum = 0;

		for (int k = 0; k <= PROM_HIST_LAST; k++) {
			cum += slots[k];
			if (k < PROM_HIST_FIRST)
				continue;
			fprintf(f, "%s_bucket{", h->name);
			prom_dev_labels(f, d);
			fputs(",le=\"", f);
			prom_ns_to_s(f, UINT64_C(1) << (k + 1));
			/*
			 * The slots and the count are read from BPF maps one
			 * after the other: never let a bucket pass +Inf.
			 */
			fprintf(f, "\"} %" PRIu64 "\n",
				cum < count ? cum : count);
		}
		fprintf(f, "%s_bucket{", h->name);
		prom_dev_labels(f, d);
		fprintf(f, ",le=\"+Inf\"} %" PRIu64 "\n", count);
		fprintf(f, "%s_sum{", h->name);
		prom_dev_labels(f, d);
		fputs("} ", f);
		prom_ns_to_s(f, PROM_FIELD(d, h->sum_ns, uint64_t));
		fprintf(f, "\n%s_count{", h->name);
		prom_dev_labels(f, d);
		fprintf(f, "} %" PRIu64 "\n", count);
	}
}

void vt_prom_render(FILE *f, const struct vt_snapshot *s)
{
	const char *ver = vt_version ? vt_version : "unknown";
	size_t i;

	for (i = 0; i < sizeof(prom_families) / sizeof(prom_families[0]); i++)
		prom_render_family(f, s, &prom_families[i]);
	/* stock vsock has no latency tracepoints: no histograms at all */
	if (s->mode == VT_MODE_MVSOCK)
		for (i = 0; i < sizeof(prom_hists) / sizeof(prom_hists[0]); i++)
			prom_render_hist(f, s, &prom_hists[i]);
	prom_header(f, "vsocktop_build_info", "gauge",
		    "vsocktop's version and whether it sees mvsock or stock "
		    "vsock.");
	fputs("vsocktop_build_info{version=\"", f);
	prom_label_value(f, ver, strlen(ver));
	fprintf(f, "\",mode=\"%s\"} 1\n",
		s->mode == VT_MODE_MVSOCK ? "mvsock" : "stock");
}

/* ---- --textfile ---- */

int vt_textfile_write(const char *path, const struct vt_snapshot *s)
{
	char tmp[PATH_MAX];
	FILE *f;
	int fd, err;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path,
		     (long)getpid()) >= (int)sizeof(tmp)) {
		err = ENAMETOOLONG;
		goto fail;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = errno;
		goto fail;
	}
	f = fdopen(fd, "w");
	if (!f) {
		err = errno;
		close(fd);
		goto fail_unlink;
	}
	vt_prom_render(f, s);
	if (fflush(f) || ferror(f)) {
		err = errno ? errno : EIO;
		fclose(f);
		goto fail_unlink;
	}
	if (fclose(f)) {
		err = errno;
		goto fail_unlink;
	}
	if (rename(tmp, path)) {
		err = errno;
		goto fail_unlink;
	}
	return 0;

fail_unlink:
	unlink(tmp);
fail:
	snprintf(vt_errmsg, sizeof(vt_errmsg), "--textfile %s: %s", path,
		 strerror(err));
	return -1;
}

/* ---- --listen ---- */

static pthread_mutex_t prom_lock = PTHREAD_MUTEX_INITIALIZER;
static char *prom_body;			/* last rendering: prom_lock */
static size_t prom_body_len;
static pthread_t prom_thread;
static int prom_fd = -1;		/* listening socket, -1: not serving */
static atomic_bool prom_stopping;

void vt_prom_publish(const struct vt_snapshot *s)
{
	char *buf = NULL, *old;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&buf, &len);
	if (!f)
		return;		/* keep serving the previous one */
	vt_prom_render(f, s);
	if (fclose(f) || !buf) {
		free(buf);
		return;
	}
	pthread_mutex_lock(&prom_lock);
	old = prom_body;
	prom_body = buf;
	prom_body_len = len;
	pthread_mutex_unlock(&prom_lock);
	free(old);
}

static int prom_bad_addr(const char *addr_port, const char *why)
{
	snprintf(vt_errmsg, sizeof(vt_errmsg), "bad --listen address '%s': %s",
		 addr_port, why);
	return -1;
}

/* "127.0.0.1:9100", ":9100" (all IPv4 addresses), "[::1]:9100" */
static int prom_parse_addr(const char *addr_port, struct sockaddr_storage *ss,
			   socklen_t *sslen)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	const char *hstart = addr_port, *hend;
	char host[INET6_ADDRSTRLEN];
	bool v6 = addr_port[0] == '[';
	uint32_t port = 0;
	const char *c;
	int err;

	if (v6) {
		hstart++;
		hend = strchr(hstart, ']');
		if (!hend)
			return prom_bad_addr(addr_port, "missing ']'");
		if (hend[1] != ':')
			return prom_bad_addr(addr_port, "expected [IPV6]:PORT");
		c = hend + 2;
	} else {
		hend = strrchr(addr_port, ':');
		if (!hend)
			return prom_bad_addr(addr_port,
				"expected IPV4:PORT, :PORT or [IPV6]:PORT");
		c = hend + 1;
	}
	if (!*c)
		return prom_bad_addr(addr_port, "no port");
	err = num_u32(c, 10, 1, 65535, &port);
	if (err == -EINVAL)
		return prom_bad_addr(addr_port, "port is not a number");
	if (err)
		return prom_bad_addr(addr_port, "port out of range 1..65535");
	if ((size_t)(hend - hstart) >= sizeof(host))
		return prom_bad_addr(addr_port, v6 ? "not an IPv6 address" :
				     "not an IPv4 address");
	memcpy(host, hstart, hend - hstart);
	host[hend - hstart] = '\0';

	memset(ss, 0, sizeof(*ss));
	if (v6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return prom_bad_addr(addr_port, "not an IPv6 address");
		*sslen = sizeof(*sin6);
		return 0;
	}
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	if (!host[0])
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
	else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		return prom_bad_addr(addr_port, strchr(host, ':') ?
			"IPv6 addresses go in brackets: [ADDR]:PORT" :
			"not an IPv4 address");
	*sslen = sizeof(*sin);
	return 0;
}

static void prom_send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;		/* gone, or too slow: drop it */
		buf += n;
		len -= n;
	}
}

static void prom_respond(int fd, const char *status, const char *extra,
			 const char *body, size_t len, bool head)
{
	char hdr[512];
	int n;

	n = snprintf(hdr, sizeof(hdr),
		     "HTTP/1.0 %s\r\n"
		     "Content-Type: %s\r\n"
		     "Content-Length: %zu\r\n"
		     "%s"
		     "Connection: close\r\n"
		     "\r\n",
		     status,
		     strncmp(status, "200", 3) ?
			"text/plain; charset=utf-8" :
			"text/plain; version=0.0.4; charset=utf-8",
		     len, extra ? extra : "");
	if (n < 0 || n >= (int)sizeof(hdr))
		return;
	prom_send_all(fd, hdr, n);
	if (!head)
		prom_send_all(fd, body, len);
}

static long prom_ms_left(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (deadline->tv_sec - now.tv_sec) * 1000 +
	       (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

/*
 * Read the request line and headers, up to the empty line, into @buf
 * (NUL-terminated). Returns the bytes read; a client that is silent or
 * slow gets PROM_REQ_TIMEOUT_MS for all of it.
 */
static size_t prom_read_request(int fd, char *buf, size_t size)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct timespec deadline;
	size_t len = 0;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += PROM_REQ_TIMEOUT_MS / 1000;
	deadline.tv_nsec += (PROM_REQ_TIMEOUT_MS % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	buf[0] = '\0';
	while (len < size - 1) {
		long left = prom_ms_left(&deadline);
		ssize_t n;
		int r;

		if (left <= 0 || prom_stopping)
			break;
		/* slices: vt_prom_stop() need not wait for a mute client */
		r = poll(&pfd, 1, left < 100 ? (int)left : 100);
		if (r == 0 || (r < 0 && errno == EINTR))
			continue;
		if (r < 0)
			break;
		n = recv(fd, buf + len, size - 1 - len, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		len += n;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
			break;
	}
	return len;
}

static void prom_serve(int fd)
{
	struct timeval tv = { .tv_sec = PROM_SEND_TIMEOUT_S };
	char req[PROM_REQ_MAX];
	char *method, *target, *version, *eol, *q;
	static const char not_found[] = "not found: metrics are at /metrics\n";
	static const char bad_method[] = "method not allowed: GET or HEAD\n";
	static const char bad_req[] = "bad request\n";
	static const char no_data[] = "no snapshot yet\n";
	char *body;
	size_t len;
	bool head;

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (!prom_read_request(fd, req, sizeof(req)))
		return;
	eol = strpbrk(req, "\r\n");
	if (!eol)
		goto bad;	/* no complete request line in time */
	*eol = '\0';

	/* METHOD SP TARGET [SP VERSION] */
	method = req;
	target = strchr(method, ' ');
	if (!target)
		goto bad;
	*target++ = '\0';
	version = strchr(target, ' ');
	if (version) {
		*version++ = '\0';
		if (strncmp(version, "HTTP/", 5))
			goto bad;
	}
	if (!*method || !*target)
		goto bad;

	head = !strcmp(method, "HEAD");
	if (!head && strcmp(method, "GET")) {
		prom_respond(fd, "405 Method Not Allowed",
			     "Allow: GET, HEAD\r\n", bad_method,
			     sizeof(bad_method) - 1, false);
		return;
	}
	q = strchr(target, '?');
	if (q)
		*q = '\0';
	if (strcmp(target, "/metrics")) {
		prom_respond(fd, "404 Not Found", NULL, not_found,
			     sizeof(not_found) - 1, head);
		return;
	}

	/* copy: a slow client must not hold up vt_prom_publish() */
	pthread_mutex_lock(&prom_lock);
	len = prom_body_len;
	body = prom_body ? malloc(len ? len : 1) : NULL;
	if (body)
		memcpy(body, prom_body, len);
	pthread_mutex_unlock(&prom_lock);
	if (!body) {
		prom_respond(fd, "503 Service Unavailable",
			     "Retry-After: 1\r\n", no_data,
			     sizeof(no_data) - 1, head);
		return;
	}
	prom_respond(fd, "200 OK", NULL, body, len, head);
	free(body);
	return;

bad:
	prom_respond(fd, "400 Bad Request", NULL, bad_req, sizeof(bad_req) - 1,
		     false);
}

static void *prom_main(void *arg)
{
	int lfd = (int)(intptr_t)arg;

	while (!prom_stopping) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (prom_stopping)
				break;
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EINVAL)
				break;	/* shut down */
			/* EMFILE, ENOBUFS, ...: don't spin */
			poll(NULL, 0, 100);
			continue;
		}
		prom_serve(fd);
		shutdown(fd, SHUT_WR);
		close(fd);
	}
	return NULL;
}

int vt_prom_start(const char *addr_port)
{
	struct sockaddr_storage ss;
	sigset_t all, old;
	socklen_t sslen;
	int fd, one = 1, err;

	if (prom_parse_addr(addr_port, &ss, &sslen))
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&ss, sslen) || listen(fd, 16))
		goto fail_close;
	if (prom_fd >= 0) {
		close(fd);
		snprintf(vt_errmsg, sizeof(vt_errmsg),
			 "--listen %s: already serving /metrics", addr_port);
		return -1;
	}

	/* the thread takes no signals: they stay the main loop's (SIGWINCH) */
	prom_stopping = 0;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&prom_thread, NULL, prom_main,
			     (void *)(intptr_t)fd);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		errno = err;
		goto fail_close;
	}
	prom_fd = fd;
	return 0;

fail_close:
	err = errno;
	close(fd);
	errno = err;
fail:
	snprintf(vt_errmsg, sizeof(vt_errmsg), "--listen %s: %s", addr_port,
		 errno == EADDRINUSE ? "address already in use" :
		 errno == EACCES ? "permission denied" :
		 errno == EADDRNOTAVAIL ? "address not available on this host" :
		 strerror(errno));
	return -1;
}

void vt_prom_stop(void)
{
	char *body;

	if (prom_fd >= 0) {
		prom_stopping = 1;
		shutdown(prom_fd, SHUT_RDWR);	/* accept(): EINVAL */
		pthread_join(prom_thread, NULL);
		close(prom_fd);
		prom_fd = -1;
	}
	pthread_mutex_lock(&prom_lock);
	body = prom_body;
	prom_body = NULL;
	prom_body_len = 0;
	pthread_mutex_unlock(&prom_lock);
	free(body);
}
