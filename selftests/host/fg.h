/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fg: a user-space virtio-vsock GUEST driver ("fake guest") for testing a
 * host driver behind /dev/vhost-vsock.
 *
 * The fake guest keeps its split virtqueues and all packet buffers in one
 * anonymous mapping of its own ("the arena"), hands the host a one-region
 * memory table for it (guest-physical address FG_GPA_BASE + offset, so
 * the host must translate: GPA != user address) and drives the host with
 * the vhost ioctls exactly like QEMU's vhost-vsock-pci does.  Queues: rx
 * (0, device writes packets for us), tx (1, we send), event (2: laid out
 * in the arena like a real driver would, but never handed to the host --
 * QEMU keeps the event queue in user space and the vhost API only knows
 * queues 0 and 1).
 *
 * On top of the rings: packet encode/decode (44-byte little-endian
 * header), a minimal guest-side connection state machine with credit
 * accounting, and checks of everything the host sends (addresses, used
 * lengths, credit).  Any host misbehaviour seen is counted in fg->errors
 * with the first message kept in fg->first_error.
 *
 * Single-threaded: one thread drives a struct fg (fg_poll() and friends);
 * host sockets used by a test (../lib/vsock_util.h) run in other threads.
 * Data is ../lib/vsock_util.h's pattern (pat_fill, pat_check).
 */
#ifndef MVSOCK_FG_H
#define MVSOCK_FG_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../lib/vsock_util.h"

/* --- the wire protocol ------------------------------------------------ */

#define FG_HDR_LEN		44
#define FG_HOST_CID		2
#define FG_MAX_PAYLOAD		65536u	/* VIRTIO_VSOCK_MAX_PKT_BUF_SIZE */

enum {
	FG_OP_INVALID = 0,
	FG_OP_REQUEST,
	FG_OP_RESPONSE,
	FG_OP_RST,
	FG_OP_SHUTDOWN,
	FG_OP_RW,
	FG_OP_CREDIT_UPDATE,
	FG_OP_CREDIT_REQUEST,
	FG_OP_NR
};

#define FG_TYPE_STREAM		1
#define FG_TYPE_SEQPACKET	2

#define FG_SHUTDOWN_RCV		1u
#define FG_SHUTDOWN_SEND	2u
#define FG_SEQ_EOM		1u
#define FG_SEQ_EOR		2u

/* feature bits */
#define FG_F_SEQPACKET		1
#define FG_F_NOTIFY_ON_EMPTY	24
#define FG_F_ANY_LAYOUT		27
#define FG_F_INDIRECT_DESC	28
#define FG_F_EVENT_IDX		29
#define FG_F_VERSION_1		32
#define FG_F_ACCESS_PLATFORM	33
#define FG_BIT(b)		(1ULL << (b))

/* header in host byte order */
struct fg_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
};

void fg_hdr_encode(const struct fg_hdr *h, void *wire);
void fg_hdr_decode(const void *wire, struct fg_hdr *h);
const char *fg_op_name(unsigned int op);
/* "RW 1234:1024->2:5000 len 4 flags 0x1 ba 65536 fc 0" */
void fg_hdr_str(const struct fg_hdr *h, char *buf, size_t len);

/* --- the rings -------------------------------------------------------- */

#define FG_VQ_RX	0
#define FG_VQ_TX	1
#define FG_VQ_EVENT	2
#define FG_NVQ		3

/* guest-physical base of the arena in the memory table */
#define FG_GPA_BASE	0x100000000ULL

/* one descriptor of a chain: LEN bytes at offset OFF of the descriptor's
 * own buffer slot (so segments never overlap); FG_SEG_WRITE makes it
 * device-writable; FG_SEG_GPA puts the raw guest-physical address GPA in
 * the descriptor instead (for out-of-table tests; nothing is copied).
 */
#define FG_SEG_WRITE	1u
#define FG_SEG_GPA	2u
#define FG_MAX_SEGS	96

struct fg_seg {
	uint32_t len;
	uint32_t off;
	uint32_t flags;
	uint64_t gpa;
};

struct fg_layout {
	int n;
	bool indirect;		/* one ring descriptor pointing to a table of
				 * n descriptors (VIRTIO_RING_F_INDIRECT_DESC;
				 * the segments then share the head's slot) */
	struct fg_seg seg[FG_MAX_SEGS];
};

/* a layout of N segments of the given lengths, offset 0 */
void fg_layout_lens(struct fg_layout *l, int n, const uint32_t *lens);
/* one segment of LEN bytes */
void fg_layout_one(struct fg_layout *l, uint32_t len);
uint64_t fg_layout_total(const struct fg_layout *l);

struct fg_vq {
	int index;
	unsigned int num;
	void *desc;		/* struct vring_desc[num] */
	void *avail;		/* struct vring_avail + ring[num] */
	void *used;		/* struct vring_used + ring[num] */
	uint8_t *slots;		/* num buffers of slot_size, one per desc */
	uint64_t slot_size;
	uint64_t slots_gpa;
	uint16_t avail_idx;	/* next avail index we publish */
	uint16_t last_used;	/* used index consumed so far */
	uint16_t *free;		/* free descriptor stack */
	unsigned int nfree;
	uint16_t *next;		/* shadow of the chains: next desc or 0xffff */
	uint16_t *chain_n;	/* per head: descriptors in the chain */
	uint16_t *chain_ind;	/* per head: entries of its indirect table */
	uint8_t *indirect;	/* num tables of FG_MAX_SEGS descriptors */
	uint16_t kicked_idx;	/* avail index at the last kick decision */
	uint64_t *chain_cap;	/* per head: total bytes of the chain */
	uint16_t *fifo;		/* heads in avail order, for in-order reclaim */
	unsigned int fifo_head, fifo_len;
	int kick_fd;
	int call_fd;
	int err_fd;		/* VHOST_SET_VRING_ERR (QEMU sets one) */
	uint64_t kicks;
	uint64_t calls;
	uint64_t errs;		/* error notifications from the host */
	uint64_t used_total;	/* chains returned by the host */
	uint64_t swallowed;	/* chains consumed but never returned */
	bool registered;	/* handed to the host */
	unsigned int base_on_start; /* VHOST_SET_VRING_BASE value (0; after a
				     * stop: what GET_VRING_BASE said) */
};

/* --- connections ------------------------------------------------------ */

enum fg_conn_state {
	FGC_CONNECTING,		/* we sent REQUEST */
	FGC_ESTABLISHED,
	FGC_CLOSED,		/* RST seen/sent */
};

struct fg_mark {		/* SEQPACKET: a packet with EOM ended here */
	uint64_t end;		/* rx stream offset just after the message */
	uint32_t flags;		/* EOM/EOR bits of that packet */
};

struct fg;

struct fg_conn {
	struct fg *fg;
	struct fg_conn *next;
	uint32_t lport;		/* guest side */
	uint32_t pport;		/* host side */
	uint16_t type;
	enum fg_conn_state state;
	bool got_rst;
	bool refused;		/* RST while connecting */
	uint32_t peer_shutdown;	/* FG_SHUTDOWN_* bits received */
	bool auto_rst_on_shutdown; /* answer a full SHUTDOWN with RST */
	bool incoming;		/* created by a host REQUEST */
	bool accepted;		/* returned by fg_accept() */

	/* our receive side */
	uint32_t buf_alloc;	/* what we advertise */
	uint64_t fwd_total;	/* bytes our "application" consumed */
	uint64_t fwd_sent_total; /* fwd_total in our last packet */
	uint32_t ba_sent;	/* buf_alloc in our last packet */
	uint64_t rx_cnt;	/* RW payload bytes received */
	uint64_t rx_pkts;
	bool auto_credit;	/* send CREDIT_UPDATE after consuming */
	bool credit_pending;
	uint8_t *rxbuf;		/* received, not consumed */
	size_t rxlen, rxcap;
	bool sink;		/* consume at once, check the pattern */
	bool sink_nocheck;	/* ... or only count it (benchmarks) */
	uint64_t sink_seed;
	uint64_t sink_bad;	/* pattern mismatches */
	uint64_t sink_first_bad; /* stream offset of the first mismatch */
	struct fg_mark *marks;
	size_t nmarks, capmarks;
	uint64_t credit_violations;
	uint64_t max_unacked;	/* max of rx_cnt - fwd_sent seen */

	/* our transmit side */
	uint32_t tx_cnt;	/* payload bytes sent */
	uint32_t peer_buf_alloc;
	uint32_t peer_fwd_cnt;
	bool peer_credit_known;
	uint64_t credit_updates_rx;
	uint64_t credit_requests_rx;
	uint64_t pkts_by_op[FG_OP_NR];
	uint64_t bad_fwd_cnt;	/* peer acked more than we sent */
	bool no_fwd_check;	/* we sent raw packets: skip that check */
};

/* --- the fake guest ---------------------------------------------------- */

enum fg_listen_mode {
	FGL_ACCEPT,		/* answer RESPONSE, make a connection */
	FGL_REFUSE,		/* answer RST */
	FGL_IGNORE,		/* no answer; keep the REQUEST as a stray */
};

struct fg_listener {
	uint32_t port;
	uint16_t type;		/* 0: any */
	enum fg_listen_mode mode;
	uint32_t buf_alloc;
	bool sink;
	uint64_t sink_seed;
};

/* a received packet nobody claimed (or a copy when keep_all is set) */
struct fg_stray {
	struct fg_hdr h;
	uint32_t used_len;
	uint32_t datalen;	/* bytes kept in data (<= 64) */
	uint8_t data[64];
};

#define FG_MAX_STRAYS	4096
#define FG_MAX_LISTEN	16

enum fg_order {
	/* QEMU (vhost-vsock-pci): realize: SET_OWNER, GET_FEATURES, per vq
	 * SET_VRING_CALL (a "masked" eventfd) + SET_VRING_ERR,
	 * VHOST_VSOCK_SET_GUEST_CID; driver OK: SET_FEATURES,
	 * GET/SET_BACKEND_FEATURES, SET_MEM_TABLE, per vq SET_VRING_NUM,
	 * SET_VRING_BASE, SET_VRING_ADDR, SET_VRING_KICK, then
	 * VHOST_VSOCK_SET_RUNNING 1, then per vq SET_VRING_CALL (irqfd)
	 */
	FG_ORDER_QEMU,
	/* SET_OWNER, GET/SET_FEATURES, SET_MEM_TABLE, rings (with their
	 * call fds), then the CID just before SET_RUNNING
	 */
	FG_ORDER_ALT,
};

struct fg_opts {
	uint64_t cid;
	uint64_t want_features;	/* default VERSION_1 | SEQPACKET */
	bool no_features;	/* skip SET_FEATURES entirely (acked = 0) */
	unsigned int num;	/* ring size, default 128 (as QEMU) */
	uint64_t rx_slot;	/* default 65536 + 4096 */
	uint64_t tx_slot;	/* default 65536 + 4096 */
	enum fg_order order;
	bool no_start;		/* stop before SET_RUNNING */
	bool no_rx_fill;	/* post no rx buffers at start */
	uint32_t rx_buf;	/* rx buffer size (one descriptor), default
				 * FG_HDR_LEN + 4096 (as Linux 6.x) */
	const struct fg_layout *rx_layout; /* overrides rx_buf */
	uint32_t buf_alloc;	/* default for new connections: 1 MiB */
	bool linux_guest;	/* also negotiate EVENT_IDX and INDIRECT_DESC
				 * when offered and send like Linux does
				 * (indirect header + payload); also env
				 * FG_LINUX=1 */
};

struct fg {
	int fd;
	uint64_t cid;
	uint64_t features_offered;
	uint64_t features_acked;
	uint8_t *arena;
	size_t arena_size;
	struct fg_vq vq[FG_NVQ];
	struct fg_layout rx_layout;
	bool rx_paused;		/* do not repost rx buffers */
	unsigned int rx_limit;	/* keep at most this many rx chains posted
				 * (0 = as many as fit) */
	unsigned int rx_posted;
	bool always_kick;	/* ignore VRING_USED_F_NO_NOTIFY */
	bool event_idx;		/* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool tx_indirect;	/* fg_send() with no layout: header + payload
				 * as a 2-entry indirect table, like Linux */
	bool credit_request_on_stall; /* fg_conn_write() sends CREDIT_REQUEST
				 * when out of credit (Linux never does: by
				 * default we wait for CREDIT_UPDATE like it) */
	int tx_batch;		/* >0: fg_send() does not kick */
	uint32_t default_buf_alloc;
	uint32_t max_payload;	/* largest RW we send, default 64 KiB */
	uint32_t next_port;

	struct fg_conn *conns;
	struct fg_listener listen[FG_MAX_LISTEN];
	int nlisten;

	/* control packets waiting for descriptors (RST/RESPONSE/credit) */
	struct fg_hdr *ctrlq;
	unsigned int ctrl_len, ctrl_cap;

	struct fg_stray *strays;
	unsigned int nstrays;	/* in the buffer */
	uint64_t strays_total;
	bool auto_rst;		/* answer stray non-RST packets with RST */
	bool keep_all;		/* also log claimed packets as strays */

	/* statistics */
	uint64_t rx_pkts;
	uint64_t rx_bytes;
	uint64_t rx_by_op[FG_OP_NR + 1];
	uint64_t tx_pkts;
	uint64_t tx_bytes;
	uint64_t missed_calls;
	uint64_t polls;

	/* host misbehaviour seen */
	int errors;
	char first_error[256];

	uint8_t *gather;	/* scratch for multi-descriptor rx */
};

/* Allocate and set the device up; NULL (errno set, reason printed as a
 * KTAP diagnostic) on failure.  o may be NULL (defaults).
 */
struct fg *fg_open(const struct fg_opts *o);
/* close the device fd (the host sees the guest vanish), free everything */
void fg_close(struct fg *fg);
/* like QEMU stopping the device: SET_RUNNING 0, GET_VRING_BASE of rx/tx */
int fg_stop(struct fg *fg, unsigned int *rx_base, unsigned int *tx_base);
int fg_start(struct fg *fg);	/* SET_RUNNING 1 (after fg_stop) */

/* Pieces of the setup, for the API cases.  fg_alloc() builds the arena
 * and rings without opening the device (fd = -1).
 */
struct fg *fg_alloc(const struct fg_opts *o);
int fg_set_mem_table(struct fg *fg);
int fg_set_vring(struct fg *fg, int idx);  /* NUM, BASE, ADDR, KICK, CALL */
uint64_t fg_gpa(struct fg *fg, const void *p);

/* error notifications the host signalled on the rx and tx queues */
uint64_t fg_vq_errors(struct fg *fg);

/* record a host misbehaviour */
__attribute__((format(printf, 2, 3)))
void fg_error(struct fg *fg, const char *fmt, ...);

/* --- the event loop ----------------------------------------------------- */

/* Process used rx/tx entries, dispatch packets, repost rx buffers, flush
 * queued control packets.  When nothing was pending, wait up to
 * timeout_ms for the host to signal.  Returns the number of used entries
 * processed (0 on timeout), -1 on a fatal error.
 */
int fg_poll(struct fg *fg, int timeout_ms);

typedef bool (*fg_cond_fn)(struct fg *fg, void *arg);
/* poll until cond is true (true) or timeout_ms elapsed (false) */
bool fg_wait(struct fg *fg, fg_cond_fn cond, void *arg, int timeout_ms);
/* poll for timeout_ms, whatever happens */
void fg_idle(struct fg *fg, int timeout_ms);

/* --- transmit ----------------------------------------------------------- */

/* A chain being built: bytes written go over the layout's segments in
 * order; fg_tx_commit() fills what is left with 0xa5 and publishes it.
 */
struct fg_txb {
	struct fg *fg;
	int nseg;
	uint16_t desc[FG_MAX_SEGS];
	uint8_t *ptr[FG_MAX_SEGS];
	uint32_t len[FG_MAX_SEGS];
	int cur;
	uint32_t off;
	uint64_t written;
};

/* get descriptors for LAYOUT (NULL: one segment of len_hint bytes);
 * waits (polling) up to timeout_ms; -ETIMEDOUT, -ENOSPC (layout
 * impossible) or 0
 */
int fg_tx_begin(struct fg *fg, struct fg_txb *b, const struct fg_layout *lay,
		uint64_t len_hint, int timeout_ms);
void fg_txb_write(struct fg_txb *b, const void *data, uint64_t n);
void fg_txb_pattern(struct fg_txb *b, uint64_t seed, uint64_t pos, uint64_t n);
void fg_tx_commit(struct fg_txb *b);
/* kick tx (honours VRING_USED_F_NO_NOTIFY unless always_kick/force) */
void fg_kick(struct fg *fg, int vq, bool force);

/* Send one packet (header then payload) with LAYOUT (NULL: one
 * descriptor of exactly 44 + plen bytes).  Kicks unless fg->tx_batch.
 * 0 or -errno.
 */
int fg_send(struct fg *fg, const struct fg_hdr *h, const void *payload,
	    uint32_t plen, const struct fg_layout *lay);
/* send raw bytes as a chain (no header handling at all) */
int fg_send_raw(struct fg *fg, const void *bytes, uint64_t n,
		const struct fg_layout *lay);
/* fill in the header defaults of a packet from us to the host */
void fg_hdr_init(struct fg *fg, struct fg_hdr *h, uint16_t op, uint16_t type,
		 uint32_t sport, uint32_t dport);
/* wait until every tx chain was consumed (a later chain being returned
 * proves earlier ones were consumed); sends a harmless fence packet (RST
 * to an unused port) if needed.  true when drained.
 */
bool fg_tx_drain(struct fg *fg, int timeout_ms);
unsigned int fg_tx_inflight(struct fg *fg);

/* --- receive buffers ---------------------------------------------------- */

/* post up to n more rx chains (all that fit if n == 0); returns posted */
unsigned int fg_rx_fill(struct fg *fg, unsigned int n);
void fg_rx_set_layout(struct fg *fg, const struct fg_layout *lay);

/* --- connections -------------------------------------------------------- */

/* guest -> host: send REQUEST to host port, wait for the answer.  Returns
 * the connection in whatever state it reached (ESTABLISHED; CLOSED with
 * refused set on RST; still CONNECTING on timeout), NULL if the REQUEST
 * could not be sent.  lport 0 picks one.
 */
struct fg_conn *fg_connect(struct fg *fg, uint32_t lport, uint32_t hport,
			   uint16_t type, uint32_t buf_alloc, int timeout_ms);
int fg_listen(struct fg *fg, uint32_t port, uint16_t type,
	      enum fg_listen_mode mode, uint32_t buf_alloc);
/* wait for an incoming (host -> guest) connection on port */
struct fg_conn *fg_accept(struct fg *fg, uint32_t port, int timeout_ms);
struct fg_conn *fg_conn_find(struct fg *fg, uint32_t lport, uint32_t pport);
void fg_conn_free(struct fg_conn *c);

/* send a packet on the connection with current credit fields */
int fg_conn_send(struct fg_conn *c, uint16_t op, uint32_t flags,
		 const void *data, uint32_t len, const struct fg_layout *lay);
/* Write len bytes respecting the host's credit (waiting for the host's
 * CREDIT_UPDATE when stalled; CREDIT_REQUEST too if
 * fg->credit_request_on_stall).  data NULL: the pattern (seed, stream offset c->tx_cnt...
 * pos).  For SEQPACKET the last packet carries EOM | eor.  Returns bytes
 * written (< len on timeout/reset).
 */
uint64_t fg_conn_write(struct fg_conn *c, const void *data, uint64_t len,
		       uint64_t seed, uint64_t pos, uint32_t eor,
		       uint32_t max_pkt, int timeout_ms);
/* take up to n received bytes (NULL buf: discard); credit follows */
size_t fg_conn_read(struct fg_conn *c, void *buf, size_t n);
/* send CREDIT_UPDATE now */
int fg_conn_credit_update(struct fg_conn *c);
/* wait until rx_cnt >= n (or the connection closed); true on success */
bool fg_conn_wait_rx(struct fg_conn *c, uint64_t n, int timeout_ms);
bool fg_conn_wait_state(struct fg_conn *c, enum fg_conn_state st,
			int timeout_ms);
/* host credit available to us */
uint32_t fg_conn_credit(struct fg_conn *c);
/* make the connection a pattern sink from now on (offset = rx_cnt) */
void fg_conn_sink(struct fg_conn *c, uint64_t seed);
/* consume and count what arrives from now on, unchecked (benchmarks) */
void fg_conn_discard(struct fg_conn *c);

/* --- strays ------------------------------------------------------------- */

void fg_strays_clear(struct fg *fg);
/* first stray matching op (or any op if op < 0) and ports (0 = any) */
const struct fg_stray *fg_stray_find(struct fg *fg, int op, uint32_t sport,
				     uint32_t dport);
/* wait for such a stray */
const struct fg_stray *fg_stray_wait(struct fg *fg, int op, uint32_t sport,
				     uint32_t dport, int timeout_ms);

/* --- random ------------------------------------------------------------- */

uint64_t fg_rand(uint64_t *state);
static inline uint32_t fg_rand_below(uint64_t *state, uint32_t n)
{
	return n ? (uint32_t)(fg_rand(state) % n) : 0;
}

/* --- threads for the host sides of a test ---------------------------------- */

struct hs_thread {
	pthread_t t;
	bool started;
};

int hs_thread_start(struct hs_thread *t, void *(*fn)(void *), void *arg);
/* 0 when joined, -ETIMEDOUT if it is still running */
int hs_thread_join(struct hs_thread *t, int timeout_ms);

#endif /* MVSOCK_FG_H */
