/*
 * The `mmcheck conform` interpreter: the runtime driven by commands on stdin, one per line,
 * `<op> <step> <args...>` with the arguments in the order of the op function's parameters.
 * Lines starting with '#' are comments. A malformed or unknown command prints one error line
 * and exits 2, after the same teardown as a normal finish.
 */
#include "runtime.c"

#define RT_MAX_ARGS 6

/* One command: its name, how many integers follow the step, and how to call it. */
struct rt_command {
	const char *name;
	int nargs;
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

static const struct rt_command rt_commands[] = {
	{ "map", 6, run_map },		 { "store", 4, run_store },	  { "load", 3, run_load },
	{ "fork", 2, run_fork },	 { "exit", 1, run_exit },	  { "dontneed", 3, run_dontneed },
	{ "mprotect", 4, run_mprotect }, { "mremap", 4, run_mremap },	  { "refill", 4, run_refill },
	{ "pin", 4, run_pin },		 { "get", 4, run_get },		  { "unpin", 1, run_unpin },
	{ "devread", 2, run_devread },	 { "devwrite", 3, run_devwrite }, { "observe", 0, run_observe },
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
		if (w == NULL || parse_long(w, &step) != 0 || step < 0 || step > 0x7fffffff)
			bad_input("bad step", copy);
		for (int i = 0; i < cmd->nargs; i++) {
			w = strtok_r(NULL, " \t", &save);
			if (w == NULL || parse_long(w, &a[i]) != 0)
				bad_input("bad arguments", copy);
		}
		if (strtok_r(NULL, " \t", &save) != NULL)
			bad_input("too many arguments", copy);
		cmd->run((int)step, a);
	}
	free(line);
	return mm_finish();
}
