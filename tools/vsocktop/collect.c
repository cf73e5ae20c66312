// SPDX-License-Identifier: GPL-2.0
/*
 * vsocktop's collector: one snapshot per interval from
 *  - the device registry (/sys/module/mvsock/parameters/devices; stock:
 *    one pseudo device per loaded transport),
 *  - sock_diag (every socket; with mvsock, MVSOCK_DIAG_INFO: queues,
 *    credit, stall, owner, so connections that existed before vsocktop
 *    started show their true state at once),
 *  - the BPF maps of vsocktop.bpf.c (counters since start).
 * Per-interval values are differences of the cumulative map values
 * between two calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/vm_sockets.h>
#include <linux/vm_sockets_diag.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "linux/mvsock.h"
#include "vsocktop.h"
#include "vsocktop.skel.h"
#include "collect.h"
#include "../lib/num.h"

#define VT_DEVICES_FILE	"/sys/module/mvsock/parameters/devices"
#define VT_CID_ANY	0xffffffffU

/* one socket from sock_diag */
struct vt_dsock {
	struct vsock_diag_msg msg;
	bool has_info;
	struct mvsock_diag_info info;
};

/* one connection's counters from the maps, summed over CPUs */
struct vt_cstat {
	struct vt_conn_key key;
	struct vt_conn_stats s;
	bool used;		/* matched a socket this interval */
};

/* vt_read_kv()'s entries: the value follows the key, no padding */
struct vt_kv_stall {
	struct vt_conn_key key;
	struct vt_conn_stall v;
};

struct vt_kv_stock {
	struct vt_conn_key key;
	struct vt_stock_conn v;
};

_Static_assert(sizeof(struct vt_kv_stall) ==
	       sizeof(struct vt_conn_key) + sizeof(struct vt_conn_stall), "padding");
_Static_assert(sizeof(struct vt_kv_stock) ==
	       sizeof(struct vt_conn_key) + sizeof(struct vt_stock_conn), "padding");

struct vt_kv_closed {
	struct vt_conn_key key;
	struct vt_conn_final v;
};

_Static_assert(sizeof(struct vt_kv_closed) ==
	       sizeof(struct vt_conn_key) + sizeof(struct vt_conn_final), "padding");

/* mvsock: a connection vsocktop follows, by key; sorted arrays */
struct vt_ctrack {
	struct vt_conn_key key;
	uint64_t cookie;		/* sock_diag's: tells a reused 4-tuple */
	uint64_t base_tx, base_rx;	/* bytes_sent/received at its start */
	uint64_t last_tx, last_rx;	/* ... at the previous snapshot */
	int64_t dev;
};

/* a device's cumulative values at the previous call */
struct vt_dprev {
	uint32_t id;
	struct vt_dev_stats s;
	uint64_t limited_ns;	/* ended + ongoing stalls */
	/* mvsock: the kernel's tx/rx packets/bytes, and their value at start */
	uint64_t k[4], kbase[4];
};

/* growable arrays */
#define VT_ARRAY(type, name) struct { type *v; int n, cap; } name

/*
 * @next's elements become @cur's, @next is emptied (keeping @cur's old
 * buffer): this call's values are the next call's "before"
 */
#define VT_ROTATE(cur, next) do {					\
	void *v_ = (cur).v;						\
	int cap_ = (cur).cap;						\
									\
	(cur).v = (next).v, (cur).n = (next).n, (cur).cap = (next).cap;	\
	(next).v = v_, (next).n = 0, (next).cap = cap_;			\
} while (0)

struct vt_collector {
	enum vt_mode mode;
	struct vsocktop_bpf *skel;
	int ncpus;
	uint64_t start_ns, last_ns;
	int nl;				/* NETLINK_SOCK_DIAG */
	VT_ARRAY(struct vt_dsock, socks);
	VT_ARRAY(struct vt_cstat, cur);
	VT_ARRAY(struct vt_cstat, prev);
	VT_ARRAY(struct vt_kv_stall, stalls);
	VT_ARRAY(struct vt_kv_stock, stock);
	VT_ARRAY(struct vt_kv_closed, closed);
	VT_ARRAY(struct vt_ctrack, track);	/* as of the previous call */
	VT_ARRAY(struct vt_ctrack, ntrack);	/* this call's */
	VT_ARRAY(struct vt_dprev, dprev);
	VT_ARRAY(struct vt_dprev, dcur);
	VT_ARRAY(struct vt_dev, devs);
	VT_ARRAY(struct vt_conn, conns);
	void *percpu;			/* lookup buffer: ncpus values */
	size_t percpu_size;
	void *batch_vals;		/* vt_read_conns()'s batch buffer */
};

char vt_errmsg[256];

#define vt_err(...) (snprintf(vt_errmsg, sizeof(vt_errmsg), __VA_ARGS__), -1)

static void *vt_grow(void *v, int *cap, int need, size_t size)
{
	int ncap = *cap ? *cap : 64;
	void *nv;

	if (need <= *cap)
		return v;
	while (ncap < need)
		ncap *= 2;
	nv = realloc(v, (size_t)ncap * size);
	if (!nv) {
		fprintf(stderr, "vsocktop: out of memory\n");
		exit(1);
	}
	*cap = ncap;
	return nv;
}

/* append one zeroed element to a VT_ARRAY and return it */
#define VT_PUSH(a) ((a).v = vt_grow((a).v, &(a).cap, (a).n + 1, sizeof(*(a).v)), \
		    memset(&(a).v[(a).n], 0, sizeof(*(a).v)), &(a).v[(a).n++])

uint64_t vt_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int vt_key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct vt_conn_key));
}

/* the element keyed @k of a VT_ARRAY sorted by key, or NULL */
#define vt_find(arr, k) bsearch(k, (arr).v, (arr).n, sizeof(*(arr).v), vt_key_cmp)

/* what one CPU's value takes in a per-CPU map lookup */
static size_t vt_stride(size_t size)
{
	return (size + 7) & ~(size_t)7;
}

/* ---- sock_diag ------------------------------------------------------- */

static int vt_diag_send(struct vt_collector *c)
{
	struct {
		struct nlmsghdr nlh;
		struct vsock_diag_req req;
	} r = {
		.nlh = {
			.nlmsg_len = sizeof(r),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		},
		.req = {
			.sdiag_family = AF_VSOCK,
			.vdiag_states = ~0U,
			.vdiag_show = MVSOCK_DIAG_SHOW_INFO,
		},
	};
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

	if (sendto(c->nl, &r, sizeof(r), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return vt_err("sock_diag: %s", strerror(errno));
	return 0;
}

static void vt_diag_add(struct vt_collector *c, struct nlmsghdr *h)
{
	struct vsock_diag_msg *m = NLMSG_DATA(h);
	int len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
	struct nlattr *a = (void *)((char *)m + NLMSG_ALIGN(sizeof(*m)));
	struct vt_dsock *s;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return;
	s = VT_PUSH(c->socks);
	s->msg = *m;
	while (len >= (int)sizeof(*a) && a->nla_len >= sizeof(*a) &&
	       a->nla_len <= len) {
		if ((a->nla_type & NLA_TYPE_MASK) == MVSOCK_DIAG_INFO) {
			size_t n = a->nla_len - NLA_HDRLEN;

			/* fields are appended only: take what both know */
			memcpy(&s->info, (char *)a + NLA_HDRLEN,
			       n < sizeof(s->info) ? n : sizeof(s->info));
			s->has_info = true;
		}
		len -= NLA_ALIGN(a->nla_len);
		a = (void *)((char *)a + NLA_ALIGN(a->nla_len));
	}
}

/* every AF_VSOCK socket; no sock_diag handler (stock, no vsock_diag): none */
static int vt_diag_dump(struct vt_collector *c)
{
	static char buf[32768];
	ssize_t n;

	c->socks.n = 0;
	if (vt_diag_send(c))
		return -1;
	for (;;) {
		struct nlmsghdr *h = (void *)buf;

		n = recv(c->nl, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return vt_err("sock_diag: %s", strerror(errno));
		}
		for (; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);

				if (e->error == -ENOENT)
					return 0;
				return vt_err("sock_diag: %s", strerror(-e->error));
			}
			if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY)
				vt_diag_add(c, h);
		}
	}
}

/* ---- maps ------------------------------------------------------------ */

/* sum a per-CPU value of u64 fields (every vt_*_stats is u64s but dev_id) */
static int vt_percpu_lookup(struct vt_collector *c, int fd, const void *key,
			    size_t size)
{
	size_t stride = vt_stride(size);

	if (c->percpu_size < stride * c->ncpus) {
		free(c->percpu);
		c->percpu_size = stride * c->ncpus;
		c->percpu = malloc(c->percpu_size);
		if (!c->percpu) {
			fprintf(stderr, "vsocktop: out of memory\n");
			exit(1);
		}
	}
	return bpf_map_lookup_elem(fd, key, c->percpu);
}

static void vt_sum_u64(void *out, const void *percpu, size_t nwords, size_t stride,
		       int ncpus)
{
	uint64_t *o = out;

	memset(out, 0, nwords * 8);
	for (int cpu = 0; cpu < ncpus; cpu++) {
		const uint64_t *v = (const void *)((const char *)percpu + cpu * stride);

		for (size_t i = 0; i < nwords; i++)
			o[i] += v[i];
	}
}

/* one connection's per-CPU values, summed */
static void vt_add_cstat(struct vt_collector *c, const struct vt_conn_key *key,
			 const void *percpu)
{
	size_t stride = vt_stride(sizeof(struct vt_conn_stats));
	struct vt_cstat *s = VT_PUSH(c->cur);

	s->key = *key;
	/* four u64 counters, then dev_id: the last CPU that saw one wins */
	vt_sum_u64(&s->s, percpu, 4, stride, c->ncpus);
	s->s.dev_id = -1;
	for (int cpu = 0; cpu < c->ncpus; cpu++) {
		const struct vt_conn_stats *v = (const void *)((const char *)percpu +
							       cpu * stride);

		if (v->tx_pkts || v->rx_pkts)
			s->s.dev_id = v->dev_id;
	}
}

#define VT_BATCH 512

/*
 * The whole map in a few batch lookups (a busy host creates thousands of
 * entries a second); where the kernel has no batch ops, key by key.
 */
static void vt_read_conns(struct vt_collector *c)
{
	int fd = bpf_map__fd(c->skel->maps.conn_stats);
	size_t stride = vt_stride(sizeof(struct vt_conn_stats));
	static struct vt_conn_key keys[VT_BATCH];
	struct vt_conn_key key, next, *prev = NULL, token;
	bool first = true;
	__u32 n;
	int err;

	c->cur.n = 0;
	if (!c->batch_vals)
		c->batch_vals = malloc(VT_BATCH * stride * c->ncpus);
	while (c->batch_vals) {
		n = VT_BATCH;
		err = bpf_map_lookup_batch(fd, first ? NULL : &token, &token, keys,
					   c->batch_vals, &n, NULL);
		for (__u32 i = 0; (!err || errno == ENOENT) && i < n; i++)
			vt_add_cstat(c, &keys[i], (char *)c->batch_vals + i * stride * c->ncpus);
		first = false;
		if (!err)
			continue;
		if (errno == ENOENT)
			goto out;
		break;		/* no batch ops: key by key */
	}
	c->cur.n = 0;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (!vt_percpu_lookup(c, fd, &key, sizeof(struct vt_conn_stats)))
			vt_add_cstat(c, &key, c->percpu);
	}
out:
	qsort(c->cur.v, c->cur.n, sizeof(*c->cur.v), vt_key_cmp);
}

/* delete @n keys from a map: in one batch, or one by one */
static void vt_delete_keys(int fd, struct vt_conn_key *keys, __u32 n)
{
	__u32 count = n;

	if (!n || !bpf_map_delete_batch(fd, keys, &count, NULL))
		return;
	for (__u32 i = count; i < n; i++)
		bpf_map_delete_elem(fd, &keys[i]);
}

/*
 * Every entry of a map keyed by struct vt_conn_key into an array of
 * {key, value} pairs (value right after the key), sorted by key.
 */
static void *vt_read_kv(int fd, void *v, int *n, int *cap, size_t vsize)
{
	size_t esize = sizeof(struct vt_conn_key) + vsize;
	struct vt_conn_key key, next, *prev = NULL;

	*n = 0;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		char *e;

		key = next;
		prev = &key;
		v = vt_grow(v, cap, *n + 1, esize);
		e = (char *)v + *n * esize;
		if (bpf_map_lookup_elem(fd, &key, e + sizeof(key)))
			continue;
		memcpy(e, &key, sizeof(key));
		(*n)++;
	}
	qsort(v, *n, esize, vt_key_cmp);
	return v;
}

static void vt_read_stalls(struct vt_collector *c)
{
	c->stalls.v = vt_read_kv(bpf_map__fd(c->skel->maps.conn_stall), c->stalls.v,
				 &c->stalls.n, &c->stalls.cap, sizeof(struct vt_conn_stall));
}

static void vt_read_stock(struct vt_collector *c)
{
	c->stock.v = vt_read_kv(bpf_map__fd(c->skel->maps.stock_conn), c->stock.v,
				&c->stock.n, &c->stock.cap, sizeof(struct vt_stock_conn));
}

static void vt_read_closed(struct vt_collector *c)
{
	c->closed.v = vt_read_kv(bpf_map__fd(c->skel->maps.conn_closed), c->closed.v,
				 &c->closed.n, &c->closed.cap, sizeof(struct vt_conn_final));
}

/*
 * The device's cumulative counters (zero when it had no event yet), and
 * the maxima of the interval that epoch @e was, over all CPUs.
 */
static void vt_read_dev(struct vt_collector *c, uint32_t id, uint64_t e,
			struct vt_dev_stats *out, struct vt_dev_max_slot *max)
{
	int fd = bpf_map__fd(c->skel->maps.dev_stats);
	size_t stride = vt_stride(sizeof(*out));

	memset(out, 0, sizeof(*out));
	memset(max, 0, sizeof(*max));
	if (vt_percpu_lookup(c, fd, &id, sizeof(*out)))
		return;
	/* the counters are the u64s before the maxima */
	vt_sum_u64(out, c->percpu, offsetof(struct vt_dev_stats, max) / 8, stride,
		   c->ncpus);
	for (int cpu = 0; cpu < c->ncpus; cpu++) {
		struct vt_dev_stats *v = (void *)((char *)c->percpu + cpu * stride);
		struct vt_dev_max_slot *s = &v->max[e & 1];

		if (s->epoch != e)
			continue;
		if (s->queue_max > max->queue_max)
			max->queue_max = s->queue_max;
		if (s->tx_lat_max > max->tx_lat_max)
			max->tx_lat_max = s->tx_lat_max;
		if (s->rx_lat_max > max->rx_lat_max)
			max->rx_lat_max = s->rx_lat_max;
	}
}

/* ---- devices --------------------------------------------------------- */

static const char *vt_role(const char *s)
{
	if (!strcmp(s, "guest"))
		return "guest";
	if (!strcmp(s, "host"))
		return "host";
	return "local";
}

static struct vt_dev *vt_new_dev(struct vt_collector *c, int64_t id)
{
	struct vt_dev *d = VT_PUSH(c->devs);

	d->id = id;
	d->role = "local";
	d->cid = VT_NA;
	d->queue_depth = VT_NA;
	d->queue_depth_max = VT_NA;
	d->rx_posted = VT_NA;
	d->stalled = VT_NA;
	d->credit_stalls = VT_NA;
	d->credit_stalls_total = VT_NA;
	d->credit_limited_ms = VT_NA;
	d->credit_limited_s_total = -1;
	d->tx_lat = d->rx_lat = (struct vt_lat){ -1, -1, -1 };
	return d;
}

/* a number of the registry, 0 if malformed */
static int64_t vt_reg_num(const char *s)
{
	int64_t v = 0;

	num_s64(s, 10, INT64_MIN, INT64_MAX, &v);
	return v;
}

/* one line of the registry: "id=0 name=loopback role=local cid=1 ..." */
static void vt_parse_dev_line(struct vt_collector *c, char *line)
{
	char *save = NULL, *tok, *eq;
	struct vt_dev *d = NULL;

	for (tok = strtok_r(line, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
		eq = strchr(tok, '=');
		if (!eq)
			continue;
		*eq++ = '\0';
		if (!strcmp(tok, "id"))
			d = vt_new_dev(c, vt_reg_num(eq));
		else if (!d)
			return;
		else if (!strcmp(tok, "name"))
			snprintf(d->name, sizeof(d->name), "%s", eq);
		else if (!strcmp(tok, "role"))
			d->role = vt_role(eq);
		else if (!strcmp(tok, "cid"))
			d->cid = vt_reg_num(eq);
		else if (!strcmp(tok, "default"))
			d->is_default = vt_reg_num(eq) != 0;
		else if (!strcmp(tok, "queued"))
			d->queue_depth = vt_reg_num(eq);
		/* the kernel's counts since registration: vt_fill_dev() */
		else if (!strcmp(tok, "tx_pkts"))
			d->tx_pkts_total = vt_reg_num(eq);
		else if (!strcmp(tok, "rx_pkts"))
			d->rx_pkts_total = vt_reg_num(eq);
		else if (!strcmp(tok, "tx_bytes"))
			d->tx_bytes_total = vt_reg_num(eq);
		else if (!strcmp(tok, "rx_bytes"))
			d->rx_bytes_total = vt_reg_num(eq);
	}
}

static int vt_devs_mvsock(struct vt_collector *c)
{
	char line[512];
	FILE *f = fopen(VT_DEVICES_FILE, "re");

	if (!f)
		return vt_err("mvsock is no longer loaded (%s: %s)", VT_DEVICES_FILE,
			      strerror(errno));
	while (fgets(line, sizeof(line), f))
		vt_parse_dev_line(c, line);
	fclose(f);
	return 0;
}

static bool vt_module_loaded(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/module/%s", name);
	return access(path, F_OK) == 0;
}

/* stock: our own CID on the guest transport, from /dev/vsock */
static int64_t vt_stock_local_cid(void)
{
	unsigned int cid;
	int fd = open("/dev/vsock", O_RDONLY | O_CLOEXEC);
	int err;

	if (fd < 0)
		return VT_NA;
	err = ioctl(fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid);
	close(fd);
	return err ? VT_NA : cid;
}

static int vt_devs_stock(struct vt_collector *c)
{
	struct vt_dev *d;

	if (!vt_module_loaded("vsock"))
		return vt_err("the stock vsock module is no longer loaded");
	if (vt_module_loaded("vsock_loopback")) {
		d = vt_new_dev(c, VT_STOCK_LOOPBACK);
		snprintf(d->name, sizeof(d->name), "loopback");
		d->cid = 1;
	}
	if (vt_module_loaded("vmw_vsock_virtio_transport")) {
		d = vt_new_dev(c, VT_STOCK_VIRTIO);
		snprintf(d->name, sizeof(d->name), "virtio");
		d->role = "guest";
		d->cid = vt_stock_local_cid();
		d->is_default = true;
	} else if (vt_module_loaded("vhost_vsock")) {
		d = vt_new_dev(c, VT_STOCK_VIRTIO);
		snprintf(d->name, sizeof(d->name), "vhost");
		d->role = "host";
	}
	return 0;
}

static struct vt_dev *vt_find_dev(struct vt_collector *c, int64_t id)
{
	for (int i = 0; i < c->devs.n; i++)
		if (c->devs.v[i].id == id)
			return &c->devs.v[i];
	return NULL;
}

/*
 * Forget the counters of devices that left the registry (a new device may
 * get the id again): zero their dev_stats slot, drop their dev_queues
 * entry.
 */
static void vt_prune_devs(struct vt_collector *c)
{
	int fd = bpf_map__fd(c->skel->maps.dev_stats);
	size_t size = vt_stride(sizeof(struct vt_dev_stats)) * c->ncpus;

	for (int i = 0; i < c->dprev.n; i++) {
		uint32_t id = c->dprev.v[i].id;

		if (vt_find_dev(c, id))
			continue;
		/* the lookup buffer has room for every CPU's value */
		vt_percpu_lookup(c, fd, &id, sizeof(struct vt_dev_stats));
		memset(c->percpu, 0, size);
		bpf_map_update_elem(fd, &id, c->percpu, BPF_ANY);
		bpf_map_delete_elem(bpf_map__fd(c->skel->maps.dev_queues), &id);
	}
}

/* ---- histograms ------------------------------------------------------ */

/* the @q quantile (0..1) of @h in microseconds, interpolated in its slot */
static double vt_quantile(const uint64_t *h, uint64_t count, double q, double max_us)
{
	double want = q * count, seen = 0;

	if (!count)
		return -1;
	for (int k = 0; k < VT_SLOTS; k++) {
		double lo, hi, v;

		if (!h[k] || seen + h[k] < want) {
			seen += h[k];
			continue;
		}
		lo = k ? (double)(1ULL << k) : 0;
		hi = k < 63 ? (double)(1ULL << (k + 1)) : lo * 2;
		v = (lo + (hi - lo) * (want - seen) / h[k]) / 1000.0;
		return max_us >= 0 && v > max_us ? max_us : v;
	}
	return max_us;
}

static void vt_lat(struct vt_lat *l, const __u64 *now, const __u64 *before,
		   uint64_t max_ns)
{
	uint64_t d[VT_SLOTS], n = 0;

	for (int k = 0; k < VT_SLOTS; k++) {
		d[k] = now[k] - (before ? before[k] : 0);
		n += d[k];
	}
	if (!n) {
		*l = (struct vt_lat){ -1, -1, -1 };
		return;
	}
	l->max = max_ns / 1000.0;
	l->p50 = vt_quantile(d, n, 0.50, l->max);
	l->p99 = vt_quantile(d, n, 0.99, l->max);
}

static void vt_hist_out(uint64_t *out, uint64_t *count, const __u64 *h)
{
	*count = 0;
	for (int k = 0; k < VT_SLOTS; k++) {
		out[k] = h[k];
		*count += h[k];
	}
}

/* ---- connections ------------------------------------------------------ */

static const char *vt_state(int st)
{
	switch (st) {
	case 1:
		return "ESTAB";
	case 2:
		return "SYN_SENT";
	case 10:
		return "LISTEN";
	case 11:
		return "CLOSING";
	default:
		return "CLOSE";
	}
}

static struct vt_cstat *vt_find_stat(struct vt_collector *c, struct vt_conn_key *k)
{
	struct vt_cstat *s = vt_find(c->cur, k);

	if (s || k->local_cid != VT_CID_ANY)
		return s;
	/* stock sock_diag shows an unbound client's CID as "any" */
	for (int i = 0; i < c->cur.n; i++) {
		s = &c->cur.v[i];
		if (s->key.local_port == k->local_port && s->key.peer_cid == k->peer_cid &&
		    s->key.peer_port == k->peer_port)
			return s;
	}
	return NULL;
}

static const struct vt_conn_stats *vt_prev_stat(struct vt_collector *c,
						const struct vt_conn_key *k)
{
	struct vt_cstat *s = vt_find(c->prev, k);

	return s ? &s->s : NULL;
}

static struct vt_conn *vt_new_conn(struct vt_collector *c, const struct vt_conn_key *k)
{
	struct vt_conn *r = VT_PUSH(c->conns);

	r->local_cid = k->local_cid;
	r->local_port = k->local_port;
	r->peer_cid = k->peer_cid;
	r->peer_port = k->peer_port;
	r->dev = VT_NA;
	r->type = "stream";
	r->state = "CLOSE";
	r->rx_queued = r->tx_queued = VT_NA;
	r->peer_credit = r->peer_buf_alloc = VT_NA;
	r->credit_stalls = r->credit_limited_ms = VT_NA;
	r->pid = VT_NA;
	return r;
}

static void vt_conn_traffic(struct vt_collector *c, struct vt_conn *r,
			    struct vt_cstat *s)
{
	const struct vt_conn_stats *p;

	if (!s)
		return;
	s->used = true;
	p = vt_prev_stat(c, &s->key);
	r->tx_bytes_total = s->s.tx_bytes;
	r->rx_bytes_total = s->s.rx_bytes;
	r->tx_bytes = s->s.tx_bytes - (p ? p->tx_bytes : 0);
	r->rx_bytes = s->s.rx_bytes - (p ? p->rx_bytes : 0);
	if (r->dev == VT_NA && s->s.dev_id >= 0)
		r->dev = s->s.dev_id;
}

/* stall time of a connection so far, counted from start (ns) */
static uint64_t vt_conn_limited(struct vt_collector *c, const struct vt_dsock *d,
				const struct vt_conn_stall *st, uint64_t now)
{
	uint64_t ns = st ? st->limited_ns : 0;

	if (!(d->info.flags & MVSOCK_DIAG_F_STALLED))
		return ns;
	if (st && st->begin_ns)
		return ns + (now > st->begin_ns ? now - st->begin_ns : 0);
	/* a stall that began before vsocktop started */
	return ns + (d->info.stall_ns < now - c->start_ns ? d->info.stall_ns :
		     now - c->start_ns);
}

static void vt_conn_mvsock(struct vt_collector *c, struct vt_conn *r,
			   const struct vt_dsock *d, uint64_t now)
{
	const struct mvsock_diag_info *i = &d->info;
	struct vt_kv_stall *st;

	r->dev = i->dev_id >= 0 ? i->dev_id : VT_NA;
	if (d->msg.vdiag_state == 10)	/* listeners have no queues */
		return;
	r->rx_queued = i->rx_queued;
	r->tx_queued = i->tx_queued;
	r->peer_credit = i->peer_credit;
	r->peer_buf_alloc = i->peer_buf_alloc;
	r->stalled = i->flags & MVSOCK_DIAG_F_STALLED;
	struct vt_conn_key k = { r->local_cid, r->local_port, r->peer_cid, r->peer_port };

	st = vt_find(c->stalls, &k);
	r->credit_stalls = st ? (int64_t)st->v.stalls : 0;
	r->credit_limited_ms = vt_conn_limited(c, d, st ? &st->v : NULL, now) / 1000000;
}

static void vt_conn_owner(struct vt_conn *r, const struct vt_dsock *d)
{
	if (!d->info.owner_pid)
		return;
	r->pid = d->info.owner_pid;
	snprintf(r->comm, sizeof(r->comm), "%.15s", d->info.owner_comm);
}

/* stock: credit from what the peer's packets said, when tx_cnt is exact */
static void vt_conn_stock(struct vt_collector *c, struct vt_conn *r,
			  const struct vt_conn_key *k)
{
	struct vt_kv_stock *s = vt_find(c->stock, k);
	int64_t credit;

	if (!s || !s->v.have_peer)
		return;
	r->peer_buf_alloc = s->v.peer_buf_alloc;
	if (!s->v.from_start)
		return;
	credit = (int64_t)s->v.peer_buf_alloc - (uint32_t)(s->v.tx_cnt - s->v.peer_fwd_cnt);
	r->peer_credit = credit > 0 ? credit : 0;
}

/* ---- mvsock: byte counts from the sockets ------------------------------ */

/*
 * A live connection's bytes: since the previous snapshot, and since it
 * was first counted: from 0 when the socket was made after start, else
 * from its value at start. A new cookie under a known 4-tuple is a new
 * connection.
 */
static void vt_track_sock(struct vt_collector *c, struct vt_conn *r,
			  const struct vt_dsock *d, const struct vt_conn_key *k)
{
	uint64_t tx = d->info.bytes_sent, rx = d->info.bytes_received;
	uint64_t cookie = d->msg.vdiag_cookie[0] |
			  (uint64_t)d->msg.vdiag_cookie[1] << 32;
	const struct vt_ctrack *t = vt_find(c->track, k);
	struct vt_ctrack *n = VT_PUSH(c->ntrack);

	n->key = *k;
	n->cookie = cookie;
	n->dev = d->info.dev_id >= 0 ? d->info.dev_id : VT_NA;
	if (t && t->cookie == cookie) {
		n->base_tx = t->base_tx;
		n->base_rx = t->base_rx;
		n->last_tx = t->last_tx;
		n->last_rx = t->last_rx;
	} else if (d->info.created_ns < c->start_ns) {
		/* it was there before vsocktop: its counts start now */
		n->base_tx = n->last_tx = tx;
		n->base_rx = n->last_rx = rx;
	}
	if (r) {
		r->tx_bytes = tx - n->last_tx;
		r->rx_bytes = rx - n->last_rx;
		r->tx_bytes_total = tx - n->base_tx;
		r->rx_bytes_total = rx - n->base_rx;
	}
	n->last_tx = tx;
	n->last_rx = rx;
}

/*
 * Connections that closed (conn_closed) and are no longer in the dump:
 * one more row, CLOSE, with what they moved since the previous snapshot
 * (when they moved anything). The entries are consumed; a closed key
 * still in the dump (closed after it) waits for the next call.
 */
static void vt_track_closed(struct vt_collector *c, bool rows)
{
	VT_ARRAY(struct vt_conn_key, del) = { 0 };
	VT_ARRAY(struct vt_conn_key, del_stall) = { 0 };

	for (int i = 0; i < c->closed.n; i++) {
		const struct vt_kv_closed *e = &c->closed.v[i];
		const struct vt_ctrack *t = vt_find(c->track, &e->key);
		uint64_t base_tx = 0, base_rx = 0, last_tx = 0, last_rx = 0;
		struct vt_conn *r;

		if (vt_find(c->ntrack, &e->key))
			continue;
		*VT_PUSH(del) = e->key;
		if (vt_find(c->stalls, &e->key))
			*VT_PUSH(del_stall) = e->key;
		if (t) {
			base_tx = t->base_tx;
			base_rx = t->base_rx;
			last_tx = t->last_tx;
			last_rx = t->last_rx;
		} else if (e->v.created_ns < c->start_ns) {
			continue;	/* older than vsocktop, never seen */
		}
		if (!rows || (e->v.sent == last_tx && e->v.received == last_rx))
			continue;
		r = vt_new_conn(c, &e->key);
		r->dev = t ? t->dev : VT_NA;
		r->tx_bytes = e->v.sent - last_tx;
		r->rx_bytes = e->v.received - last_rx;
		r->tx_bytes_total = e->v.sent - base_tx;
		r->rx_bytes_total = e->v.received - base_rx;
	}
	vt_delete_keys(bpf_map__fd(c->skel->maps.conn_closed), del.v, del.n);
	vt_delete_keys(bpf_map__fd(c->skel->maps.conn_stall), del_stall.v, del_stall.n);
	free(del.v);
	free(del_stall.v);
}

static void vt_add_sock(struct vt_collector *c, const struct vt_dsock *d, uint64_t now)
{
	const struct vsock_diag_msg *m = &d->msg;
	struct vt_conn_key k = {
		.local_cid = d->has_info ? d->info.src_cid : m->vdiag_src_cid,
		.local_port = m->vdiag_src_port,
		.peer_cid = m->vdiag_dst_cid,
		.peer_port = m->vdiag_dst_port,
	};
	struct vt_conn *r;

	/* a listener's or unconnected socket's packets carry its bound CID */
	if (m->vdiag_state == 10 || m->vdiag_state == 7)
		k.local_cid = m->vdiag_src_cid;
	r = vt_new_conn(c, &k);
	r->type = m->vdiag_type == SOCK_SEQPACKET ? "seqpacket" : "stream";
	r->state = vt_state(m->vdiag_state);
	if (d->has_info) {
		vt_conn_mvsock(c, r, d, now);
		vt_conn_owner(r, d);
		if (m->vdiag_state != 10)
			vt_track_sock(c, r, d, &k);
		return;
	}
	if (m->vdiag_state != 10) {
		struct vt_cstat *st = vt_find_stat(c, &k);

		/* stock, unbound client: the CID its packets carry */
		if (st)
			r->local_cid = st->key.local_cid;
		vt_conn_traffic(c, r, st);
	}
	if (c->mode == VT_MODE_STOCK) {
		if (r->dev == VT_NA && m->vdiag_state != 10)
			r->dev = k.peer_cid == 1 ? VT_STOCK_LOOPBACK : VT_STOCK_VIRTIO;
		vt_conn_stock(c, r, &k);
	}
}

/*
 * Map entries no socket matched: a connection that closed during the
 * interval shows once more (state CLOSE) with the payload it moved in
 * the interval; one that moved none is forgotten, in the maps too (its
 * packets are in its device's counts).
 */
static void vt_add_closed(struct vt_collector *c)
{
	VT_ARRAY(struct vt_conn_key, gone) = { 0 };
	VT_ARRAY(struct vt_conn_key, gone_st) = { 0 };
	VT_ARRAY(struct vt_conn_key, gone_sc) = { 0 };
	int keep = 0;

	for (int i = 0; i < c->cur.n; i++) {
		struct vt_cstat *s = &c->cur.v[i];
		const struct vt_conn_stats *p;

		if (!s->used) {
			p = vt_prev_stat(c, &s->key);
			if (p && p->tx_bytes == s->s.tx_bytes && p->rx_bytes == s->s.rx_bytes) {
				*VT_PUSH(gone) = s->key;
				if (vt_find(c->stalls, &s->key))
					*VT_PUSH(gone_st) = s->key;
				if (vt_find(c->stock, &s->key))
					*VT_PUSH(gone_sc) = s->key;
				continue;
			}
			vt_conn_traffic(c, vt_new_conn(c, &s->key), s);
		}
		c->cur.v[keep++] = *s;
	}
	c->cur.n = keep;
	vt_delete_keys(bpf_map__fd(c->skel->maps.conn_stats), gone.v, gone.n);
	vt_delete_keys(bpf_map__fd(c->skel->maps.conn_stall), gone_st.v, gone_st.n);
	vt_delete_keys(bpf_map__fd(c->skel->maps.stock_conn), gone_sc.v, gone_sc.n);
	free(gone.v);
	free(gone_st.v);
	free(gone_sc.v);
}

/* ---- per device ------------------------------------------------------- */

static void vt_count_conns(struct vt_collector *c)
{
	for (int i = 0; i < c->conns.n; i++) {
		struct vt_conn *r = &c->conns.v[i];
		struct vt_dev *d;

		if (!strcmp(r->state, "LISTEN") || !strcmp(r->state, "CLOSE"))
			continue;
		d = r->dev == VT_NA ? NULL : vt_find_dev(c, r->dev);
		if (!d)
			continue;
		d->conns++;
		if (d->stalled != VT_NA && r->stalled)
			d->stalled++;
	}
}

static struct vt_dprev *vt_find_dprev(struct vt_collector *c, uint32_t id)
{
	for (int i = 0; i < c->dprev.n; i++)
		if (c->dprev.v[i].id == id)
			return &c->dprev.v[i];
	return NULL;
}

/* ongoing stall time of the device's connections (ns since start) */
static uint64_t vt_dev_ongoing(struct vt_collector *c, int64_t id, uint64_t now)
{
	uint64_t ns = 0;

	for (int i = 0; i < c->socks.n; i++) {
		const struct vt_dsock *d = &c->socks.v[i];
		struct vt_kv_stall *st;
		struct vt_conn_key k;

		if (!d->has_info || d->info.dev_id != id ||
		    !(d->info.flags & MVSOCK_DIAG_F_STALLED))
			continue;
		k = (struct vt_conn_key){ d->info.src_cid, d->msg.vdiag_src_port,
					  d->msg.vdiag_dst_cid, d->msg.vdiag_dst_port };
		st = vt_find(c->stalls, &k);
		ns += vt_conn_limited(c, d, st ? &st->v : NULL, now) -
		      (st ? st->v.limited_ns : 0);
	}
	return ns;
}

/*
 * mvsock: the packet and byte counts are the kernel's (the registry line,
 * parsed into the *_total fields): since the previous call, and since
 * start. A device that was not there at start counts from 0, and so does
 * one whose counts went down (a new device under a reused id).
 */
static void vt_dev_kernel_counts(struct vt_dev *d, struct vt_dprev *cur,
				 const struct vt_dprev *p)
{
	int64_t *tot[4] = { &d->tx_pkts_total, &d->rx_pkts_total,
			    &d->tx_bytes_total, &d->rx_bytes_total };
	int64_t *ivl[4] = { &d->tx_pkts, &d->rx_pkts, &d->tx_bytes, &d->rx_bytes };
	bool same = p != NULL;

	for (int i = 0; i < 4; i++) {
		cur->k[i] = *tot[i];
		same = same && cur->k[i] >= p->k[i];
	}
	for (int i = 0; i < 4; i++) {
		cur->kbase[i] = same ? p->kbase[i] : 0;
		*ivl[i] = cur->k[i] - (same ? p->k[i] : 0);
		*tot[i] = cur->k[i] - cur->kbase[i];
	}
}

/* stock: the counts of vsocktop's programs */
static void vt_dev_bpf_counts(struct vt_dev *d, const struct vt_dev_stats *s,
			      const struct vt_dev_stats *b)
{
	d->tx_pkts_total = s->tx_pkts;
	d->rx_pkts_total = s->rx_pkts;
	d->tx_bytes_total = s->tx_bytes;
	d->rx_bytes_total = s->rx_bytes;
	d->tx_pkts = s->tx_pkts - (b ? b->tx_pkts : 0);
	d->rx_pkts = s->rx_pkts - (b ? b->rx_pkts : 0);
	d->tx_bytes = s->tx_bytes - (b ? b->tx_bytes : 0);
	d->rx_bytes = s->rx_bytes - (b ? b->rx_bytes : 0);
}

static void vt_fill_dev(struct vt_collector *c, struct vt_dev *d, uint64_t e,
			uint64_t now)
{
	struct vt_dprev *cur = VT_PUSH(c->dcur), *p;
	struct vt_dev_max_slot m;
	struct vt_dev_queues q;
	struct vt_dev_stats *s = &cur->s;
	const struct vt_dev_stats *b;

	cur->id = d->id;
	vt_read_dev(c, d->id, e, s, &m);
	p = vt_find_dprev(c, d->id);
	b = p ? &p->s : NULL;
	if (c->mode == VT_MODE_STOCK) {
		vt_dev_bpf_counts(d, s, b);
		return;
	}
	vt_dev_kernel_counts(d, cur, p);
	d->queue_depth_max = m.queue_max > d->queue_depth ? m.queue_max : d->queue_depth;
	if (!bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.dev_queues), &d->id, &q) &&
	    q.depth[2] >= 0)
		d->rx_posted = q.depth[2];
	d->stalled = 0;
	d->credit_stalls_total = s->stalls;
	d->credit_stalls = s->stalls - (b ? b->stalls : 0);
	cur->limited_ns = s->limited_ns + vt_dev_ongoing(c, d->id, now);
	d->credit_limited_s_total = cur->limited_ns / 1e9;
	d->credit_limited_ms = cur->limited_ns > (p ? p->limited_ns : 0) ?
		(int64_t)((cur->limited_ns - (p ? p->limited_ns : 0)) / 1000000) : 0;
	vt_lat(&d->tx_lat, s->tx_hist, b ? b->tx_hist : NULL, m.tx_lat_max);
	vt_lat(&d->rx_lat, s->rx_hist, b ? b->rx_hist : NULL, m.rx_lat_max);
	vt_hist_out(d->tx_hist, &d->tx_hist_count, s->tx_hist);
	vt_hist_out(d->rx_hist, &d->rx_hist_count, s->rx_hist);
	d->tx_hist_sum_ns = s->tx_sum_ns;
	d->rx_hist_sum_ns = s->rx_sum_ns;
}

/* ---- the snapshot ----------------------------------------------------- */

static int vt_collect_devs(struct vt_collector *c)
{
	c->devs.n = 0;
	return c->mode == VT_MODE_MVSOCK ? vt_devs_mvsock(c) : vt_devs_stock(c);
}

/* the connections: mvsock from the sockets, stock from the maps */
static int vt_collect_conns(struct vt_collector *c, uint64_t now)
{
	c->conns.n = 0;
	vt_read_stalls(c);
	if (c->mode == VT_MODE_MVSOCK) {
		/*
		 * The map after the dump: a socket that is gone from the dump
		 * has its conn_closed entry by now.
		 */
		if (vt_diag_dump(c))
			return -1;
		vt_read_closed(c);
		for (int i = 0; i < c->socks.n; i++)
			vt_add_sock(c, &c->socks.v[i], now);
		qsort(c->ntrack.v, c->ntrack.n, sizeof(*c->ntrack.v), vt_key_cmp);
		vt_track_closed(c, true);
		VT_ROTATE(c->track, c->ntrack);
		return 0;
	}
	/*
	 * Sockets after the maps: every entry read has its socket in the dump
	 * unless that socket closed meanwhile (then CLOSE is right).
	 */
	vt_read_conns(c);
	vt_read_stock(c);
	if (vt_diag_dump(c))
		return -1;
	for (int i = 0; i < c->socks.n; i++)
		vt_add_sock(c, &c->socks.v[i], now);
	vt_add_closed(c);
	VT_ROTATE(c->prev, c->cur);
	return 0;
}

int vt_collect(struct vt_collector *c, struct vt_snapshot *s)
{
	struct timespec rt;
	uint64_t now, e;

	if (vt_collect_devs(c))
		return -1;
	/* the interval ends here: programs move on to the next epoch's slot */
	e = c->skel->bss->epoch;
	c->skel->bss->epoch = e + 1;
	now = vt_now_ns();
	clock_gettime(CLOCK_REALTIME, &rt);
	if (vt_collect_conns(c, now))
		return -1;

	c->dcur.n = 0;
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < c->devs.n; i++) {
		vt_fill_dev(c, &c->devs.v[i], e, now);
		s->tx_bytes += c->devs.v[i].tx_bytes;
		s->rx_bytes += c->devs.v[i].rx_bytes;
	}
	vt_count_conns(c);
	if (c->mode == VT_MODE_MVSOCK)
		vt_prune_devs(c);

	/* this call's cumulative values are the next call's "before" */
	VT_ROTATE(c->dprev, c->dcur);

	s->mode = c->mode;
	s->ts = rt.tv_sec + rt.tv_nsec / 1e9;
	s->interval_s = (now - c->last_ns) / 1e9;
	c->last_ns = now;
	s->devs = c->devs.v;
	s->ndevs = c->devs.n;
	s->conns = c->conns.v;
	s->nconns = c->conns.n;
	return 0;
}

/*
 * mvsock: what there is at start. The devices' kernel counts and the
 * connections' byte counts are the base the totals count from.
 */
static int vt_baseline(struct vt_collector *c)
{
	if (vt_collect_devs(c))
		return -1;
	for (int i = 0; i < c->devs.n; i++) {
		struct vt_dprev *p = VT_PUSH(c->dprev);
		struct vt_dev *d = &c->devs.v[i];

		p->id = d->id;
		p->k[0] = p->kbase[0] = d->tx_pkts_total;
		p->k[1] = p->kbase[1] = d->rx_pkts_total;
		p->k[2] = p->kbase[2] = d->tx_bytes_total;
		p->k[3] = p->kbase[3] = d->rx_bytes_total;
	}
	if (vt_diag_dump(c))
		return -1;
	vt_read_closed(c);
	for (int i = 0; i < c->socks.n; i++) {
		const struct vt_dsock *d = &c->socks.v[i];
		struct vt_conn_key k = { d->info.src_cid, d->msg.vdiag_src_port,
					 d->msg.vdiag_dst_cid, d->msg.vdiag_dst_port };

		if (d->has_info && d->msg.vdiag_state != 10)
			vt_track_sock(c, NULL, d, &k);
	}
	qsort(c->ntrack.v, c->ntrack.n, sizeof(*c->ntrack.v), vt_key_cmp);
	VT_ROTATE(c->track, c->ntrack);
	return 0;
}

struct vt_collector *vt_collector_new(enum vt_mode mode, struct vsocktop_bpf *skel,
				      uint64_t start_ns)
{
	struct vt_collector *c = calloc(1, sizeof(*c));
	struct timeval tv = { .tv_sec = 5 };

	if (!c) {
		(void)vt_err("out of memory");
		return NULL;
	}
	c->mode = mode;
	c->skel = skel;
	c->start_ns = c->last_ns = start_ns;
	c->ncpus = libbpf_num_possible_cpus();
	c->nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (c->ncpus <= 0 || c->nl < 0) {
		(void)vt_err("sock_diag: %s", strerror(errno));
		free(c);
		return NULL;
	}
	setsockopt(c->nl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (mode == VT_MODE_MVSOCK && vt_baseline(c)) {
		vt_collector_free(c);
		return NULL;
	}
	return c;
}

void vt_collector_free(struct vt_collector *c)
{
	if (!c)
		return;
	close(c->nl);
	free(c->socks.v);
	free(c->cur.v);
	free(c->prev.v);
	free(c->stalls.v);
	free(c->stock.v);
	free(c->closed.v);
	free(c->track.v);
	free(c->ntrack.v);
	free(c->dprev.v);
	free(c->dcur.v);
	free(c->devs.v);
	free(c->conns.v);
	free(c->percpu);
	free(c->batch_vals);
	free(c);
}
