/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tiny KTAP test runner for mvsock selftests.
 *
 * Every case runs in its own forked child (own process group) with a
 * deadline: a case that hangs, crashes or leaks file descriptors cannot
 * hang or poison the program or the cases after it.  The child reports
 * through its exit status: KT_PASS, KT_FAIL or KT_SKIP.  Diagnostics are
 * "# " lines on stdout, printed before the result line of their case.
 *
 * (kt_run_inline() runs cases that build on each other in order in one
 * process instead.)
 *
 * Usage of a test program built on this header:
 *   prog [-l] [-v] [PATTERN...]
 *     -l        list the case names and exit
 *     -v        print each case's run time as a diagnostic
 *     PATTERN   run only cases whose name contains one of the patterns
 * Environment:
 *   KTAP_TIMEOUT_SCALE  multiply every case timeout by this (default 1)
 */
#ifndef MVSOCK_KTAP_H
#define MVSOCK_KTAP_H

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KT_PASS 0
#define KT_FAIL 1
#define KT_SKIP 4

struct kt_case;
typedef int (*kt_fn)(const struct kt_case *tc);

struct kt_case {
	const char *name;
	kt_fn fn;
	long arg;		/* free for the case: socket type, size... */
	int timeout;		/* seconds; 0 means KT_DEFAULT_TIMEOUT */
};

#define KT_DEFAULT_TIMEOUT 15

/* index of the running case (0-based), valid inside a case; one variable
 * for all the files of a program (weak: each file that includes this
 * header defines it, the linker keeps one)
 */
__attribute__((weak)) int kt_cur_index;

static inline const char *kt_errname(int e)
{
	static __thread char buf[32];
	const char *n = e ? strerrorname_np(e) : "0";

	if (n)
		return n;
	snprintf(buf, sizeof(buf), "errno %d", e);
	return buf;
}

__attribute__((format(printf, 1, 2)))
static inline void kt_diag(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	printf("# %s\n", line);
	fflush(stdout);
}

/* Fail the current case unless COND holds. */
#define KT_ASSERT(cond, fmt, ...)						\
	do {									\
		if (!(cond)) {							\
			kt_diag("%s:%d: %s: " fmt, __FILE__, __LINE__,		\
				#cond, ##__VA_ARGS__);				\
			return KT_FAIL;						\
		}								\
	} while (0)

/* EXPR must succeed (>= 0); fail with errno name otherwise. */
#define KT_OK(expr)								\
	({									\
		long __r = (long)(expr);					\
		if (__r < 0) {							\
			kt_diag("%s:%d: %s: expected success, got -1/%s",	\
				__FILE__, __LINE__, #expr, kt_errname(errno));	\
			return KT_FAIL;						\
		}								\
		__r;								\
	})

/* EXPR must fail with -1 and errno ERR. */
#define KT_ERRNO(expr, err)							\
	do {									\
		long __r;							\
		errno = 0;							\
		__r = (long)(expr);						\
		if (__r != -1 || errno != (err)) {				\
			kt_diag("%s:%d: %s: expected -1/%s, got %ld/%s",	\
				__FILE__, __LINE__, #expr, kt_errname(err),	\
				__r, __r == -1 ? kt_errname(errno) : "-");	\
			return KT_FAIL;						\
		}								\
	} while (0)

/* EXPR must return exactly VAL. */
#define KT_EQ(expr, val)							\
	do {									\
		long __r;							\
		long __v = (long)(val);						\
		errno = 0;							\
		__r = (long)(expr);						\
		if (__r != __v) {						\
			kt_diag("%s:%d: %s: expected %ld, got %ld%s%s",		\
				__FILE__, __LINE__, #expr, __v, __r,		\
				__r == -1 ? "/" : "",				\
				__r == -1 ? kt_errname(errno) : "");		\
			return KT_FAIL;						\
		}								\
	} while (0)

static inline long kt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static inline bool kt_match(const char *name, int npat, char **pat)
{
	if (!npat)
		return true;
	for (int i = 0; i < npat; i++)
		if (strstr(name, pat[i]))
			return true;
	return false;
}

/* Wait for PID at most MS milliseconds; returns 1 and fills *status when
 * it exited, 0 on timeout.
 */
static inline int kt_wait_ms(pid_t pid, int *status, long ms)
{
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	long deadline = kt_now_ms() + ms;

	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid) {
			if (pfd >= 0)
				close(pfd);
			return 1;
		}
		long left = deadline - kt_now_ms();

		if (left <= 0)
			break;
		if (pfd >= 0) {
			struct pollfd p = { .fd = pfd, .events = POLLIN };

			poll(&p, 1, left > 1000 ? 1000 : (int)left);
		} else {
			usleep(10000);
		}
	}
	if (pfd >= 0)
		close(pfd);
	return 0;
}

struct kt_state {
	bool verbose;
	int npat;		/* PATTERN arguments */
	char **pat;
	int num;		/* cases reported so far */
	int npass, nfail, nskip;
};

/* Parse the options; list the cases (-l) or print the KTAP header.
 * Returns -1 to go on running the cases, else the exit status.
 */
static inline int kt_begin(struct kt_state *st, int argc, char **argv,
			   const struct kt_case *cases, int ncases)
{
	bool list = false;
	int planned = 0;
	int opt;

	memset(st, 0, sizeof(*st));
	while ((opt = getopt(argc, argv, "lv")) != -1) {
		switch (opt) {
		case 'l':
			list = true;
			break;
		case 'v':
			st->verbose = true;
			break;
		default:
			fprintf(stderr, "usage: %s [-l] [-v] [PATTERN...]\n",
				argv[0]);
			return 2;
		}
	}
	st->npat = argc - optind;
	st->pat = argv + optind;

	if (list) {
		for (int i = 0; i < ncases; i++)
			if (kt_match(cases[i].name, st->npat, st->pat))
				printf("%s\n", cases[i].name);
		return 0;
	}

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0; i < ncases; i++)
		planned += kt_match(cases[i].name, st->npat, st->pat);
	printf("KTAP version 1\n1..%d\n", planned);
	return -1;
}

/* the result line of a case that returned RC after T0 (kt_now_ms) */
static inline void kt_result(struct kt_state *st, const struct kt_case *tc,
			     int rc, long t0)
{
	if (st->verbose)
		kt_diag("%s took %ld ms", tc->name, kt_now_ms() - t0);
	if (rc == KT_PASS) {
		printf("ok %d %s\n", st->num, tc->name);
		st->npass++;
	} else if (rc == KT_SKIP) {
		printf("ok %d %s # SKIP\n", st->num, tc->name);
		st->nskip++;
	} else {
		printf("not ok %d %s\n", st->num, tc->name);
		st->nfail++;
	}
}

/* the totals line; the program's exit status */
static inline int kt_end(struct kt_state *st)
{
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:0\n",
	       st->npass, st->nfail, st->nskip);
	fflush(stdout);
	return st->nfail ? 1 : 0;
}

static inline int kt_run(int argc, char **argv, const struct kt_case *cases,
			 int ncases)
{
	struct kt_state st;
	double scale = 1.0;
	const char *s;
	int rc;

	rc = kt_begin(&st, argc, argv, cases, ncases);
	if (rc >= 0)
		return rc;

	s = getenv("KTAP_TIMEOUT_SCALE");
	if (s && atof(s) > 0)
		scale = atof(s);

	for (int i = 0; i < ncases; i++) {
		const struct kt_case *tc = &cases[i];
		long tmo = (long)((tc->timeout ? tc->timeout :
				   KT_DEFAULT_TIMEOUT) * 1000 * scale);
		long t0;
		int status = 0;
		pid_t pid;

		if (!kt_match(tc->name, st.npat, st.pat))
			continue;
		st.num++;
		fflush(stdout);
		t0 = kt_now_ms();
		pid = fork();
		if (pid < 0) {
			printf("not ok %d %s # fork: %s\n", st.num, tc->name,
			       kt_errname(errno));
			st.nfail++;
			continue;
		}
		if (pid == 0) {
			setpgid(0, 0);
			signal(SIGPIPE, SIG_IGN);
			kt_cur_index = i;
			rc = tc->fn(tc);
			fflush(stdout);
			fflush(stderr);
			_exit(rc);
		}
		setpgid(pid, pid);
		if (!kt_wait_ms(pid, &status, tmo)) {
			kt_diag("case %s timed out after %ld ms", tc->name, tmo);
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			if (!kt_wait_ms(pid, &status, 5000))
				kt_diag("case %s unkillable (stuck in kernel?)",
					tc->name);
			rc = KT_FAIL;
		} else if (WIFEXITED(status)) {
			rc = WEXITSTATUS(status);
		} else {
			kt_diag("case %s killed by signal %d (%s)", tc->name,
				WTERMSIG(status), strsignal(WTERMSIG(status)));
			rc = KT_FAIL;
		}
		/* reap anything the case left behind */
		kill(-pid, SIGKILL);
		kt_result(&st, tc, rc, t0);
	}
	return kt_end(&st);
}

/*
 * Like kt_run(), for cases that build on each other (a device an earlier
 * case set up...): they run in order in this process, without a fork or
 * a timeout, so a crash or a hang ends the program (the suite then
 * reports the cases left as not run).  Same options and output.
 */
static inline int kt_run_inline(int argc, char **argv,
				const struct kt_case *cases, int ncases)
{
	struct kt_state st;
	int rc;

	rc = kt_begin(&st, argc, argv, cases, ncases);
	if (rc >= 0)
		return rc;
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < ncases; i++) {
		const struct kt_case *tc = &cases[i];
		long t0;

		if (!kt_match(tc->name, st.npat, st.pat))
			continue;
		st.num++;
		t0 = kt_now_ms();
		kt_cur_index = i;
		rc = tc->fn(tc);
		fflush(stdout);
		kt_result(&st, tc, rc, t0);
	}
	return kt_end(&st);
}

#endif /* MVSOCK_KTAP_H */
