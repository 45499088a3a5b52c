/*
 * affinity.c - worker_cpu_affinity (taod.conf(5)): parsing, the CPU of a
 * slot, and the text taoctl config prints.
 *
 * LIST is CPU numbers (as taskset -c and Cpus_allowed_list write them),
 * not nginx's per-worker bitmasks: one CPU per slot is what "pin" means,
 * and a number cannot be misread the way "0010" can.  Words and commas
 * both separate entries.  Each CPU must be in the set the parsing
 * process may run on, so `taod -t` reports a CPU this machine (or this
 * cgroup) does not give us.  The slot's CPU is computed from the config
 * of the generation a worker belongs to, in the child (master/proc.c),
 * so respawns keep it and reloads apply the new list.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "master/config.h"

static int
allowed(cpu_set_t *set)
{
	CPU_ZERO(set);
	return sched_getaffinity(0, sizeof(*set), set);
}

/* One entry: 1 to 5 digits.  The number, or -1. */
static int
parse_cpu(const char *s, size_t len)
{
	int v = 0;

	if (len == 0 || len > 5)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* Append the entries of one word; 0, or -1 with a message. */
static int
parse_word(struct tao_config *cf, const char *word, const cpu_set_t *ok,
    char *msg, size_t msglen)
{
	const char *p = word;

	for (;;) {
		size_t len = strcspn(p, ",");
		int cpu = parse_cpu(p, len);

		if (cpu == -1) {
			snprintf(msg, msglen, "worker_cpu_affinity: '%.*s' is "
			    "not a CPU number", (int)len, p);
			return -1;
		}
		if (cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, ok)) {
			snprintf(msg, msglen, "worker_cpu_affinity: CPU %d is "
			    "not in the set taod may run on", cpu);
			return -1;
		}
		if (cf->cf_ncpus == TAO_MAX_WORKERS) {
			snprintf(msg, msglen, "worker_cpu_affinity: at most %d "
			    "CPUs, one per worker slot", TAO_MAX_WORKERS);
			return -1;
		}
		cf->cf_cpus[cf->cf_ncpus++] = cpu;
		if (p[len] == '\0')
			return 0;
		p += len + 1;
	}
}

int
tao__config_affinity(struct tao_config *cf, char **words, int nwords,
    char *msg, size_t msglen)
{
	cpu_set_t ok;

	cf->cf_ncpus = 0;
	cf->cf_cpu_affinity = TAO_AFFINITY_OFF;
	if (nwords == 1 && strcmp(words[0], "off") == 0)
		return 0;
	if (nwords == 1 && strcmp(words[0], "auto") == 0) {
		cf->cf_cpu_affinity = TAO_AFFINITY_AUTO;
		return 0;
	}
	if (allowed(&ok) == -1) {
		snprintf(msg, msglen, "worker_cpu_affinity: cannot read the "
		    "allowed CPUs");
		return -1;
	}
	for (int i = 0; i < nwords; i++)
		if (parse_word(cf, words[i], &ok, msg, msglen) == -1) {
			cf->cf_ncpus = 0;
			return -1;
		}
	cf->cf_cpu_affinity = TAO_AFFINITY_LIST;
	return 0;
}

int
tao__config_worker_cpu(const struct tao_config *cf, int slot)
{
	cpu_set_t ok;
	int n, nth;

	if (slot < 0)
		return -1;
	if (cf->cf_cpu_affinity == TAO_AFFINITY_LIST && cf->cf_ncpus > 0)
		return cf->cf_cpus[slot % cf->cf_ncpus];
	if (cf->cf_cpu_affinity != TAO_AFFINITY_AUTO || allowed(&ok) == -1 ||
	    (n = CPU_COUNT(&ok)) == 0)
		return -1;
	nth = slot % n;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &ok) && nth-- == 0)
			return c;
	return -1;
}

void
tao__config_affinity_text(const struct tao_config *cf, char *buf,
    size_t len)
{
	size_t used = 0;

	if (len == 0)
		return;
	snprintf(buf, len, "%s", cf->cf_cpu_affinity == TAO_AFFINITY_AUTO ?
	    "auto" : "off");
	if (cf->cf_cpu_affinity != TAO_AFFINITY_LIST)
		return;
	buf[0] = '\0';
	for (int i = 0; i < cf->cf_ncpus && used < len; i++) {
		int n = snprintf(buf + used, len - used, "%s%d", i ? " " : "",
		    cf->cf_cpus[i]);
		used = n < 0 ? len : used + (size_t)n;
	}
}
