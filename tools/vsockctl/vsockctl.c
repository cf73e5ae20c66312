// SPDX-License-Identifier: GPL-2.0
/*
 * vsockctl: the control tool of mvsock. `devices` lists the device
 * registry, `default` shows or sets the default guest device, and the
 * `policy` commands (policy.c) load, show, clear, audit and check a BPF
 * connection policy written as a rules file (rules.c, docs/policy.md).
 * vsockctl(8) and docs/policy.md describe it all.
 */
#include <argp.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "../lib/num.h"

struct vc_opts vc_opt;

static const char vc_doc[] =
"Control mvsock: its devices, the default guest device and the BPF\n"
"connection policy.\n"
"\n"
"Commands:\n"
"  devices               the device registry, one line per device\n"
"  default [DEV|auto]    show or set the default device of unbound guest\n"
"                        connections (DEV: id, cid:N or name)\n"
"  policy load FILE      compile FILE (- for stdin) and enforce it, also\n"
"                        after vsockctl exits; replaces the policy in force\n"
"                        atomically\n"
"  policy show           the rules in force with their hit counters\n"
"  policy clear          remove the policy: connections are not filtered\n"
"  policy log            the denials since the last read (-f: follow)\n"
"  policy check FILE     parse and verify FILE only\n"
"\vExamples:\n"
"  vsockctl devices\n"
"  vsockctl default cid:4        unbound guest connections use CID 4's device\n"
"  vsockctl default auto         back to the automatic choice\n"
"  vsockctl policy check /etc/mvsock/policy.rules\n"
"  vsockctl policy load /etc/mvsock/policy.rules\n"
"  echo 'default deny' | vsockctl policy load -\n"
"  vsockctl policy show --json\n"
"  vsockctl policy log -f        denials as they happen (Ctrl-C stops)\n"
"  vsockctl policy clear\n"
"\n"
CLI_EXIT_DOC " Rules file errors are reported as FILE:LINE: message.";

enum {
	OPT_JSON = 256,
};

static const struct argp_option vc_options[] = {
	{ "json", OPT_JSON, NULL, 0, "Print data as JSON (devices, default, policy show, log, check)", 0 },
	{ "output", 'o', "FMT", 0, "text (default) or json", 0 },
	{ "follow", 'f', NULL, 0, "policy log: keep printing denials as they happen", 1 },
	{ "print", 'p', NULL, 0, "policy check: print the rules in normal form", 1 },
	{ 0 },
};

struct vc_args {
	char **words;
	int nwords;
};

static error_t vc_parse_opt(int key, char *arg, struct argp_state *st)
{
	struct vc_args *a = st->input;

	switch (key) {
	case OPT_JSON:
		vc_opt.json = true;
		break;
	case 'o':
		if (!strcmp(arg, "json"))
			vc_opt.json = true;
		else if (!strcmp(arg, "text"))
			vc_opt.json = false;
		else
			argp_error(st, "bad --output '%s': want text or json", arg);
		break;
	case 'f':
		vc_opt.follow = true;
		break;
	case 'p':
		vc_opt.print = true;
		break;
	case ARGP_KEY_ARG:
		a->words[a->nwords++] = arg;
		break;
	case ARGP_KEY_NO_ARGS:
		argp_error(st, "a command is needed: devices, default or policy");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp vc_argp = {
	.options = vc_options,
	.parser = vc_parse_opt,
	.args_doc = "COMMAND [ARG...]",
	.doc = vc_doc,
	.children = cli_children,
};

int vc_need_module(void)
{
	if (access(VC_MODULE_DIR, F_OK) == 0)
		return 0;
	return cli_fail("mvsock is not loaded (%s: %s)", VC_MODULE_DIR, strerror(errno));
}

void vc_json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = *s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

/* ---- the device registry ----------------------------------------------- */

/* a registry number; a malformed one leaves *@v alone (0, or -1: none) */
static void vc_dev_u32(const char *val, uint32_t *v)
{
	num_u32(val, 10, 0, UINT32_MAX, v);
}

static void vc_dev_int(const char *val, int *v)
{
	int64_t x;

	if (!num_s64(val, 10, INT32_MIN, INT32_MAX, &x))
		*v = x;
}

static void vc_dev_field(struct vc_dev *d, const char *key, const char *val)
{
	static const struct {
		const char *key;
		size_t off;
	} u64s[] = {
		{ "tx_pkts", offsetof(struct vc_dev, tx_pkts) },
		{ "tx_bytes", offsetof(struct vc_dev, tx_bytes) },
		{ "rx_pkts", offsetof(struct vc_dev, rx_pkts) },
		{ "rx_bytes", offsetof(struct vc_dev, rx_bytes) },
		{ "rx_dropped", offsetof(struct vc_dev, rx_dropped) },
		{ "tx_dropped", offsetof(struct vc_dev, tx_dropped) },
		{ "rx_bad", offsetof(struct vc_dev, rx_bad) },
		{ "rst_sent", offsetof(struct vc_dev, rst_sent) },
	};
	size_t i;
	int dflt = 0;

	if (!strcmp(key, "name"))
		snprintf(d->name, sizeof(d->name), "%s", val);
	else if (!strcmp(key, "role"))
		snprintf(d->role, sizeof(d->role), "%s", val);
	else if (!strcmp(key, "cid"))
		vc_dev_u32(val, &d->cid);
	else if (!strcmp(key, "default")) {
		vc_dev_int(val, &dflt);
		d->is_default = dflt != 0;
	} else if (!strcmp(key, "priority"))
		vc_dev_int(val, &d->priority);
	else if (!strcmp(key, "state"))
		snprintf(d->state, sizeof(d->state), "%s", val);
	for (i = 0; i < sizeof(u64s) / sizeof(u64s[0]); i++)
		if (!strcmp(key, u64s[i].key))
			num_u64(val, 10, 0, UINT64_MAX,
				(uint64_t *)((char *)d + u64s[i].off));
}

/* "id=1 name=virtio1 role=guest cid=3 ..." -> @d; false: not a device */
static bool vc_dev_parse(char *line, struct vc_dev *d)
{
	char *save = NULL, *tok, *eq;
	bool have_id = false;

	memset(d, 0, sizeof(*d));
	d->priority = -1;
	strcpy(d->state, "up");
	for (tok = strtok_r(line, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
		eq = strchr(tok, '=');
		if (!eq)
			continue;
		*eq++ = '\0';
		if (!strcmp(tok, "id")) {
			vc_dev_u32(eq, &d->id);
			have_id = true;
		} else {
			vc_dev_field(d, tok, eq);
		}
	}
	return have_id;
}

struct vc_dev *vc_read_devices(unsigned int *n)
{
	struct vc_dev *devs = NULL, *tmp;
	unsigned int cap = 0;
	char line[1024];
	FILE *f;

	*n = 0;
	f = fopen(VC_DEVICES_FILE, "re");
	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 8;
			tmp = realloc(devs, cap * sizeof(*devs));
			if (!tmp) {
				free(devs);
				fclose(f);
				errno = ENOMEM;
				return NULL;
			}
			devs = tmp;
		}
		if (vc_dev_parse(line, &devs[*n]))
			(*n)++;
	}
	fclose(f);
	if (!devs)
		devs = calloc(1, sizeof(*devs));	/* an empty registry */
	return devs;
}

static void vc_dev_json(const struct vc_dev *d)
{
	printf("{\"id\": %u, \"name\": ", d->id);
	vc_json_str(d->name);
	printf(", \"role\": ");
	vc_json_str(d->role);
	printf(", \"cid\": %u, \"default\": %s, \"priority\": ", d->cid,
	       d->is_default ? "true" : "false");
	if (d->priority < 0)
		printf("null");
	else
		printf("%d", d->priority);
	printf(", \"state\": ");
	vc_json_str(d->state);
	printf(", \"tx_packets\": %llu, \"tx_bytes\": %llu, \"rx_packets\": %llu, \"rx_bytes\": %llu, \"rx_dropped\": %llu, \"tx_dropped\": %llu, \"rx_bad\": %llu, \"rst_sent\": %llu}",
	       (unsigned long long)d->tx_pkts, (unsigned long long)d->tx_bytes,
	       (unsigned long long)d->rx_pkts, (unsigned long long)d->rx_bytes,
	       (unsigned long long)d->rx_dropped, (unsigned long long)d->tx_dropped,
	       (unsigned long long)d->rx_bad, (unsigned long long)d->rst_sent);
}

static void vc_dev_text(const struct vc_dev *d)
{
	char prio[16];

	if (d->priority < 0)
		strcpy(prio, "-");
	else
		snprintf(prio, sizeof(prio), "%d", d->priority);
	printf("%3u %-10s %-5s %10u %-7s %4s %-8s %10llu %12llu %10llu %12llu %7llu %7llu %5llu %6llu\n",
	       d->id, d->name, d->role, d->cid, d->is_default ? "yes" : "-", prio,
	       d->state, (unsigned long long)d->tx_pkts, (unsigned long long)d->tx_bytes,
	       (unsigned long long)d->rx_pkts, (unsigned long long)d->rx_bytes,
	       (unsigned long long)d->rx_dropped, (unsigned long long)d->tx_dropped,
	       (unsigned long long)d->rx_bad, (unsigned long long)d->rst_sent);
}

static int vc_cmd_devices(int argc, char **argv)
{
	struct vc_dev *devs;
	unsigned int i, n;

	(void)argv;
	if (argc != 1)
		return cli_usage("devices takes no argument");
	if (vc_need_module())
		return 1;
	devs = vc_read_devices(&n);
	if (!devs)
		return cli_fail("%s: %s", VC_DEVICES_FILE, strerror(errno));
	if (vc_opt.json) {
		printf("{\"devices\": [");
		for (i = 0; i < n; i++) {
			printf(i ? ", " : "");
			vc_dev_json(&devs[i]);
		}
		printf("]}\n");
	} else {
		printf(" ID NAME       ROLE         CID DEFAULT PRIO STATE       TX_PKTS     TX_BYTES    RX_PKTS     RX_BYTES RX_DROP TX_DROP RX_BAD RST_TX\n");
		for (i = 0; i < n; i++)
			vc_dev_text(&devs[i]);
	}
	free(devs);
	return 0;
}

/* ---- the default device ------------------------------------------------- */

/*
 * DEV (id, cid:N or name) -> index in @devs; -1: no such device, -2: a
 * malformed DEV (the message is printed)
 */
static int vc_find_dev(const char *arg, const struct vc_dev *devs, unsigned int n)
{
	uint32_t v = 0;
	bool by_cid = !strncmp(arg, "cid:", 4);
	bool by_id = !by_cid && !num_u32(arg, 10, 0, UINT32_MAX, &v);
	unsigned int i;

	if (by_cid && num_u32(arg + 4, 10, 0, UINT32_MAX, &v)) {
		cli_usage("bad device '%s': want an id, cid:N or a name", arg);
		return -2;
	}
	for (i = 0; i < n; i++) {
		if (by_cid ? devs[i].cid == v && !strcmp(devs[i].role, "guest") :
		    by_id ? devs[i].id == v : !strcmp(devs[i].name, arg))
			return i;
	}
	cli_fail("no device %s in the registry (vsockctl devices lists them)", arg);
	return -1;
}

static int vc_default_print(bool pinned_note)
{
	struct vc_dev *devs;
	unsigned int i, n;
	int found = -1;

	devs = vc_read_devices(&n);
	if (!devs)
		return cli_fail("%s: %s", VC_DEVICES_FILE, strerror(errno));
	for (i = 0; i < n; i++)
		if (devs[i].is_default)
			found = i;
	if (vc_opt.json) {
		printf("{\"default\": ");
		if (found < 0)
			printf("null");
		else
			vc_dev_json(&devs[found]);
		printf("}\n");
	} else if (found < 0) {
		printf("default: none (no guest device)\n");
	} else {
		printf("default: id %u %s cid %u%s\n", devs[found].id, devs[found].name,
		       devs[found].cid, pinned_note ? " (automatic choice)" : "");
	}
	free(devs);
	return 0;
}

static int vc_default_write(const char *val)
{
	FILE *f = fopen(VC_DEFAULT_FILE, "we");
	int err = 0;

	if (!f)
		return -errno;
	if (fputs(val, f) < 0 || fflush(f))
		err = -errno;
	if (fclose(f) && !err)
		err = -errno;
	return err;
}

static int vc_cmd_default(int argc, char **argv)
{
	struct vc_dev *devs;
	unsigned int n;
	char val[16];
	int i, err;

	if (argc > 2)
		return cli_usage("default takes one argument: DEV or auto");
	if (vc_need_module())
		return 1;
	if (argc == 1)
		return vc_default_print(false);
	if (!strcmp(argv[1], "auto")) {
		err = vc_default_write("auto");
		if (err)
			return cli_fail("cannot set the default: %s", strerror(-err));
		return vc_default_print(true);
	}
	devs = vc_read_devices(&n);
	if (!devs)
		return cli_fail("%s: %s", VC_DEVICES_FILE, strerror(errno));
	i = vc_find_dev(argv[1], devs, n);
	if (i < 0) {
		free(devs);
		return i == -2 ? 2 : 1;
	}
	if (strcmp(devs[i].role, "guest")) {
		err = cli_fail("device %u (%s) is a %s device: only guest devices can be the default",
			      devs[i].id, devs[i].name, devs[i].role);
		free(devs);
		return err;
	}
	snprintf(val, sizeof(val), "%u", devs[i].id);
	free(devs);
	err = vc_default_write(val);
	if (err)
		return cli_fail("cannot make device %s the default: %s", val, strerror(-err));
	return vc_default_print(false);
}

/* ---- main ---------------------------------------------------------------- */

/* options that only some commands take */
static int vc_check_opts(const char *cmd, const char *sub)
{
	bool log = sub && !strcmp(sub, "log"), check = sub && !strcmp(sub, "check");

	if (vc_opt.follow && !log)
		return cli_usage("--follow is for 'policy log' only");
	if (vc_opt.print && !check)
		return cli_usage("--print is for 'policy check' only");
	(void)cmd;
	return 0;
}

int main(int argc, char **argv)
{
	struct vc_args a = { .words = calloc(argc + 1, sizeof(char *)) };
	const char *cmd;
	int err;

	if (!a.words)
		return cli_fail("out of memory");
	cli_parse(&vc_argp, argc, argv, &a, "vsockctl");
	setvbuf(stdout, NULL, _IOLBF, 0);
	cmd = a.words[0];
	err = vc_check_opts(cmd, !strcmp(cmd, "policy") ? a.words[1] : NULL);
	if (err)
		return err;
	if (!strcmp(cmd, "devices"))
		return vc_cmd_devices(a.nwords, a.words);
	if (!strcmp(cmd, "default"))
		return vc_cmd_default(a.nwords, a.words);
	if (!strcmp(cmd, "policy"))
		return vc_cmd_policy(a.nwords, a.words);
	return cli_usage("unknown command '%s': want devices, default or policy", cmd);
}
