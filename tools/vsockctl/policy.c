// SPDX-License-Identifier: GPL-2.0
/*
 * vsockctl policy: load, show, clear, log and check. A loaded policy is
 * the mvsock_bpf_ops set of vsockctl.bpf.c with the compiled rules in its
 * read-only data; its link and maps are pinned in VC_PIN_DIR so that the
 * kernel keeps enforcing it after vsockctl exits:
 *
 *   link    the struct_ops link; replacing a policy updates it in place
 *           (every hook call sees the old or the new set, never none)
 *   rules   the programs' .rodata: compiled rules, normal form, source
 *   hits    per-rule counters (per-CPU)
 *   log     the denials' ring buffer, kept across replacements
 *
 * Commands that change the pins hold an exclusive flock on VC_PIN_DIR,
 * readers a shared one, so `show` never mixes two policies.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cli.h"
#include "rules.h"
#include "vsockctl.skel.h"

#define VC_BPFFS	"/sys/fs/bpf"
#define VC_PIN_DIR	VC_BPFFS "/mvsock"
#define VC_PIN_LINK	VC_PIN_DIR "/policy_link"
#define VC_PIN_RULES	VC_PIN_DIR "/policy_rules"
#define VC_PIN_HITS	VC_PIN_DIR "/policy_hits"
#define VC_PIN_LOG	VC_PIN_DIR "/policy_log"
#define VC_BPF_FS_MAGIC	0xcafe4a11

typedef struct vsockctl_bpf__rodata vc_rodata_t;

/* ---- bpffs and the lock ------------------------------------------------- */

static int vc_mount_bpffs(void)
{
	struct statfs st;

	if (statfs(VC_BPFFS, &st) == 0 && st.f_type == VC_BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", VC_BPFFS, "bpf", 0, "mode=0700"))
		return cli_fail("cannot mount bpffs on %s: %s", VC_BPFFS, strerror(errno));
	return 0;
}

/*
 * VC_PIN_DIR opened and locked (@op: LOCK_EX or LOCK_SH); -1 when it does
 * not exist, -2 on another error (the message is printed)
 */
static int vc_lock(int op, bool create)
{
	int fd;

	if (create && mkdir(VC_PIN_DIR, 0700) && errno != EEXIST) {
		cli_fail("cannot create %s: %s", VC_PIN_DIR, strerror(errno));
		return -2;
	}
	fd = open(VC_PIN_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return -1;
	if (fd < 0) {
		cli_fail("%s: %s", VC_PIN_DIR, strerror(errno));
		return -2;
	}
	if (flock(fd, op)) {
		cli_fail("cannot lock %s: %s", VC_PIN_DIR, strerror(errno));
		close(fd);
		return -2;
	}
	return fd;
}

static bool vc_pinned(const char *path)
{
	return access(path, F_OK) == 0;
}

/* the name of the attached mvsock_bpf_ops set ("" none) */
static void vc_attached_name(char *buf, size_t len)
{
	FILE *f = fopen(VC_BPF_OPS_FILE, "re");

	buf[0] = '\0';
	if (!f)
		return;
	if (!fgets(buf, len, f))
		buf[0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

/* ---- check and the parse for load --------------------------------------- */

/* the CIDs `via` may name: guest and local devices' CIDs, 2 with a host one */
static uint32_t *vc_local_cids(unsigned int *n)
{
	struct vc_dev *devs = vc_read_devices(n);
	uint32_t *cids;
	unsigned int i;

	if (!devs)
		return NULL;
	cids = calloc(*n + 1, sizeof(*cids));
	for (i = 0; cids && i < *n; i++)
		cids[i] = strcmp(devs[i].role, "host") ? devs[i].cid : 2;
	free(devs);
	return cids;
}

static const char *vc_display_name(const char *file)
{
	return strcmp(file, "-") ? file : "<stdin>";
}

/* parse @file into @p; 0, or 1 with the message printed */
static int vc_parse_file(const char *file, struct vc_policy *p)
{
	struct vc_parse_opts o = { .warn = stderr };
	uint32_t *cids = NULL;
	char err[VC_LINE_MAX + 256];
	FILE *in = stdin;
	int ret;

	if (strcmp(file, "-")) {
		in = fopen(file, "re");
		if (!in)
			return cli_fail("%s: %s", file, strerror(errno));
	}
	/* `via` is checked against the devices only when mvsock is loaded */
	if (access(VC_MODULE_DIR, F_OK) == 0) {
		cids = vc_local_cids(&o.n_local_cids);
		o.local_cids = cids;
	}
	ret = vc_parse(in, file, &o, p, err, sizeof(err));
	if (in != stdin)
		fclose(in);
	free(cids);
	if (ret) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	return 0;
}

static unsigned int vc_count_dir(const struct vc_policy *p, enum vc_dir dir)
{
	unsigned int i, n = 0;

	for (i = 0; i < p->n_rules; i++)
		n += p->rules[i].dir == dir;
	return n;
}

/* a rules file parsed, compiled and in normal form */
struct vc_loaded {
	struct vc_policy p;
	struct vc_compiled *c;
	char *text;
};

static void vc_loaded_free(struct vc_loaded *l)
{
	free(l->text);
	free(l->c);
	vc_policy_free(&l->p);
}

/* 0, or 1 with the message printed (and @l freed) */
static int vc_prepare(const char *file, struct vc_loaded *l)
{
	char err[512];

	memset(l, 0, sizeof(*l));
	if (vc_parse_file(file, &l->p))
		return 1;
	l->c = calloc(1, sizeof(*l->c));
	l->text = malloc(VC_TEXT_MAX);
	if (!l->c || !l->text) {
		cli_fail("out of memory");
		goto err_free;
	}
	if (vc_compile(&l->p, file, l->c, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		goto err_free;
	}
	if (vc_format(&l->p, l->text, VC_TEXT_MAX) < 0) {
		cli_fail("%s: the rules in normal form exceed %d bytes", vc_display_name(file),
			VC_TEXT_MAX - 1);
		goto err_free;
	}
	return 0;

err_free:
	vc_loaded_free(l);
	return 1;
}

/* "N rules (in A, out B, route C), default X" after @what */
static void vc_print_summary(const char *what, const struct vc_policy *p)
{
	printf("%s%u rules (in %u, out %u, route %u), default %s\n", what, p->n_rules,
	       vc_count_dir(p, VC_DIR_IN), vc_count_dir(p, VC_DIR_OUT),
	       vc_count_dir(p, VC_DIR_ROUTE), p->default_deny ? "deny" : "allow");
}

static int vc_policy_check(const char *file)
{
	struct vc_loaded l;
	const struct vc_policy *p = &l.p;
	const char *text;

	if (vc_prepare(file, &l))
		return 1;
	text = l.text;
	if (vc_opt.print) {
		fputs(text, stdout);
	} else if (vc_opt.json) {
		printf("{\"file\": ");
		vc_json_str(vc_display_name(file));
		printf(", \"rules\": %u, \"in\": %u, \"out\": %u, \"route\": %u, \"default\": \"%s\", \"text\": ",
		       p->n_rules, vc_count_dir(p, VC_DIR_IN), vc_count_dir(p, VC_DIR_OUT),
		       vc_count_dir(p, VC_DIR_ROUTE), p->default_deny ? "deny" : "allow");
		vc_json_str(text);
		printf("}\n");
	} else {
		printf("%s: OK, ", vc_display_name(file));
		vc_print_summary("", p);
	}
	vc_loaded_free(&l);
	return 0;
}

/* ---- load ------------------------------------------------------------------ */

static void vc_fill_rodata(struct vsockctl_bpf *skel, const struct vc_compiled *c,
			   const char *text, const char *file)
{
	vc_rodata_t *r = skel->rodata;
	char *abs = strcmp(file, "-") ? realpath(file, NULL) : NULL;

	r->vc_default_deny = c->default_deny;
	memcpy((void *)r->vc_n, c->n, sizeof(c->n));
	memcpy((void *)r->vc_entries, c->entry, sizeof(c->entry));
	memcpy((void *)r->vc_rules, c->info, sizeof(c->info));
	snprintf((char *)r->vc_text, VC_TEXT_MAX, "%s", text);
	/* (a longer path is cut: it only names the source in `show`) */
	snprintf((char *)r->vc_source, VC_SOURCE_MAX, "%s",
		 abs ? abs : vc_display_name(file));
	free(abs);
	r->vc_loaded_at = time(NULL);
}

/* pin @fd at @path_new (bpffs names have no dot), to be renamed once the link is updated */
static int vc_pin_new(int fd, const char *path)
{
	char tmp[128];

	snprintf(tmp, sizeof(tmp), "%s_new", path);
	unlink(tmp);
	if (bpf_obj_pin(fd, tmp))
		return cli_fail("cannot pin %s: %s", tmp, strerror(errno));
	return 0;
}

static void vc_pins_commit(bool commit, bool with_log)
{
	const char *paths[] = { VC_PIN_RULES, VC_PIN_HITS, VC_PIN_LOG };
	char tmp[128];
	unsigned int i;

	for (i = 0; i < 3; i++) {
		if (i == 2 && !with_log)
			break;
		snprintf(tmp, sizeof(tmp), "%s_new", paths[i]);
		if (!commit || rename(tmp, paths[i]))
			unlink(tmp);
	}
}

/* the programs, with the log ring buffer of the policy in force reused */
static struct vsockctl_bpf *vc_open_load(const struct vc_compiled *c, const char *text,
					 const char *file, bool *new_log)
{
	struct vsockctl_bpf *skel = vsockctl_bpf__open();
	int fd, err;

	if (!skel) {
		cli_fail("cannot open the BPF object: %s", strerror(errno));
		return NULL;
	}
	vc_fill_rodata(skel, c, text, file);
	*new_log = true;
	fd = bpf_obj_get(VC_PIN_LOG);
	if (fd >= 0) {
		err = bpf_map__reuse_fd(skel->maps.denials, fd);
		close(fd);
		if (!err)
			*new_log = false;
	}
	err = vsockctl_bpf__load(skel);
	if (err) {
		cli_fail("cannot load the BPF programs: %s (%s)", strerror(-err),
			access(VC_BPF_OPS_FILE, F_OK) ? "mvsock.ko lacks BPF support" :
			"-v shows libbpf's log");
		vsockctl_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

/* replace the pinned policy's set by @skel's, or attach and pin it */
static int vc_attach(struct vsockctl_bpf *skel, bool *replaced)
{
	struct bpf_link *link;
	char name[64];
	int err;

	*replaced = vc_pinned(VC_PIN_LINK);
	if (*replaced) {
		link = bpf_link__open(VC_PIN_LINK);
		if (!link)
			return cli_fail("cannot open %s: %s", VC_PIN_LINK, strerror(errno));
		err = bpf_link__update_map(link, skel->maps.vsockctl);
		bpf_link__disconnect(link);
		bpf_link__destroy(link);
		if (err)
			return cli_fail("cannot replace the policy in force: %s", strerror(-err));
		return 0;
	}
	link = bpf_map__attach_struct_ops(skel->maps.vsockctl);
	if (!link) {
		err = errno;
		vc_attached_name(name, sizeof(name));
		if (err == EBUSY && name[0])
			return cli_fail("cannot attach: the mvsock_bpf_ops set '%s' of another program is attached",
				       name);
		return cli_fail("cannot attach the policy: %s", strerror(err));
	}
	err = bpf_link__pin(link, VC_PIN_LINK);
	if (err) {
		/* destroying the unpinned link detaches it again */
		bpf_link__destroy(link);
		return cli_fail("cannot pin %s: %s", VC_PIN_LINK, strerror(-err));
	}
	bpf_link__disconnect(link);
	bpf_link__destroy(link);
	return 0;
}

static int vc_install(const struct vc_compiled *c, const char *text, const char *file,
		      const struct vc_policy *p)
{
	struct vsockctl_bpf *skel;
	bool new_log, replaced;
	int err;

	skel = vc_open_load(c, text, file, &new_log);
	if (!skel)
		return 1;
	err = vc_pin_new(bpf_map__fd(skel->maps.rodata), VC_PIN_RULES) ||
	      vc_pin_new(bpf_map__fd(skel->maps.hits), VC_PIN_HITS) ||
	      (new_log && vc_pin_new(bpf_map__fd(skel->maps.denials), VC_PIN_LOG));
	if (!err)
		err = vc_attach(skel, &replaced);
	vc_pins_commit(!err, new_log);
	vsockctl_bpf__destroy(skel);
	if (err)
		return 1;
	vc_print_summary(replaced ? "policy replaced: " : "policy loaded: ", p);
	return 0;
}

static int vc_policy_load(const char *file)
{
	struct vc_loaded l;
	int ret = 1, lock = -1;

	if (vc_prepare(file, &l))
		return 1;
	if (vc_need_module() || vc_mount_bpffs())
		goto out;
	lock = vc_lock(LOCK_EX, true);
	if (lock < 0) {
		if (lock == -1)
			cli_fail("%s: %s", VC_PIN_DIR, strerror(errno));
		goto out;
	}
	ret = vc_install(l.c, l.text, file, &l.p);
out:
	if (lock >= 0)
		close(lock);
	vc_loaded_free(&l);
	return ret;
}

/* ---- show ------------------------------------------------------------------- */

/* the per-CPU counters, summed; NULL + message on error */
static uint64_t *vc_read_hits(int fd)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *sum, *v;
	uint32_t k;
	int cpu;

	if (ncpu < 1) {
		cli_fail("cannot count the CPUs: %s", strerror(-ncpu));
		return NULL;
	}
	sum = calloc(VC_NHITS, sizeof(*sum));
	v = calloc(ncpu, sizeof(*v));
	for (k = 0; sum && v && k < VC_NHITS; k++) {
		if (bpf_map_lookup_elem(fd, &k, v)) {
			cli_fail("cannot read %s: %s", VC_PIN_HITS, strerror(errno));
			free(sum);
			sum = NULL;
			break;
		}
		for (cpu = 0; cpu < ncpu; cpu++)
			sum[k] += v[cpu];
	}
	free(v);
	return sum;
}

/* the pinned .rodata; NULL + message on error */
static vc_rodata_t *vc_read_rules(void)
{
	struct bpf_map_info info = { 0 };
	uint32_t len = sizeof(info), key = 0;
	vc_rodata_t *r = NULL;
	int fd = bpf_obj_get(VC_PIN_RULES);

	if (fd < 0) {
		cli_fail("cannot open %s: %s", VC_PIN_RULES, strerror(errno));
		return NULL;
	}
	if (bpf_map_get_info_by_fd(fd, &info, &len)) {
		cli_fail("cannot read %s: %s", VC_PIN_RULES, strerror(errno));
	} else if (info.value_size != sizeof(*r)) {
		cli_fail("the policy in force was loaded by another vsockctl version (vsockctl policy load replaces it)");
	} else {
		r = malloc(sizeof(*r));
		if (r && bpf_map_lookup_elem(fd, &key, r)) {
			cli_fail("cannot read %s: %s", VC_PIN_RULES, strerror(errno));
			free(r);
			r = NULL;
		}
	}
	close(fd);
	return r;
}

static void vc_fmt_time(uint64_t sec, char *buf, size_t len)
{
	time_t t = sec;
	struct tm tm;

	strftime(buf, len, "%Y-%m-%dT%H:%M:%S%z", localtime_r(&t, &tm));
}

struct vc_show {
	const vc_rodata_t *r;
	const uint64_t *hits;
	char *lines[VC_MAX_RULES + 1];	/* default, then the rules */
	unsigned int n;
};

static void vc_show_split(struct vc_show *s, char *text)
{
	char *save = NULL, *l;

	for (l = strtok_r(text, "\n", &save); l && s->n <= VC_MAX_RULES;
	     l = strtok_r(NULL, "\n", &save))
		s->lines[s->n++] = l;
}

static void vc_show_json(const struct vc_show *s)
{
	const vc_rodata_t *r = s->r;
	char when[64];
	unsigned int i;

	vc_fmt_time(r->vc_loaded_at, when, sizeof(when));
	printf("{\"loaded\": true, \"source\": ");
	vc_json_str((const char *)r->vc_source);
	printf(", \"loaded_at\": \"%s\", \"default\": \"%s\", \"default_hits\": {\"in\": %llu, \"out\": %llu}, \"rules\": [",
	       when, r->vc_default_deny ? "deny" : "allow",
	       (unsigned long long)s->hits[VC_HIT_DEFAULT_IN],
	       (unsigned long long)s->hits[VC_HIT_DEFAULT_OUT]);
	for (i = 1; i < s->n; i++) {
		printf("%s{\"line\": %u, \"rule\": ", i > 1 ? ", " : "", r->vc_rules[i - 1].line);
		vc_json_str(s->lines[i]);
		printf(", \"hits\": %llu}", (unsigned long long)s->hits[i - 1]);
	}
	printf("], \"local_allowed\": %llu, \"log_lost\": %llu}\n",
	       (unsigned long long)s->hits[VC_HIT_LOCAL],
	       (unsigned long long)s->hits[VC_HIT_LOG_LOST]);
}

static void vc_show_text(const struct vc_show *s)
{
	const vc_rodata_t *r = s->r;
	unsigned int i, w = 0;
	char when[64];

	for (i = 0; i < s->n; i++)
		if (strlen(s->lines[i]) > w)
			w = strlen(s->lines[i]);
	vc_fmt_time(r->vc_loaded_at, when, sizeof(when));
	printf("# policy from %s, loaded %s\n", (const char *)r->vc_source, when);
	printf("%-*s  # in %llu, out %llu\n", w, s->n ? s->lines[0] : "default allow",
	       (unsigned long long)s->hits[VC_HIT_DEFAULT_IN],
	       (unsigned long long)s->hits[VC_HIT_DEFAULT_OUT]);
	for (i = 1; i < s->n; i++)
		printf("%-*s  # line %u: %llu\n", w, s->lines[i], r->vc_rules[i - 1].line,
		       (unsigned long long)s->hits[i - 1]);
	printf("# local connections allowed without a cid 1 rule: %llu\n",
	       (unsigned long long)s->hits[VC_HIT_LOCAL]);
	if (s->hits[VC_HIT_LOG_LOST])
		printf("# denials not logged (log full): %llu\n",
		       (unsigned long long)s->hits[VC_HIT_LOG_LOST]);
}

static int vc_show_none(void)
{
	char name[64];

	vc_attached_name(name, sizeof(name));
	if (vc_opt.json) {
		printf("{\"loaded\": false, \"attached\": ");
		vc_json_str(name);
		printf("}\n");
	} else if (name[0]) {
		printf("no vsockctl policy; the mvsock_bpf_ops set '%s' of another program is attached\n",
		       name);
	} else {
		printf("no policy loaded: connections are not filtered\n");
	}
	return 0;
}

static int vc_policy_show(void)
{
	struct vc_show s = { 0 };
	vc_rodata_t *r = NULL;
	uint64_t *hits = NULL;
	int lock, fd, ret = 1;

	if (vc_need_module())
		return 1;
	lock = vc_lock(LOCK_SH, false);
	if (lock == -2)
		return 1;
	if (lock < 0 || !vc_pinned(VC_PIN_LINK)) {
		ret = vc_show_none();
		goto out;
	}
	r = vc_read_rules();
	fd = r ? bpf_obj_get(VC_PIN_HITS) : -1;
	if (r && fd < 0)
		cli_fail("cannot open %s: %s", VC_PIN_HITS, strerror(errno));
	if (fd >= 0) {
		hits = vc_read_hits(fd);
		close(fd);
	}
	if (!hits)
		goto out;
	s.r = r;
	s.hits = hits;
	vc_show_split(&s, (char *)r->vc_text);
	if (vc_opt.json)
		vc_show_json(&s);
	else
		vc_show_text(&s);
	ret = 0;
out:
	if (lock >= 0)
		close(lock);
	free(hits);
	free(r);
	return ret;
}

/* ---- clear ------------------------------------------------------------------ */

static int vc_policy_clear(void)
{
	const char *pins[] = { VC_PIN_RULES, VC_PIN_HITS, VC_PIN_LOG };
	unsigned int i;
	int lock, fd;

	if (vc_need_module())
		return 1;
	lock = vc_lock(LOCK_EX, false);
	if (lock == -2)
		return 1;
	if (lock < 0 || !vc_pinned(VC_PIN_LINK)) {
		if (lock >= 0)
			close(lock);
		printf("no policy loaded\n");
		return 0;
	}
	/* detach now: dropping the pin alone detaches only when the link is freed */
	fd = bpf_obj_get(VC_PIN_LINK);
	if (fd >= 0 && bpf_link_detach(fd) && errno != EOPNOTSUPP && errno != ENOLINK) {
		cli_fail("cannot detach the policy: %s", strerror(errno));
		close(fd);
		close(lock);
		return 1;
	}
	if (fd >= 0)
		close(fd);
	unlink(VC_PIN_LINK);
	for (i = 0; i < 3; i++)
		unlink(pins[i]);
	close(lock);
	printf("policy cleared: connections are not filtered\n");
	return 0;
}

/* ---- log -------------------------------------------------------------------- */

static volatile sig_atomic_t vc_stop;

static void vc_on_signal(int sig)
{
	(void)sig;
	vc_stop = 1;
}

static uint64_t vc_clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* a denial's CLOCK_BOOTTIME stamp as local wall-clock time with ms */
static void vc_denial_time(uint64_t boot_ns, char *buf, size_t len)
{
	uint64_t now_real = vc_clock_ns(CLOCK_REALTIME);
	uint64_t ago = vc_clock_ns(CLOCK_BOOTTIME) - boot_ns;
	uint64_t ns = now_real - ago;
	time_t t = ns / 1000000000ULL;
	struct tm tm;
	size_t n;

	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", localtime_r(&t, &tm));
	snprintf(buf + n, len - n, ".%03llu", (unsigned long long)(ns / 1000000ULL % 1000));
}

static void vc_cid_port(char *buf, size_t len, uint32_t cid, uint32_t port)
{
	snprintf(buf, len, "%u:%u", cid, port);
}

/* what the denied side saw: the peer of an in request gets RST */
static const char *vc_denial_verdict(const struct vc_denial *d)
{
	const char *en = vc_errno_name(d->err);

	if (d->dir == VC_DIR_IN)
		return "RST";
	return en ? en : "?";
}

static int vc_on_denial(void *ctx, void *data, size_t size)
{
	const struct vc_denial *d = data;
	char when[48], local[24], peer[24], comm[17], line[16];
	const char *dir = d->dir == VC_DIR_IN ? "in" : "out";

	(void)ctx;
	if (size < sizeof(*d))
		return 0;
	vc_denial_time(d->boot_ns, when, sizeof(when));
	snprintf(comm, sizeof(comm), "%s", d->comm);
	if (vc_opt.json) {
		printf("{\"time\": \"%s\", \"dir\": \"%s\", \"local_cid\": %u, \"local_port\": %u, \"peer_cid\": %u, \"peer_port\": %u, \"dev\": %d, \"line\": %u, \"verdict\": \"%s\", \"pid\": %u, \"comm\": ",
		       when, dir, d->local_cid, d->local_port, d->peer_cid, d->peer_port,
		       d->dev, d->line, vc_denial_verdict(d), d->pid);
		vc_json_str(comm);
		printf("}\n");
		return 0;
	}
	vc_cid_port(local, sizeof(local), d->local_cid, d->local_port);
	vc_cid_port(peer, sizeof(peer), d->peer_cid, d->peer_port);
	if (d->line)
		snprintf(line, sizeof(line), "%u", d->line);
	else
		snprintf(line, sizeof(line), "default");
	printf("%-23s %-3s %-21s %-21s %4d %-7s %-12s %7u %s\n", when, dir, local, peer,
	       d->dev, line, vc_denial_verdict(d), d->pid, comm[0] ? comm : "-");
	return 0;
}

static unsigned int vc_map_id(int fd)
{
	struct bpf_map_info info = { 0 };
	uint32_t len = sizeof(info);

	return bpf_map_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

/*
 * the pinned log's ring buffer; NULL with *@fd -1 when there is none, -2
 * on an error (the message is printed)
 */
static struct ring_buffer *vc_log_open(int *fd)
{
	struct ring_buffer *rb;
	int lock = vc_lock(LOCK_SH, false);

	if (lock == -2) {
		*fd = -2;
		return NULL;
	}
	*fd = vc_pinned(VC_PIN_LINK) ? bpf_obj_get(VC_PIN_LOG) : -1;
	if (lock >= 0)
		close(lock);
	if (*fd < 0)
		return NULL;
	rb = ring_buffer__new(*fd, vc_on_denial, NULL, NULL);
	if (!rb) {
		cli_fail("cannot read %s: %s", VC_PIN_LOG, strerror(errno));
		close(*fd);
		*fd = -2;
	}
	return rb;
}

/* follow: after a clear and a new load the pinned log is another map */
static bool vc_log_replaced(int fd)
{
	int now = bpf_obj_get(VC_PIN_LOG);
	bool replaced;

	if (now < 0)
		return false;
	replaced = vc_map_id(now) != vc_map_id(fd);
	close(now);
	return replaced;
}

static int vc_log_follow(struct ring_buffer *rb, int fd)
{
	int err;

	signal(SIGINT, vc_on_signal);
	signal(SIGTERM, vc_on_signal);
	while (!vc_stop) {
		err = ring_buffer__poll(rb, 1000);
		if (err < 0 && err != -EINTR) {
			ring_buffer__free(rb);
			close(fd);
			return cli_fail("cannot read the log: %s", strerror(-err));
		}
		if (err == 0 && vc_log_replaced(fd)) {
			ring_buffer__free(rb);
			close(fd);
			rb = vc_log_open(&fd);
			if (!rb)
				return fd == -2;
		}
	}
	ring_buffer__free(rb);
	close(fd);
	return 0;
}

static int vc_policy_log(void)
{
	struct ring_buffer *rb;
	int fd, err;

	if (vc_need_module())
		return 1;
	rb = vc_log_open(&fd);
	if (!rb) {
		if (fd == -2)
			return 1;
		return cli_fail("no policy loaded (vsockctl policy load FILE)");
	}
	if (!vc_opt.json)
		printf("%-23s %-3s %-21s %-21s %4s %-7s %-12s %7s %s\n", "TIME", "DIR", "LOCAL",
		       "PEER", "DEV", "RULE", "VERDICT", "PID", "COMM");
	if (vc_opt.follow)
		return vc_log_follow(rb, fd);
	err = ring_buffer__consume(rb);
	ring_buffer__free(rb);
	close(fd);
	if (err < 0)
		return cli_fail("cannot read the log: %s", strerror(-err));
	return 0;
}

/* ---- dispatch --------------------------------------------------------------- */

int vc_cmd_policy(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;
	bool with_file = sub && (!strcmp(sub, "load") || !strcmp(sub, "check"));

	if (!sub)
		return cli_usage("policy needs a command: load, show, clear, log or check");
	if (with_file ? argc != 3 : argc != 2)
		return cli_usage("policy %s %s", sub,
				with_file ? "takes one FILE (- for stdin)" : "takes no argument");
	if (!strcmp(sub, "load"))
		return vc_policy_load(argv[2]);
	if (!strcmp(sub, "check"))
		return vc_policy_check(argv[2]);
	if (!strcmp(sub, "show"))
		return vc_policy_show();
	if (!strcmp(sub, "clear"))
		return vc_policy_clear();
	if (!strcmp(sub, "log"))
		return vc_policy_log();
	return cli_usage("unknown policy command '%s': want load, show, clear, log or check", sub);
}
