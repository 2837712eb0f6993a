/*
 * The `mmcheck conform` interpreter: the runtime driven by commands on stdin, one per line,
 * `<op> <step> <args...>` with the arguments in the order of the op function's parameters.
 * Lines starting with '#' are comments. A malformed or unknown command prints one error line
 * and exits 2, after the same teardown as a normal finish.
 */
#include "runtime.c"

#include <limits.h>

#define RT_MAX_ARGS 6

/* One command: its name, the integers after the step ('i' an int parameter, 'l' a long), and
 * how to call it. */
struct rt_command {
	const char *name;
	const char *args;
	void (*run)(int step, const long *a);
};

static void run_map(int s, const long *a) { op_map(s, (int)a[0], a[1], (int)a[2], (int)a[3], (int)a[4], (int)a[5]); }
static void run_store(int s, const long *a) { op_store(s, (int)a[0], (int)a[1], a[2], a[3]); }
static void run_load(int s, const long *a) { op_load(s, (int)a[0], (int)a[1], a[2]); }
static void run_fork(int s, const long *a) { op_fork(s, (int)a[0], (int)a[1]); }
static void run_exit(int s, const long *a) { op_exit(s, (int)a[0]); }
static void run_dontneed(int s, const long *a) { op_dontneed(s, (int)a[0], a[1], a[2]); }
static void run_mprotect(int s, const long *a) { op_mprotect(s, (int)a[0], a[1], a[2], (int)a[3]); }
static void run_mremap(int s, const long *a) { op_mremap(s, (int)a[0], a[1], a[2], a[3]); }
static void run_refill(int s, const long *a) { op_refill(s, (int)a[0], a[1], a[2], (int)a[3]); }
static void run_pin(int s, const long *a) { op_pin(s, (int)a[0], (int)a[1], a[2], a[3]); }
static void run_get(int s, const long *a) { op_get(s, (int)a[0], (int)a[1], a[2], a[3]); }
static void run_unpin(int s, const long *a) { op_unpin(s, (int)a[0]); }
static void run_devread(int s, const long *a) { op_devread(s, (int)a[0], (int)a[1]); }
static void run_devwrite(int s, const long *a) { op_devwrite(s, (int)a[0], (int)a[1], a[2]); }
static void run_observe(int s, const long *a) { (void)a; observe(s); }
static void run_mmapfile(int s, const long *a) { op_mmapfile(s, (int)a[0], a[1], a[2], (int)a[3], a[4], (int)a[5]); }
static void run_pwrite(int s, const long *a) { op_pwrite(s, (int)a[0], a[1], a[2]); }
static void run_pread(int s, const long *a) { op_pread(s, (int)a[0], a[1]); }
static void run_fsync(int s, const long *a) { op_fsync(s, (int)a[0]); }
static void run_truncate(int s, const long *a) { op_truncate(s, (int)a[0], a[1]); }

static const struct rt_command rt_commands[] = {
	{ "map", "iliiii", run_map },	       { "store", "iill", run_store },	     { "load", "iil", run_load },
	{ "fork", "ii", run_fork },	       { "exit", "i", run_exit },	     { "dontneed", "ill", run_dontneed },
	{ "mprotect", "illi", run_mprotect }, { "mremap", "illl", run_mremap },   { "refill", "illi", run_refill },
	{ "pin", "iill", run_pin },	       { "get", "iill", run_get },	     { "unpin", "i", run_unpin },
	{ "devread", "ii", run_devread },     { "devwrite", "iil", run_devwrite }, { "observe", "", run_observe },
	{ "mmapfile", "illili", run_mmapfile }, { "pwrite", "ill", run_pwrite },   { "pread", "il", run_pread },
	{ "fsync", "i", run_fsync },	       { "truncate", "il", run_truncate },
};

/* Print the error line, tear down as mm_finish() does, exit 2. */
__attribute__((noreturn)) static void bad_input(const char *why, const char *line)
{
	printf("error %s: %s\n", why, line);
	fflush(stdout);
	fprintf(stderr, "error %s: %s\n", why, line);
	mm_finish();
	exit(2);
}

/* Parse one integer word; 0 on success. */
static int parse_long(const char *word, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(word, &end, 10);
	if (errno != 0 || end == word || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

int main(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	mm_start();
	while ((len = getline(&line, &cap, stdin)) >= 0) {
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (line[0] == '#')
			continue;
		char copy[512];
		snprintf(copy, sizeof copy, "%s", line);
		char *save = NULL;
		char *name = strtok_r(line, " \t", &save);
		if (name == NULL)
			continue; /* a blank line */
		const struct rt_command *cmd = NULL;
		for (size_t i = 0; i < sizeof rt_commands / sizeof rt_commands[0]; i++)
			if (strcmp(rt_commands[i].name, name) == 0)
				cmd = &rt_commands[i];
		if (cmd == NULL)
			bad_input("unknown command", copy);
		long step, a[RT_MAX_ARGS] = { 0 };
		char *w = strtok_r(NULL, " \t", &save);
		if (w == NULL || parse_long(w, &step) != 0 || step < 0 || step > INT_MAX)
			bad_input("bad step", copy);
		for (int i = 0; cmd->args[i] != '\0'; i++) {
			w = strtok_r(NULL, " \t", &save);
			if (w == NULL || parse_long(w, &a[i]) != 0)
				bad_input("bad arguments", copy);
			if (cmd->args[i] == 'i' && (a[i] < INT_MIN || a[i] > INT_MAX))
				bad_input("argument out of int range", copy);
		}
		if (strtok_r(NULL, " \t", &save) != NULL)
			bad_input("too many arguments", copy);
		cmd->run((int)step, a);
	}
	free(line);
	return mm_finish();
}
