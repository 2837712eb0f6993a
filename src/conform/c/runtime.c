/*
 * mmcheck conform runtime: runs a model op sequence on the real kernel and prints the
 * observables the model prints, so the two can be compared (issue 10).
 *
 * Shape. The main process is the coordinator: it is never an mm. Every model mm is a process
 * of its own (mm 0 is forked by the coordinator, the others by fork() in the mm they are forked
 * from, so their address spaces really are forks). The coordinator sends each mm process one
 * command at a time over a SOCK_SEQPACKET socketpair and waits for its reply, so steps are
 * strictly ordered and only the coordinator prints. It also does all observation, and owns
 * every GUP handle (io_uring rings, pipes): an mm process creates them, the coordinator takes
 * a copy of the fd with pidfd_getfd() and the mm closes its own, so a pin outlives the mm that
 * took it, as in the model. (Not SCM_RIGHTS: the kernel refuses to send an io_uring fd over a
 * unix socket, EINVAL since "io_uring/af_unix: disable sending io_uring over sockets".)
 *
 * All 16 channels are created before mm 0 is forked, so every mm process inherits the end of
 * the channel a future child will use. Only the coordinator keeps the other ends: when it dies,
 * every mm process reads EOF and exits (PR_SET_PDEATHSIG alone cannot do this: the parent of a
 * forked mm is another mm, whose exit must not kill it).
 *
 * The file has no main(): interpreter.c, or an exported program, appends one. It compiles
 * standalone with `gcc -O1 -Wall -Wextra -Werror -pthread`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define RT_REGION 0x7e0000000000UL /* 1 GiB aligned, the same in every mm */
#define RT_NR_PAGES 2048L          /* 4 PMDs of 512 PTEs */
#define RT_PAGE 4096L
#define RT_MAX_MMS 16
#define RT_CPUS 4
#define RT_MAX_HANDLES (1 << 20)
#define RT_MAX_FDS 64 /* pipes of one get handle */
#define RT_NR_FILES 2
#define RT_FILE_PAGES 1024L /* two PMDs' worth, as the model's files (fileNrPages()) */
#define RT_LOCK_PATH "/run/lock/mmcheck-conform.lock"
#define RT_THP_DIR "/sys/kernel/mm/transparent_hugepage"

/* include/uapi/linux/kernel-page-flags.h (checked against the installed header). */
#define RT_KPF_COMPOUND_HEAD 15
#define RT_KPF_COMPOUND_TAIL 16
#define RT_KPF_THP 22
#define RT_KPF_ZERO_PAGE 24

/* Documentation/admin-guide/mm/pagemap.rst */
#define RT_PM_PRESENT (1ULL << 63)
#define RT_PM_SWAP (1ULL << 62)
#define RT_PM_EXCLUSIVE 56
#define RT_PM_PFN_MASK ((1ULL << 55) - 1)

/* ---------------------------------------------------------------- coordinator state */

enum rt_mm_state { RT_MM_UNUSED = 0, RT_MM_LIVE, RT_MM_EXITED };

static int rt_chan[RT_MAX_MMS][2]; /* [0]: the coordinator's end, [1]: the mm's end */
static volatile pid_t rt_pid[RT_MAX_MMS];
static volatile sig_atomic_t rt_state[RT_MAX_MMS];
static int rt_pidfd[RT_MAX_MMS];
static int rt_lock_fd = -1;
static int rt_host_cpu[CPU_SETSIZE];
static int rt_nr_host_cpus;
static int rt_scratch_fd = -1; /* memfd the io_uring device reads from and writes to */
/* The model's files, as memfds (tmpfs: order-0 folios while shmem THP is off). Made before mm 0
 * is forked, so every mm process has them; pread, pwrite, fsync and ftruncate are the
 * coordinator's, as the model's file ops belong to no mm. */
static int rt_file_fd[RT_NR_FILES] = { -1, -1 };
/*
 * Pages per pipe of a get handle: the largest power of two within fs.pipe-max-size. Going past
 * it needs CAP_SYS_RESOURCE, which root lacks in some containers, so a handle of more pages is
 * several pipes rather than a global sysctl changed behind the user's back.
 */
static long rt_pipe_pages;

/* THP sizes with an anonymous `enabled` file: orders 2..9 (order 1 has none). */
#define RT_THP_SIZES 8
static const char *const rt_thp_word[] = { "always", "inherit", "madvise", "never" };
enum { RT_THP_ALWAYS, RT_THP_INHERIT, RT_THP_MADVISE, RT_THP_NEVER, RT_THP_UNKNOWN = -1 };
static char rt_thp_path[RT_THP_SIZES][96];
static int rt_thp_present[RT_THP_SIZES];
static int rt_thp_saved[RT_THP_SIZES];
/* Set to UNKNOWN before a write and to the new word after it, so a signal handler that
 * interrupts a write still sees the size as changed and puts it back. */
static volatile sig_atomic_t rt_thp_now[RT_THP_SIZES];

enum rt_handle_kind { RT_H_NONE = 0, RT_H_RING, RT_H_PIPE, RT_H_FAILED, RT_H_CLOSED };

struct rt_handle {
	enum rt_handle_kind kind;
	int fd;       /* a ring */
	int *pipes;   /* a get handle: page i is in pipes[i / rt_pipe_pages] */
	int nr_pipes;
	long vpn;     /* first page of a ring's buffer */
	long pages;   /* pages the handle references */
	struct io_uring_params params;
	void *sq, *cq;
	size_t sq_size, cq_size;
	struct io_uring_sqe *sqes;
};

static struct rt_handle *rt_handles;
static long rt_nr_handles;

/* ---------------------------------------------------------------- channel protocol */

enum rt_op {
	RT_OP_READY = 1, /* mm 0's region is set up */
	RT_OP_MAP,
	RT_OP_STORE,
	RT_OP_LOAD,
	RT_OP_FORK,
	RT_OP_EXIT,
	RT_OP_DONTNEED,
	RT_OP_MPROTECT,
	RT_OP_MREMAP,
	RT_OP_REFILL,
	RT_OP_PIN,
	RT_OP_GET,
	RT_OP_CLOSE, /* the coordinator has its copies of the fds of the last reply */
	RT_OP_MMAPFILE,
};

struct rt_cmd {
	int op;
	int step;
	long arg[6];
};

enum rt_result { RT_DONE = 1, RT_SEGV, RT_VALUE, RT_GUPFAILED, RT_HANDLE, RT_FAILED };

struct rt_reply {
	int result;
	int err;      /* errno of a failure */
	long value;   /* a loaded value, a child's pid, a handle's page count */
	int nr_fds;   /* a new handle's fds, in the mm process */
	int fds[RT_MAX_FDS];
	struct io_uring_params params;
	char what[160];
};

/* ---------------------------------------------------------------- small helpers */

static unsigned long rt_addr(long vpn)
{
	return RT_REGION + (unsigned long)vpn * RT_PAGE;
}

/* ---------------------------------------------------------------- THP sysfs */

static int rt_thp_parse(const char *text)
{
	const char *open = strchr(text, '[');
	if (open == NULL)
		return RT_THP_UNKNOWN;
	for (int w = 0; w < 4; w++) {
		size_t n = strlen(rt_thp_word[w]);
		if (strncmp(open + 1, rt_thp_word[w], n) == 0 && open[1 + n] == ']')
			return w;
	}
	return RT_THP_UNKNOWN;
}

/* Async-signal-safe: open, write, close only. */
static int rt_thp_write_raw(int i, int word)
{
	int fd = open(rt_thp_path[i], O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	const char *s = rt_thp_word[word];
	ssize_t w = write(fd, s, strlen(s));
	int saved = errno;
	close(fd);
	errno = saved;
	return w == (ssize_t)strlen(s) ? 0 : -1;
}

/* Put back every size this run changed (or may have been changing). Async-signal-safe. */
static void rt_thp_restore(void)
{
	for (int i = 0; i < RT_THP_SIZES; i++) {
		if (!rt_thp_present[i] || rt_thp_now[i] == rt_thp_saved[i])
			continue;
		rt_thp_now[i] = RT_THP_UNKNOWN;
		if (rt_thp_write_raw(i, rt_thp_saved[i]) == 0)
			rt_thp_now[i] = rt_thp_saved[i];
	}
}

/* ---------------------------------------------------------------- teardown and failure */

/* Kill every live mm process. Async-signal-safe. */
static void rt_kill_mms(void)
{
	for (int m = 0; m < RT_MAX_MMS; m++)
		if (rt_state[m] == RT_MM_LIVE && rt_pid[m] > 0)
			kill(rt_pid[m], SIGKILL);
}

static void rt_on_fatal_signal(int sig)
{
	rt_kill_mms();
	rt_thp_restore();
	signal(sig, SIG_DFL);
	raise(sig); /* delivered (default action) when the handler returns */
}

/* Kill the mms, wait until they are gone, drop the handles, restore sysfs, unlock. */
static void rt_teardown(void)
{
	rt_kill_mms();
	for (int m = 0; m < RT_MAX_MMS; m++) {
		if (rt_state[m] != RT_MM_LIVE)
			continue;
		struct pollfd p = { .fd = rt_pidfd[m], .events = POLLIN };
		while (poll(&p, 1, 5000) < 0 && errno == EINTR)
			;
		close(rt_pidfd[m]);
		rt_state[m] = RT_MM_EXITED;
	}
	for (long h = 0; h < rt_nr_handles; h++) {
		struct rt_handle *hd = &rt_handles[h];
		if (hd->kind == RT_H_RING)
			close(hd->fd);
		for (int i = 0; hd->kind == RT_H_PIPE && i < hd->nr_pipes; i++)
			close(hd->pipes[i]);
		hd->kind = RT_H_CLOSED;
	}
	rt_thp_restore();
	if (rt_lock_fd >= 0) {
		close(rt_lock_fd);
		rt_lock_fd = -1;
	}
}

/*
 * A failure that is not an expected outcome: one `error step S <what>: <strerror>` line on
 * stdout (where the TS side reads results) and on stderr, then teardown and exit status 3.
 */
__attribute__((noreturn, format(printf, 3, 4))) static void rt_fail(int step, int err, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	printf("error step %d %s: %s\n", step, what, strerror(err));
	fflush(stdout);
	fprintf(stderr, "error step %d %s: %s\n", step, what, strerror(err));
	rt_teardown();
	exit(3);
}

static void rt_thp_set(int step, int i, int word)
{
	if (rt_thp_now[i] == word)
		return;
	rt_thp_now[i] = RT_THP_UNKNOWN;
	if (rt_thp_write_raw(i, word) != 0)
		rt_fail(step, errno, "write %s to %s", rt_thp_word[word], rt_thp_path[i]);
	rt_thp_now[i] = word;
}

/* Only `order` may be allocated, and only where MADV_HUGEPAGE asks for it. */
static void rt_thp_allow_only(int step, int order)
{
	for (int i = 0; i < RT_THP_SIZES; i++)
		if (rt_thp_present[i])
			rt_thp_set(step, i, i + 2 == order ? RT_THP_MADVISE : RT_THP_NEVER);
}

static void rt_thp_save(void)
{
	for (int i = 0; i < RT_THP_SIZES; i++) {
		snprintf(rt_thp_path[i], sizeof rt_thp_path[i], RT_THP_DIR "/hugepages-%dkB/enabled", 16 << i);
		rt_thp_now[i] = RT_THP_UNKNOWN;
		int fd = open(rt_thp_path[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT)
				continue; /* the kernel has no such size */
			rt_fail(-1, errno, "open %s", rt_thp_path[i]);
		}
		char buf[128];
		ssize_t n = read(fd, buf, sizeof buf - 1);
		int err = errno;
		close(fd);
		if (n < 0)
			rt_fail(-1, err, "read %s", rt_thp_path[i]);
		buf[n] = '\0';
		int word = rt_thp_parse(buf);
		if (word == RT_THP_UNKNOWN)
			rt_fail(-1, EINVAL, "parse %s (%s)", rt_thp_path[i], buf);
		rt_thp_saved[i] = word;
		rt_thp_now[i] = word;
		rt_thp_present[i] = 1;
	}
}

/* ================================================================ the mm process side */

static int rt_self = -1; /* the model mm id of this mm process */

static __thread sigjmp_buf rt_jmp;
static __thread volatile sig_atomic_t rt_armed;

/* SIGSEGV during an armed access returns to rt_access(); any other is fatal as usual. */
static void rt_on_segv(int sig)
{
	if (rt_armed) {
		rt_armed = 0;
		siglongjmp(rt_jmp, 1);
	}
	signal(sig, SIG_DFL); /* the faulting instruction runs again and kills the process */
}

/* One user access to word 0 of a page; -1 when it raised SIGSEGV (read-only or unmapped). */
__attribute__((noinline)) static int rt_access(volatile long *p, int store, long *value)
{
	if (sigsetjmp(rt_jmp, 1) != 0)
		return -1;
	rt_armed = 1;
	if (store)
		*p = *value;
	else
		*value = *p;
	rt_armed = 0;
	return 0;
}

/* One persistent thread per model CPU, pinned to a host CPU, created on first use. */
struct rt_worker {
	int live;
	pthread_t thread;
	sem_t go, done;
	int store;
	volatile long *addr;
	long value;
	int segv;
};

static struct rt_worker rt_workers[RT_CPUS];

static void *rt_worker_main(void *arg)
{
	struct rt_worker *w = arg;
	for (;;) {
		while (sem_wait(&w->go) != 0)
			;
		w->segv = rt_access(w->addr, w->store, &w->value) != 0;
		sem_post(&w->done);
	}
	return NULL;
}

static void rt_reply_failed(struct rt_reply *r, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void rt_reply_failed(struct rt_reply *r, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->what, sizeof r->what, fmt, ap);
	va_end(ap);
	r->result = RT_FAILED;
	r->err = err;
}

static int rt_worker_get(int cpu, struct rt_reply *r, struct rt_worker **out)
{
	struct rt_worker *w = &rt_workers[cpu];
	if (!w->live) {
		if (sem_init(&w->go, 0, 0) != 0 || sem_init(&w->done, 0, 0) != 0) {
			rt_reply_failed(r, errno, "sem_init in mm %d", rt_self);
			return -1;
		}
		int e = pthread_create(&w->thread, NULL, rt_worker_main, w);
		if (e != 0) {
			rt_reply_failed(r, e, "pthread_create for cpu %d in mm %d", cpu, rt_self);
			return -1;
		}
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(rt_host_cpu[cpu % rt_nr_host_cpus], &set);
		e = pthread_setaffinity_np(w->thread, sizeof set, &set);
		if (e != 0) {
			rt_reply_failed(r, e, "pthread_setaffinity_np cpu %d -> host cpu %d in mm %d", cpu,
					rt_host_cpu[cpu % rt_nr_host_cpus], rt_self);
			return -1;
		}
		w->live = 1;
	}
	*out = w;
	return 0;
}

static void rt_mm_access(int cpu, long vpn, int store, long value, struct rt_reply *r)
{
	struct rt_worker *w;
	if (rt_worker_get(cpu, r, &w) != 0)
		return;
	w->store = store;
	w->addr = (volatile long *)rt_addr(vpn);
	w->value = value;
	sem_post(&w->go);
	while (sem_wait(&w->done) != 0)
		;
	if (w->segv)
		r->result = RT_SEGV;
	else if (store)
		r->result = RT_DONE;
	else {
		r->result = RT_VALUE;
		r->value = w->value;
	}
}

/* madvise() or report which one failed. */
static int rt_madvise(long vpn, long nr, int advice, const char *name, struct rt_reply *r)
{
	if (nr <= 0)
		return 0;
	if (madvise((void *)rt_addr(vpn), (size_t)(nr * RT_PAGE), advice) != 0) {
		rt_reply_failed(r, errno, "madvise(%s) mm %d vpn %ld+%ld", name, rt_self, vpn, nr);
		return -1;
	}
	return 0;
}

static int rt_mprotect(long vpn, long nr, int writable, struct rt_reply *r)
{
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	if (mprotect((void *)rt_addr(vpn), (size_t)(nr * RT_PAGE), prot) != 0) {
		rt_reply_failed(r, errno, "mprotect mm %d vpn %ld+%ld writable=%d", rt_self, vpn, nr, writable);
		return -1;
	}
	return 0;
}

static void rt_mm_map(long base, int order, int pmd, long first, long count, struct rt_reply *r)
{
	long size = 1L << order;
	long vpn = base + first;
	long zero = 0;
	/* The coordinator has set the sysfs size of `order` (only) to madvise. */
	if (order > 0 && rt_madvise(base, size, MADV_HUGEPAGE, "MADV_HUGEPAGE", r) != 0)
		return;
	/* A write fault: do_huge_pmd_anonymous_page() for 2 MiB, alloc_anon_folio() for mTHP. */
	if (rt_access((volatile long *)rt_addr(vpn), 1, &zero) != 0) {
		rt_reply_failed(r, EFAULT, "map: write fault at mm %d vpn %ld raised SIGSEGV", rt_self, vpn);
		return;
	}
	if (order > 0 && rt_madvise(base, size, MADV_NOHUGEPAGE, "MADV_NOHUGEPAGE", r) != 0)
		return;
	if (!pmd && order == 9) {
		/* mprotect() of part of a PMD mapping splits the PMD, leaving the folio whole. */
		if (rt_mprotect(vpn, 1, 0, r) != 0 || rt_mprotect(vpn, 1, 1, r) != 0)
			return;
	}
	if (rt_madvise(base, first, MADV_DONTNEED, "MADV_DONTNEED", r) != 0)
		return;
	if (rt_madvise(base + first + count, size - first - count, MADV_DONTNEED, "MADV_DONTNEED", r) != 0)
		return;
	r->result = RT_DONE;
}

static void rt_mm_mremap(long from, long to, long nr, struct rt_reply *r)
{
	size_t len = (size_t)(nr * RT_PAGE);
	void *got = mremap((void *)rt_addr(from), len, len, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)rt_addr(to));
	if (got == MAP_FAILED) {
		rt_reply_failed(r, errno, "mremap mm %d vpn %ld -> %ld +%ld", rt_self, from, to, nr);
		return;
	}
	r->result = RT_DONE;
}

static void rt_mm_refill(long vpn, long nr, int writable, struct rt_reply *r)
{
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	void *got = mmap((void *)rt_addr(vpn), (size_t)(nr * RT_PAGE), prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
			 -1, 0);
	if (got == MAP_FAILED) {
		rt_reply_failed(r, errno, "mmap (refill) mm %d vpn %ld+%ld", rt_self, vpn, nr);
		return;
	}
	if (rt_madvise(vpn, nr, MADV_NOHUGEPAGE, "MADV_NOHUGEPAGE", r) != 0)
		return;
	r->result = RT_DONE;
}

/* mmap(MAP_FIXED) of file pages [pgoff, pgoff+nr) over [vpn, vpn+nr), read-write, shared or private. */
static void rt_mm_mmapfile(long vpn, long nr, int file, long pgoff, int shared, struct rt_reply *r)
{
	void *got = mmap((void *)rt_addr(vpn), (size_t)(nr * RT_PAGE), PROT_READ | PROT_WRITE,
			 (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED, rt_file_fd[file], pgoff * RT_PAGE);
	if (got == MAP_FAILED) {
		rt_reply_failed(r, errno, "mmap of file %d pages %ld+%ld at mm %d vpn %ld", file, pgoff, nr, rt_self, vpn);
		return;
	}
	r->result = RT_DONE;
}

/*
 * Register [vpn, vpn+nr) as one io_uring fixed buffer: io_sqe_buffer_register() pins it with
 * FOLL_WRITE|FOLL_LONGTERM. Only the setup and the registration happen here; the rings are
 * mapped by the coordinator, which does all I/O. r->fds[0] is the ring to hand over.
 */
static void rt_mm_pin(long vpn, long nr, struct rt_reply *r)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof p);
	int ring = (int)syscall(__NR_io_uring_setup, 1, &p);
	if (ring < 0) {
		rt_reply_failed(r, errno, "io_uring_setup in mm %d", rt_self);
		return;
	}
	struct iovec iov = { .iov_base = (void *)rt_addr(vpn), .iov_len = (size_t)(nr * RT_PAGE) };
	if (syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS, &iov, 1) != 0) {
		int err = errno;
		close(ring);
		if (err == EFAULT) { /* GUP refused a page: read-only, or no VMA */
			r->result = RT_GUPFAILED;
			return;
		}
		rt_reply_failed(r, err, "io_uring_register(IORING_REGISTER_BUFFERS) mm %d vpn %ld+%ld", rt_self, vpn, nr);
		return;
	}
	r->result = RT_HANDLE;
	r->value = nr;
	r->params = p;
	r->nr_fds = 1;
	r->fds[0] = ring;
}

/* Close the fds of a reply: on failure, or once the coordinator has its copies. */
static void rt_close_fds(struct rt_reply *r)
{
	for (int i = 0; i < r->nr_fds; i++)
		close(r->fds[i]);
	r->nr_fds = 0;
}

/*
 * vmsplice up to `nr` pages at `vpn` into a new pipe: it then holds FOLL_GET references
 * (iov_iter_get_pages2()), one buffer per page. Returns the pages it holds (fewer when GUP
 * refused a page: the pipe keeps those before it), -1 on failure (reported in r).
 */
static long rt_splice_chunk(long vpn, long nr, struct rt_reply *r)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0) {
		rt_reply_failed(r, errno, "pipe2 in mm %d", rt_self);
		return -1;
	}
	if (fcntl(p[1], F_SETPIPE_SZ, (int)(nr * RT_PAGE)) < 0) {
		rt_reply_failed(r, errno, "F_SETPIPE_SZ %ld pages in mm %d", nr, rt_self);
		goto fail;
	}
	struct iovec iov = { .iov_base = (void *)rt_addr(vpn), .iov_len = (size_t)(nr * RT_PAGE) };
	while (iov.iov_len > 0) {
		ssize_t n = vmsplice(p[1], &iov, 1, SPLICE_F_NONBLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EFAULT && errno != EAGAIN) {
			rt_reply_failed(r, errno, "vmsplice mm %d vpn %ld+%ld", rt_self, vpn, nr);
			goto fail;
		}
		if (n <= 0)
			break; /* GUP refused a page */
		iov.iov_base = (char *)iov.iov_base + n;
		iov.iov_len -= (size_t)n;
	}
	int bytes = 0;
	if (ioctl(p[0], FIONREAD, &bytes) != 0) {
		rt_reply_failed(r, errno, "FIONREAD on the vmsplice pipe in mm %d", rt_self);
		goto fail;
	}
	close(p[1]);
	if (bytes < RT_PAGE)
		close(p[0]);
	else
		r->fds[r->nr_fds++] = p[0];
	return bytes / RT_PAGE;
fail:
	close(p[0]);
	close(p[1]);
	return -1;
}

/* A get handle: [vpn, vpn+nr) spliced into pipes of rt_pipe_pages pages, up to the first page
 * GUP refuses. r->fds are the pipes' read ends to hand over. */
static void rt_mm_get(long vpn, long nr, struct rt_reply *r)
{
	long got = 0;
	while (got < nr) {
		long want = nr - got < rt_pipe_pages ? nr - got : rt_pipe_pages;
		long n = rt_splice_chunk(vpn + got, want, r);
		if (n < 0) {
			rt_close_fds(r);
			return;
		}
		got += n;
		if (n < want)
			break;
	}
	if (got == 0) {
		r->result = RT_GUPFAILED;
		return;
	}
	r->result = RT_HANDLE;
	r->value = got;
}

static void rt_mm_send(const struct rt_reply *r)
{
	while (send(rt_chan[rt_self][1], r, sizeof *r, MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			_exit(1); /* the coordinator is gone */
}

static struct rt_reply rt_handed_over;

/* Runs one command; returns only for the next one (exit and a coordinator's death end it here). */
static void rt_mm_command(const struct rt_cmd *c)
{
	struct rt_reply r;
	const long *a = c->arg;
	memset(&r, 0, sizeof r);
	switch (c->op) {
	case RT_OP_MAP:
		rt_mm_map(a[0], (int)a[1], (int)a[2], a[3], a[4], &r);
		break;
	case RT_OP_STORE:
		rt_mm_access((int)a[0], a[1], 1, a[2], &r);
		break;
	case RT_OP_LOAD:
		rt_mm_access((int)a[0], a[1], 0, 0, &r);
		break;
	case RT_OP_FORK: {
		pid_t pid = fork();
		if (pid < 0) {
			rt_reply_failed(&r, errno, "fork of mm %d", rt_self);
			break;
		}
		if (pid == 0) {
			/* The child: only this thread survived; its CPU threads are made again on use. */
			rt_self = (int)a[0];
			memset(rt_workers, 0, sizeof rt_workers);
			return; /* its parent reports the fork */
		}
		r.result = RT_VALUE;
		r.value = pid;
		break;
	}
	case RT_OP_EXIT:
		_exit(0);
	case RT_OP_DONTNEED:
		if (rt_madvise(a[0], a[1], MADV_DONTNEED, "MADV_DONTNEED", &r) == 0)
			r.result = RT_DONE;
		break;
	case RT_OP_MPROTECT:
		if (rt_mprotect(a[0], a[1], (int)a[2], &r) == 0)
			r.result = RT_DONE;
		break;
	case RT_OP_MREMAP:
		rt_mm_mremap(a[0], a[1], a[2], &r);
		break;
	case RT_OP_REFILL:
		rt_mm_refill(a[0], a[1], (int)a[2], &r);
		break;
	case RT_OP_PIN:
		rt_mm_pin(a[0], a[1], &r);
		break;
	case RT_OP_GET:
		rt_mm_get(a[0], a[1], &r);
		break;
	case RT_OP_CLOSE:
		rt_close_fds(&rt_handed_over);
		r.result = RT_DONE;
		break;
	case RT_OP_MMAPFILE:
		rt_mm_mmapfile(a[0], a[1], (int)a[2], a[3], (int)a[4], &r);
		break;
	default:
		rt_reply_failed(&r, EINVAL, "mm %d got unknown command %d", rt_self, c->op);
		break;
	}
	if (r.result == RT_HANDLE)
		rt_handed_over = r; /* closed when the coordinator has taken them (RT_OP_CLOSE) */
	rt_mm_send(&r);
}

/* mm 0: set up the process and the region, then serve commands until exit. */
__attribute__((noreturn)) static void rt_mm0_main(pid_t coordinator)
{
	struct rt_reply r;
	memset(&r, 0, sizeof r);
	rt_self = 0;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != coordinator)
		_exit(1);
	/* The coordinator's handlers restore sysfs; an mm just dies. */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	/* Only the coordinator may hold these: its death is then EOF on every channel, and the lock
	 * is released when it exits. */
	for (int m = 0; m < RT_MAX_MMS; m++)
		close(rt_chan[m][0]);
	close(rt_lock_fd);
	int null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		close(null);
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = rt_on_segv;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, NULL) != 0)
		rt_reply_failed(&r, errno, "sigaction(SIGSEGV) in mm 0");
	else if (mmap((void *)RT_REGION, (size_t)(RT_NR_PAGES * RT_PAGE), PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != (void *)RT_REGION)
		rt_reply_failed(&r, errno, "mmap of the region at %#lx in mm 0", RT_REGION);
	else if (rt_madvise(0, RT_NR_PAGES, MADV_NOHUGEPAGE, "MADV_NOHUGEPAGE", &r) == 0)
		r.result = RT_DONE;
	rt_mm_send(&r);
	for (;;) {
		struct rt_cmd c;
		ssize_t n = recv(rt_chan[rt_self][1], &c, sizeof c, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof c)
			_exit(n == 0 ? 0 : 1); /* EOF: the coordinator died */
		rt_mm_command(&c);
	}
}

/* ================================================================ the coordinator side */

/* Wait for an mm's reply (a failure there is fatal here). */
static void rt_recv(int step, int mm, struct rt_reply *r)
{
	struct pollfd p[2] = { { .fd = rt_chan[mm][0], .events = POLLIN }, { .fd = rt_pidfd[mm], .events = POLLIN } };
	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			rt_fail(step, errno, "poll for mm %d", mm);
		}
		if (p[0].revents & POLLIN)
			break;
		if (p[1].revents)
			rt_fail(step, ESRCH, "mm %d died", mm);
	}
	ssize_t n;
	while ((n = recv(rt_chan[mm][0], r, sizeof *r, 0)) < 0 && errno == EINTR)
		;
	if (n == 0)
		rt_fail(step, ESRCH, "mm %d died", mm);
	if (n != (ssize_t)sizeof *r)
		rt_fail(step, n < 0 ? errno : EPROTO, "reply from mm %d", mm);
	if (r->result == RT_FAILED)
		rt_fail(step, r->err, "%s", r->what);
}

static void rt_send(int step, int mm, int op, long a0, long a1, long a2, long a3, long a4)
{
	struct rt_cmd c;
	memset(&c, 0, sizeof c);
	c.op = op;
	c.step = step;
	c.arg[0] = a0;
	c.arg[1] = a1;
	c.arg[2] = a2;
	c.arg[3] = a3;
	c.arg[4] = a4;
	while (send(rt_chan[mm][0], &c, sizeof c, MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			rt_fail(step, errno, "send to mm %d", mm);
}

/* Send one command to a live mm and wait for its reply. */
static void rt_call(int step, int mm, int op, long a0, long a1, long a2, long a3, long a4, struct rt_reply *r)
{
	rt_send(step, mm, op, a0, a1, a2, a3, a4);
	rt_recv(step, mm, r);
}

/* Take the coordinator's own copies of a new handle's fds, then have the mm close its own. */
static void rt_take_fds(int step, int mm, const struct rt_reply *r, int *out)
{
	struct rt_reply ack;
	for (int i = 0; i < r->nr_fds; i++) {
		out[i] = (int)syscall(SYS_pidfd_getfd, rt_pidfd[mm], r->fds[i], 0);
		if (out[i] < 0)
			rt_fail(step, errno, "pidfd_getfd of fd %d in mm %d", r->fds[i], mm);
	}
	rt_call(step, mm, RT_OP_CLOSE, 0, 0, 0, 0, 0, &ack);
}

static void rt_check(int step, int ok, const char *what)
{
	if (!ok)
		rt_fail(step, EINVAL, "bad argument: %s", what);
}

static void rt_check_mm(int step, int mm)
{
	rt_check(step, mm >= 0 && mm < RT_MAX_MMS, "mm id out of 0..15");
	if (rt_state[mm] != RT_MM_LIVE)
		rt_fail(step, ESRCH, "mm %d is not live", mm);
}

static void rt_check_range(int step, long vpn, long nr)
{
	rt_check(step, vpn >= 0 && nr >= 1 && vpn + nr <= RT_NR_PAGES, "page range outside the region");
}

static void rt_print_access(int step, const struct rt_reply *r)
{
	if (r->result == RT_SEGV)
		printf("step %d segv\n", step);
	else if (r->result == RT_VALUE)
		printf("step %d value %ld\n", step, r->value);
	fflush(stdout);
}

/* ---------------------------------------------------------------- the ops */

/** A new anonymous folio of `order` at `base`, mapped by PMD or by PTEs for [first, first+count). */
void op_map(int step, int mm, long base, int order, int pmd, int first, int count)
{
	struct rt_reply r;
	rt_check_mm(step, mm);
	rt_check(step, order == 0 || (order >= 2 && order <= 9), "map order must be 0 or 2..9");
	rt_check(step, !pmd || (order == 9 && first == 0 && count == 512), "a PMD map is a whole order-9 folio");
	rt_check(step, base % (1L << order) == 0, "map base not aligned to the folio");
	rt_check(step, first >= 0 && count >= 1 && first + count <= (1L << order), "mapped run outside the folio");
	rt_check_range(step, base, 1L << order);
	if (order > 0) {
		rt_check(step, rt_thp_present[order - 2], "no THP sysfs size for this order");
		rt_thp_allow_only(step, order);
	} else {
		rt_thp_allow_only(step, 0);
	}
	rt_call(step, mm, RT_OP_MAP, base, order, pmd, first, count, &r);
	fflush(stdout);
}

/** The thread for `cpu` in `mm` writes `value` to word 0 of `vpn`. */
void op_store(int step, int cpu, int mm, long vpn, long value)
{
	struct rt_reply r;
	rt_check_mm(step, mm);
	rt_check(step, cpu >= 0 && cpu < RT_CPUS, "cpu out of 0..3");
	rt_check_range(step, vpn, 1);
	rt_call(step, mm, RT_OP_STORE, cpu, vpn, value, 0, 0, &r);
	rt_print_access(step, &r);
}

/** The thread for `cpu` in `mm` reads word 0 of `vpn`. */
void op_load(int step, int cpu, int mm, long vpn)
{
	struct rt_reply r;
	rt_check_mm(step, mm);
	rt_check(step, cpu >= 0 && cpu < RT_CPUS, "cpu out of 0..3");
	rt_check_range(step, vpn, 1);
	rt_call(step, mm, RT_OP_LOAD, cpu, vpn, 0, 0, 0, &r);
	rt_print_access(step, &r);
}

/** The process of `mm` forks; the new process is mm `child`. */
void op_fork(int step, int mm, int child)
{
	struct rt_reply r;
	rt_check_mm(step, mm);
	rt_check(step, child >= 0 && child < RT_MAX_MMS, "child mm id out of 0..15");
	rt_check(step, rt_state[child] == RT_MM_UNUSED, "child mm id already used");
	rt_call(step, mm, RT_OP_FORK, child, 0, 0, 0, 0, &r);
	pid_t pid = (pid_t)r.value;
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		kill(pid, SIGKILL);
		rt_fail(step, errno, "pidfd_open of mm %d (pid %d)", child, (int)pid);
	}
	rt_pidfd[child] = pidfd;
	rt_pid[child] = pid;
	rt_state[child] = RT_MM_LIVE;
	fflush(stdout);
}

/** The process of `mm` exits; returns once it is gone (its mm torn down). */
void op_exit(int step, int mm)
{
	rt_check_mm(step, mm);
	rt_send(step, mm, RT_OP_EXIT, 0, 0, 0, 0, 0);
	/* The pidfd polls readable once the whole thread group has exited, after exit_mm(). */
	struct pollfd p = { .fd = rt_pidfd[mm], .events = POLLIN };
	int n;
	while ((n = poll(&p, 1, 30000)) < 0 && errno == EINTR)
		;
	if (n <= 0)
		rt_fail(step, n < 0 ? errno : ETIMEDOUT, "waiting for mm %d to exit", mm);
	close(rt_pidfd[mm]);
	rt_state[mm] = RT_MM_EXITED;
	fflush(stdout);
}

/** madvise(MADV_DONTNEED) on [vpn, vpn+nr) of `mm`. */
void op_dontneed(int step, int mm, long vpn, long nr)
{
	struct rt_reply r;
	rt_check_mm(step, mm);
	rt_check_range(step, vpn, nr);
	rt_call(step, mm, RT_OP_DONTNEED, vpn, nr, 0, 0, 0, &r);
	fflush(stdout);
}

/** mprotect() [vpn, vpn+nr) of `mm` to read-only or read-write. */
void op_mprotect(int step, int mm, long vpn, long nr, int writable)
{
	struct rt_reply r;
	rt_check_mm(step, mm);
	rt_check_range(step, vpn, nr);
	rt_call(step, mm, RT_OP_MPROTECT, vpn, nr, writable != 0, 0, 0, &r);
	fflush(stdout);
}

/** mremap() nr pages from `from` to `to` (MREMAP_MAYMOVE|MREMAP_FIXED); `from` is left unmapped. */
void op_mremap(int step, int mm, long from, long to, long nr)
{
	struct rt_reply r;
	rt_check_mm(step, mm);
	rt_check_range(step, from, nr);
	rt_check_range(step, to, nr);
	rt_check(step, from + nr <= to || to + nr <= from, "mremap ranges overlap");
	rt_call(step, mm, RT_OP_MREMAP, from, to, nr, 0, 0, &r);
	fflush(stdout);
}

static void rt_check_file(int step, int file, long index, long nr)
{
	rt_check(step, file >= 0 && file < RT_NR_FILES, "file id out of 0..1");
	rt_check(step, index >= 0 && nr >= 0 && index + nr <= RT_FILE_PAGES, "page range outside the file");
}

/** mmap() file pages [pgoff, pgoff+nr) over [vpn, vpn+nr) of `mm` (MAP_FIXED, read-write; MAP_SHARED or MAP_PRIVATE). */
void op_mmapfile(int step, int mm, long vpn, long nr, int file, long pgoff, int shared)
{
	struct rt_reply r;
	rt_check_mm(step, mm);
	rt_check_range(step, vpn, nr);
	rt_check_file(step, file, pgoff, nr);
	rt_call(step, mm, RT_OP_MMAPFILE, vpn, nr, file, pgoff, shared != 0, &r);
	fflush(stdout);
}

/** pwrite() of `value` (one word) at the start of page `index` of `file`. */
void op_pwrite(int step, int file, long index, long value)
{
	rt_check_file(step, file, index, 1);
	if (pwrite(rt_file_fd[file], &value, sizeof value, index * RT_PAGE) != (ssize_t)sizeof value)
		rt_fail(step, errno, "pwrite of file %d page %ld", file, index);
	fflush(stdout);
}

/** pread() of the word at the start of page `index` of `file`; prints it as a load's value. */
void op_pread(int step, int file, long index)
{
	long value = 0;
	rt_check_file(step, file, index, 1);
	if (pread(rt_file_fd[file], &value, sizeof value, index * RT_PAGE) != (ssize_t)sizeof value)
		rt_fail(step, errno, "pread of file %d page %ld", file, index);
	printf("step %d value %ld\n", step, value);
	fflush(stdout);
}

/** fsync() of `file` (the model's writeback; tmpfs has nothing to write). */
void op_fsync(int step, int file)
{
	rt_check_file(step, file, 0, 0);
	if (fsync(rt_file_fd[file]) != 0)
		rt_fail(step, errno, "fsync of file %d", file);
	fflush(stdout);
}

/** ftruncate() of `file` to `from` pages and back to its full size: the pages from `from` on read zeros. */
void op_truncate(int step, int file, long from)
{
	rt_check_file(step, file, from, 0);
	if (ftruncate(rt_file_fd[file], from * RT_PAGE) != 0 || ftruncate(rt_file_fd[file], RT_FILE_PAGES * RT_PAGE) != 0)
		rt_fail(step, errno, "ftruncate of file %d to page %ld", file, from);
	fflush(stdout);
}

/** A fresh anonymous mapping over [vpn, vpn+nr) (MAP_FIXED), MADV_NOHUGEPAGE like the region. */
void op_refill(int step, int mm, long vpn, long nr, int writable)
{
	struct rt_reply r;
	rt_check_mm(step, mm);
	rt_check_range(step, vpn, nr);
	rt_call(step, mm, RT_OP_REFILL, vpn, nr, writable != 0, 0, 0, &r);
	fflush(stdout);
}

static struct rt_handle *rt_new_handle(int step, int handle)
{
	rt_check(step, handle >= 0 && handle < RT_MAX_HANDLES, "handle out of range");
	if (handle >= rt_nr_handles) {
		long n = rt_nr_handles == 0 ? 16 : rt_nr_handles;
		while (n <= handle)
			n *= 2;
		struct rt_handle *h = realloc(rt_handles, (size_t)n * sizeof *h);
		if (h == NULL)
			rt_fail(step, ENOMEM, "handle table");
		memset(h + rt_nr_handles, 0, (size_t)(n - rt_nr_handles) * sizeof *h);
		rt_handles = h;
		rt_nr_handles = n;
	}
	struct rt_handle *h = &rt_handles[handle];
	rt_check(step, h->kind == RT_H_NONE, "handle number already used");
	return h;
}

static void rt_ring_map(int step, struct rt_handle *h)
{
	struct io_uring_params *p = &h->params;
	h->sq_size = p->sq_off.array + p->sq_entries * sizeof(unsigned);
	h->cq_size = p->cq_off.cqes + p->cq_entries * sizeof(struct io_uring_cqe);
	if (p->features & IORING_FEAT_SINGLE_MMAP) {
		if (h->cq_size > h->sq_size)
			h->sq_size = h->cq_size;
		h->cq_size = h->sq_size;
	}
	h->sq = mmap(NULL, h->sq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, h->fd, IORING_OFF_SQ_RING);
	if (h->sq == MAP_FAILED)
		rt_fail(step, errno, "mmap of an io_uring SQ ring");
	if (p->features & IORING_FEAT_SINGLE_MMAP) {
		h->cq = h->sq;
	} else {
		h->cq = mmap(NULL, h->cq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, h->fd,
			     IORING_OFF_CQ_RING);
		if (h->cq == MAP_FAILED)
			rt_fail(step, errno, "mmap of an io_uring CQ ring");
	}
	h->sqes = mmap(NULL, p->sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, h->fd, IORING_OFF_SQES);
	if (h->sqes == MAP_FAILED)
		rt_fail(step, errno, "mmap of io_uring SQEs");
}

/** In `mm`: register [vpn, vpn+nr) as an io_uring fixed buffer (a FOLL_LONGTERM pin). */
void op_pin(int step, int mm, int handle, long vpn, long nr)
{
	struct rt_reply r;
	rt_check_mm(step, mm);
	rt_check_range(step, vpn, nr);
	struct rt_handle *h = rt_new_handle(step, handle);
	rt_call(step, mm, RT_OP_PIN, vpn, nr, 0, 0, 0, &r);
	if (r.result == RT_GUPFAILED) {
		h->kind = RT_H_FAILED;
		printf("step %d gupfailed\n", step);
	} else {
		h->kind = RT_H_RING;
		rt_take_fds(step, mm, &r, &h->fd);
		h->vpn = vpn;
		h->pages = r.value;
		h->params = r.params;
		rt_ring_map(step, h);
		printf("step %d pinned %ld\n", step, r.value);
	}
	fflush(stdout);
}

/** In `mm`: vmsplice [vpn, vpn+nr) into a pipe (FOLL_GET references). */
void op_get(int step, int mm, int handle, long vpn, long nr)
{
	struct rt_reply r;
	rt_check_mm(step, mm);
	rt_check_range(step, vpn, nr);
	struct rt_handle *h = rt_new_handle(step, handle);
	rt_call(step, mm, RT_OP_GET, vpn, nr, 0, 0, 0, &r);
	if (r.result == RT_GUPFAILED) {
		h->kind = RT_H_FAILED;
		printf("step %d gupfailed\n", step);
	} else {
		h->kind = RT_H_PIPE;
		h->pipes = calloc((size_t)r.nr_fds, sizeof(int));
		if (h->pipes == NULL)
			rt_fail(step, ENOMEM, "pipes of handle %d", handle);
		h->nr_pipes = r.nr_fds;
		rt_take_fds(step, mm, &r, h->pipes);
		h->vpn = vpn;
		h->pages = r.value;
		printf("step %d got %ld\n", step, r.value);
	}
	fflush(stdout);
}

static struct rt_handle *rt_live_handle(int step, int handle)
{
	rt_check(step, handle >= 0 && handle < rt_nr_handles, "no such handle");
	struct rt_handle *h = &rt_handles[handle];
	rt_check(step, h->kind == RT_H_RING || h->kind == RT_H_PIPE, "handle not live");
	return h;
}

/**
 * Drop a handle. A ring's buffers are unregistered first: that unpins synchronously, while
 * closing the ring alone leaves the unpin to io_uring's exit work, some time later. A failed
 * pin/get made no handle; dropping it does nothing.
 */
void op_unpin(int step, int handle)
{
	rt_check(step, handle >= 0 && handle < rt_nr_handles, "no such handle");
	struct rt_handle *h = &rt_handles[handle];
	if (h->kind == RT_H_FAILED) {
		h->kind = RT_H_CLOSED;
		return;
	}
	h = rt_live_handle(step, handle);
	if (h->kind == RT_H_RING) {
		if (syscall(__NR_io_uring_register, h->fd, IORING_UNREGISTER_BUFFERS, NULL, 0) != 0)
			rt_fail(step, errno, "io_uring_register(IORING_UNREGISTER_BUFFERS) handle %d", handle);
		munmap(h->sqes, h->params.sq_entries * sizeof(struct io_uring_sqe));
		if (h->cq != h->sq)
			munmap(h->cq, h->cq_size);
		munmap(h->sq, h->sq_size);
		if (close(h->fd) != 0)
			rt_fail(step, errno, "close handle %d", handle);
	} else {
		/* The last reference to each pipe: its buffers drop their page references here. */
		for (int i = 0; i < h->nr_pipes; i++)
			if (close(h->pipes[i]) != 0)
				rt_fail(step, errno, "close handle %d", handle);
		free(h->pipes);
		h->pipes = NULL;
	}
	h->kind = RT_H_CLOSED;
	fflush(stdout);
}

static int rt_scratch(int step)
{
	if (rt_scratch_fd < 0) {
		rt_scratch_fd = memfd_create("mmcheck-conform-device", MFD_CLOEXEC);
		if (rt_scratch_fd < 0)
			rt_fail(step, errno, "memfd_create");
	}
	return rt_scratch_fd;
}

/* One fixed-buffer I/O of 8 bytes between the scratch file (offset 0) and buffer page `index`. */
static void rt_ring_io(int step, struct rt_handle *h, int opcode, int index)
{
	struct io_uring_params *p = &h->params;
	char *sq = h->sq, *cq = h->cq;
	unsigned *sq_tail = (unsigned *)(sq + p->sq_off.tail);
	unsigned sq_mask = *(unsigned *)(sq + p->sq_off.ring_mask);
	unsigned *sq_array = (unsigned *)(sq + p->sq_off.array);
	unsigned *cq_head = (unsigned *)(cq + p->cq_off.head);
	unsigned *cq_tail = (unsigned *)(cq + p->cq_off.tail);
	unsigned cq_mask = *(unsigned *)(cq + p->cq_off.ring_mask);
	struct io_uring_cqe *cqes = (struct io_uring_cqe *)(cq + p->cq_off.cqes);

	unsigned tail = *sq_tail;
	unsigned slot = tail & sq_mask;
	struct io_uring_sqe *sqe = &h->sqes[slot];
	memset(sqe, 0, sizeof *sqe);
	sqe->opcode = (__u8)opcode;
	sqe->fd = rt_scratch(step);
	sqe->off = 0;
	sqe->addr = rt_addr(h->vpn + index);
	sqe->len = sizeof(long);
	sqe->buf_index = 0;
	sqe->user_data = 1;
	sq_array[slot] = slot;
	__atomic_store_n(sq_tail, tail + 1, __ATOMIC_RELEASE);
	unsigned submit = 1;
	for (;;) {
		long n = syscall(__NR_io_uring_enter, h->fd, submit, 1, IORING_ENTER_GETEVENTS, NULL, 0);
		if (n >= 0)
			break;
		if (errno != EINTR)
			rt_fail(step, errno, "io_uring_enter");
		if (__atomic_load_n((unsigned *)(sq + p->sq_off.head), __ATOMIC_ACQUIRE) == tail + 1)
			submit = 0;
	}
	unsigned head = *cq_head;
	if (head == __atomic_load_n(cq_tail, __ATOMIC_ACQUIRE))
		rt_fail(step, EPROTO, "io_uring completed nothing");
	int res = cqes[head & cq_mask].res;
	__atomic_store_n(cq_head, head + 1, __ATOMIC_RELEASE);
	if (res < 0)
		rt_fail(step, -res, "io_uring %s of buffer page %d", opcode == IORING_OP_WRITE_FIXED ? "WRITE_FIXED" : "READ_FIXED",
			index);
	if (res != (int)sizeof(long))
		rt_fail(step, EIO, "io_uring moved %d bytes, not 8", res);
}

/* Read exactly n bytes from a pipe (discarded when buf is NULL). */
static void rt_read_pipe(int step, int fd, void *buf, size_t n)
{
	char sink[RT_PAGE];
	while (n > 0) {
		size_t want = n < sizeof sink ? n : sizeof sink;
		ssize_t got = read(fd, buf != NULL ? buf : sink, want);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			rt_fail(step, got < 0 ? errno : EIO, "read of the device pipe");
		if (buf != NULL)
			buf = (char *)buf + got;
		n -= (size_t)got;
	}
}

/** The device reads word 0 of page `index` of the handle. */
void op_devread(int step, int handle, int index)
{
	struct rt_handle *h = rt_live_handle(step, handle);
	long value = 0;
	rt_check(step, index >= 0 && index < h->pages, "page index beyond the handle");
	if (h->kind == RT_H_RING) {
		rt_ring_io(step, h, IORING_OP_WRITE_FIXED, index);
		if (pread(rt_scratch(step), &value, sizeof value, 0) != (ssize_t)sizeof value)
			rt_fail(step, errno, "pread of the device file");
	} else {
		/* tee() copies buffer references, so the handle's pipe keeps its pages. */
		int src = h->pipes[index / rt_pipe_pages];
		long first = index / rt_pipe_pages * rt_pipe_pages;
		long in_pipe = h->pages - first < rt_pipe_pages ? h->pages - first : rt_pipe_pages;
		int p[2];
		if (pipe2(p, O_CLOEXEC) != 0)
			rt_fail(step, errno, "pipe2");
		int size = fcntl(src, F_GETPIPE_SZ);
		if (size < 0 || fcntl(p[1], F_SETPIPE_SZ, size) < 0)
			rt_fail(step, errno, "F_SETPIPE_SZ of the tee pipe");
		size_t bytes = (size_t)(in_pipe * RT_PAGE);
		ssize_t n;
		while ((n = tee(src, p[1], bytes, SPLICE_F_NONBLOCK)) < 0 && errno == EINTR)
			;
		if (n != (ssize_t)bytes)
			rt_fail(step, n < 0 ? errno : EIO, "tee of handle %d", handle);
		rt_read_pipe(step, p[0], NULL, (size_t)(index - first) * RT_PAGE);
		rt_read_pipe(step, p[0], &value, sizeof value);
		close(p[0]); /* drains the rest */
		close(p[1]);
	}
	printf("step %d value %ld\n", step, value);
	fflush(stdout);
}

/** The device writes `value` to word 0 of page `index` of a pinned handle. */
void op_devwrite(int step, int handle, int index, long value)
{
	struct rt_handle *h = rt_live_handle(step, handle);
	rt_check(step, h->kind == RT_H_RING, "devwrite needs a pin (io_uring) handle");
	rt_check(step, index >= 0 && index < h->pages, "page index beyond the handle");
	if (pwrite(rt_scratch(step), &value, sizeof value, 0) != (ssize_t)sizeof value)
		rt_fail(step, errno, "pwrite of the device file");
	rt_ring_io(step, h, IORING_OP_READ_FIXED, index);
	fflush(stdout);
}

/* ---------------------------------------------------------------- observation */

#define RT_KBLOCK 512 /* kpageflags are read 512 frames (one 4 KiB pread) at a time */
#define RT_KCACHE 256

struct rt_kblock {
	long block; /* -1: empty */
	uint64_t flags[RT_KBLOCK];
};

static struct rt_kblock *rt_kcache;
static int rt_kpageflags_fd = -1, rt_kpagecount_fd = -1;

static uint64_t rt_kflags(int step, uint64_t pfn)
{
	long block = (long)(pfn / RT_KBLOCK);
	struct rt_kblock *b = &rt_kcache[block % RT_KCACHE];
	if (b->block != block) {
		off_t off = (off_t)block * RT_KBLOCK * 8;
		ssize_t n = pread(rt_kpageflags_fd, b->flags, sizeof b->flags, off);
		if (n < 0)
			rt_fail(step, errno, "pread /proc/kpageflags at pfn %lu", (unsigned long)pfn);
		/* Past the end of memory: no flags. */
		memset((char *)b->flags + n, 0, sizeof b->flags - (size_t)n);
		b->block = block;
	}
	return b->flags[pfn % RT_KBLOCK];
}

static int rt_flag(uint64_t flags, int bit)
{
	return (int)((flags >> bit) & 1);
}

/*
 * The folio of a frame: its head (scan back over compound tails) and order (count the tails
 * after the head: 2^order - 1 of them). A frame outside any compound page is its own order-0
 * folio.
 */
static uint64_t rt_last_head, rt_last_pages; /* the last compound folio found, this observation */
static int rt_last_order;

static void rt_folio(int step, uint64_t pfn, uint64_t *head, int *order)
{
	if (pfn >= rt_last_head && pfn < rt_last_head + rt_last_pages) {
		*head = rt_last_head;
		*order = rt_last_order;
		return;
	}
	uint64_t f = rt_kflags(step, pfn);
	if (!rt_flag(f, RT_KPF_COMPOUND_HEAD) && !rt_flag(f, RT_KPF_COMPOUND_TAIL)) {
		*head = pfn;
		*order = 0;
		return;
	}
	uint64_t h = pfn;
	while (h > 0 && rt_flag(rt_kflags(step, h), RT_KPF_COMPOUND_TAIL) && pfn - h < (1UL << 20))
		h--;
	uint64_t tails = 0;
	while (rt_flag(rt_kflags(step, h + 1 + tails), RT_KPF_COMPOUND_TAIL) && tails < (1UL << 20))
		tails++;
	int o = 0;
	while ((2UL << o) <= tails + 1)
		o++;
	*head = h;
	*order = o;
	rt_last_head = h;
	rt_last_pages = tails + 1;
	rt_last_order = o;
}

static void rt_observe_mm(int step, int mm)
{
	char path[64];
	uint64_t pm[RT_NR_PAGES];
	snprintf(path, sizeof path, "/proc/%d/pagemap", (int)rt_pid[mm]);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		rt_fail(step, errno, "open %s", path);
	ssize_t n = pread(fd, pm, sizeof pm, (off_t)(RT_REGION / RT_PAGE * 8));
	int err = errno;
	close(fd);
	if (n != (ssize_t)sizeof pm)
		rt_fail(step, n < 0 ? err : EIO, "pread %s", path);
	/*
	 * Page contents through /proc/<pid>/mem, not process_vm_readv(): the latter pins with
	 * FOLL_PIN, and a read-only pin of a shared anonymous page unshares it (gup_must_unshare()),
	 * which would break the very COW sharing being observed. /proc/<pid>/mem takes FOLL_GET
	 * references, which leave the mappings alone.
	 */
	snprintf(path, sizeof path, "/proc/%d/mem", (int)rt_pid[mm]);
	int mem = open(path, O_RDONLY | O_CLOEXEC);
	if (mem < 0)
		rt_fail(step, errno, "open %s", path);
	for (long vpn = 0; vpn < RT_NR_PAGES; vpn++) {
		uint64_t e = pm[vpn];
		if (!(e & RT_PM_PRESENT)) {
			if (e & RT_PM_SWAP)
				printf("obs %d mm%d %ld swap\n", step, mm, vpn);
			continue;
		}
		uint64_t pfn = e & RT_PM_PFN_MASK;
		uint64_t flags = rt_kflags(step, pfn);
		uint64_t count = 0;
		if (pread(rt_kpagecount_fd, &count, sizeof count, (off_t)(pfn * 8)) != (ssize_t)sizeof count)
			rt_fail(step, errno, "pread /proc/kpagecount at pfn %lu", (unsigned long)pfn);
		uint64_t head;
		int order;
		rt_folio(step, pfn, &head, &order);
		long value;
		if (pread(mem, &value, sizeof value, (off_t)rt_addr(vpn)) != (ssize_t)sizeof value)
			rt_fail(step, errno, "pread %s at vpn %ld", path, vpn);
		printf("obs %d mm%d %ld pfn=%lu map=%lu excl=%d thp=%d order=%d zero=%d val=%ld head=%lu\n", step, mm, vpn,
		       (unsigned long)pfn, (unsigned long)count, (int)((e >> RT_PM_EXCLUSIVE) & 1),
		       rt_flag(flags, RT_KPF_THP), order, rt_flag(flags, RT_KPF_ZERO_PAGE), value, (unsigned long)head);
	}
	close(mem);
}

/** Every present page of every live mm (id order), then `end S`. */
void observe(int step)
{
	if (rt_kcache == NULL) {
		rt_kcache = malloc(RT_KCACHE * sizeof *rt_kcache);
		if (rt_kcache == NULL)
			rt_fail(step, ENOMEM, "kpageflags cache");
	}
	for (int i = 0; i < RT_KCACHE; i++)
		rt_kcache[i].block = -1; /* frames change between steps */
	rt_last_pages = 0;
	for (int mm = 0; mm < RT_MAX_MMS; mm++)
		if (rt_state[mm] == RT_MM_LIVE)
			rt_observe_mm(step, mm);
	printf("end %d\n", step);
	fflush(stdout);
}

/* ---------------------------------------------------------------- start and finish */

/* The largest power-of-two page count within fs.pipe-max-size (see rt_pipe_pages). */
static long rt_read_pipe_pages(void)
{
	char buf[32];
	int fd = open("/proc/sys/fs/pipe-max-size", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		rt_fail(-1, errno, "open /proc/sys/fs/pipe-max-size");
	ssize_t n = read(fd, buf, sizeof buf - 1);
	int err = errno;
	close(fd);
	if (n <= 0)
		rt_fail(-1, n < 0 ? err : EIO, "read /proc/sys/fs/pipe-max-size");
	buf[n] = '\0';
	long pages = 1;
	while (pages * 2 * RT_PAGE <= atol(buf))
		pages *= 2;
	/* A get handle of the whole region must fit in RT_MAX_FDS pipes. */
	if (pages * RT_MAX_FDS < RT_NR_PAGES)
		rt_fail(-1, ERANGE, "fs.pipe-max-size %s is too small", buf);
	return pages;
}

/** Lock, save THP sysfs, install the restoring signal handlers, fork mm 0 and map its region. */
void mm_start(void)
{
	static char outbuf[1 << 16];
	setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf); /* flushed after every op */

	rt_lock_fd = open(RT_LOCK_PATH, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (rt_lock_fd < 0)
		rt_fail(-1, errno, "open " RT_LOCK_PATH);
	while (flock(rt_lock_fd, LOCK_EX) != 0)
		if (errno != EINTR)
			rt_fail(-1, errno, "flock " RT_LOCK_PATH);

	rt_thp_save();
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = rt_on_fatal_signal;
	sigemptyset(&sa.sa_mask);
	int fatal[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };
	for (unsigned i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
		sigaddset(&sa.sa_mask, fatal[i]);
	for (unsigned i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
		if (sigaction(fatal[i], &sa, NULL) != 0)
			rt_fail(-1, errno, "sigaction");

	/* Exited mms are reaped by the kernel (their parents, us included, ignore SIGCHLD); an mm
	 * whose parent mm exits is reparented to us. Exits are awaited through pidfds. */
	signal(SIGCHLD, SIG_IGN);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
		rt_fail(-1, errno, "prctl(PR_SET_CHILD_SUBREAPER)");

	rt_kpageflags_fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	if (rt_kpageflags_fd < 0)
		rt_fail(-1, errno, "open /proc/kpageflags");
	rt_kpagecount_fd = open("/proc/kpagecount", O_RDONLY | O_CLOEXEC);
	if (rt_kpagecount_fd < 0)
		rt_fail(-1, errno, "open /proc/kpagecount");

	cpu_set_t allowed;
	if (sched_getaffinity(0, sizeof allowed, &allowed) != 0)
		rt_fail(-1, errno, "sched_getaffinity");
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &allowed))
			rt_host_cpu[rt_nr_host_cpus++] = c;
	if (rt_nr_host_cpus == 0)
		rt_fail(-1, EINVAL, "no CPU to run on");

	for (int f = 0; f < RT_NR_FILES; f++) {
		char name[32];
		snprintf(name, sizeof name, "mmcheck-conform-file%d", f);
		rt_file_fd[f] = memfd_create(name, MFD_CLOEXEC);
		if (rt_file_fd[f] < 0 || ftruncate(rt_file_fd[f], RT_FILE_PAGES * RT_PAGE) != 0)
			rt_fail(-1, errno, "memfd for file %d", f);
	}

	rt_pipe_pages = rt_read_pipe_pages();
	for (int m = 0; m < RT_MAX_MMS; m++)
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, rt_chan[m]) != 0)
			rt_fail(-1, errno, "socketpair");

	pid_t self = getpid();
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		rt_fail(-1, errno, "fork of mm 0");
	if (pid == 0)
		rt_mm0_main(self);
	rt_pidfd[0] = (int)syscall(SYS_pidfd_open, pid, 0);
	if (rt_pidfd[0] < 0) {
		kill(pid, SIGKILL);
		rt_fail(-1, errno, "pidfd_open of mm 0");
	}
	rt_pid[0] = pid;
	rt_state[0] = RT_MM_LIVE;
	for (int m = 0; m < RT_MAX_MMS; m++)
		close(rt_chan[m][1]);
	struct rt_reply r;
	rt_recv(-1, 0, &r);
}

/** Kill the mms, restore THP sysfs, release the lock; the exit status of a clean run. */
int mm_finish(void)
{
	fflush(stdout);
	rt_teardown();
	return 0;
}
