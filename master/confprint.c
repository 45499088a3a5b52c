/*
 * confprint.c - `taoctl config`: the running configuration, printed back.
 *
 * The text form is taod.conf(5) itself, one directive per line in the
 * order of the manual, so that what a reloaded taod prints can be compared
 * line for line with what a taod freshly started on the same file prints
 * (t150-reload-equivalence).  Values are the effective ones: the number of
 * workers that runs (not "auto"), each listener's resolved port.  A path
 * directive that is not set has no value to print and shows as a comment,
 * so the output stays a valid configuration file.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "master/buf.h"
#include "master/config.h"

static const char *const level_names[] = { "error", "warn", "info", "debug" };

enum value_kind { V_NUM, V_ONOFF, V_STR, V_PATH };

struct shown {
	const char	*name;
	enum value_kind	 kind;
	uint64_t	 num;
	const char	*str;
};

/* Everything but listen, in taod.conf(5) order. */
static int
collect(const struct tao_config *cf, struct shown *v, char *cpus,
    size_t cpuslen)
{
	const struct tao_settings *st = &cf->cf_settings;
	int lvl = cf->cf_log_level, n = 0;

#define NUM(nm, x)	v[n++] = (struct shown){ nm, V_NUM, (uint64_t)(x), NULL }
#define STR(nm, k, x)	v[n++] = (struct shown){ nm, k, 0, x }
	NUM("workers", tao__config_worker_count(cf));
	tao__config_affinity_text(cf, cpus, cpuslen);
	STR("worker_cpu_affinity", V_STR, cpus);
	STR("user", V_PATH, cf->cf_user);
	STR("app", V_STR, cf->cf_app);
	STR("module_path", V_PATH, cf->cf_module_path);
	NUM("max_frame", st->st_max_frame);
	NUM("write_queue_max", st->st_write_queue_max);
	NUM("max_connections", cf->cf_max_connections);
	NUM("max_connections_per_ip", st->st_max_conns_per_ip);
	NUM("ring_size", cf->cf_ring_size);
	NUM("heartbeat_ms", st->st_heartbeat_ms);
	v[n++] = (struct shown){ "heartbeat_reply", V_ONOFF,
	    (uint64_t)st->st_heartbeat_reply, NULL };
	NUM("idle_timeout_ms", st->st_idle_timeout_ms);
	NUM("frame_timeout_ms", st->st_frame_timeout_ms);
	NUM("drain_timeout_ms", st->st_drain_timeout_ms);
	NUM("reload_timeout_ms", cf->cf_reload_timeout_ms);
	NUM("max_old_generations", cf->cf_max_old_generations);
	NUM("blocking_threads", st->st_blocking_threads);
	NUM("blocking_queue_max", st->st_blocking_queue_max);
	STR("control", V_PATH, cf->cf_control);
	STR("pidfile", V_PATH, cf->cf_pidfile);
	STR("log_level", V_STR, lvl >= 0 && lvl < 4 ? level_names[lvl] : "?");
	STR("metrics", V_STR, cf->cf_metrics[0] ? cf->cf_metrics : "off");
	STR("tls_cert", V_PATH, cf->cf_tls_cert);
	STR("tls_key", V_PATH, cf->cf_tls_key);
	STR("tls_client_ca", V_PATH, cf->cf_tls_client_ca);
	STR("cluster", V_STR, cf->cf_cluster.cc_url[0] ? cf->cf_cluster.cc_url :
	    "off");
	/* Never the secret itself. */
	STR("cluster_password", V_PATH, cf->cf_cluster.cc_password[0] ?
	    "(set)" : "");
	STR("cluster_channel", V_STR, cf->cf_cluster.cc_channel);
	NUM("cluster_queue_max", cf->cf_cluster.cc_queue_max);
	NUM("node_id", cf->cf_cluster.cc_node_id);
#undef NUM
#undef STR
	return n;
}

static void
print_text(const struct tao_config *cf, const struct shown *v, int n,
    struct tao_buf *b)
{
	for (int i = 0; i < n; i++) {
		/* listen lines come before app, as in (5) */
		if (strcmp(v[i].name, "app") == 0)
			for (int j = 0; j < cf->cf_nlistens; j++) {
				const struct tao_listen_conf *lc =
				    &cf->cf_listens[j];
				tao__buf_printf(b, "listen %s %s%s%s\n",
				    lc->lc_text, lc->lc_codec->name,
				    lc->lc_tls ? " tls" : "",
				    cf->cf_access[j].la_proxy ? " proxy" : "");
				tao__config_print_access(cf, j, b, 0);
			}
		switch (v[i].kind) {
		case V_NUM:
			tao__buf_printf(b, "%s %" PRIu64 "\n", v[i].name,
			    v[i].num);
			break;
		case V_ONOFF:
			tao__buf_printf(b, "%s %s\n", v[i].name,
			    v[i].num ? "on" : "off");
			break;
		case V_STR:
		case V_PATH:
			if (v[i].str[0] == '\0')
				tao__buf_printf(b, "# %s (none)\n", v[i].name);
			else
				tao__buf_printf(b, "%s %s\n", v[i].name,
				    v[i].str);
			break;
		}
	}
}

static void
print_json(const struct tao_config *cf, const struct shown *v, int n,
    struct tao_buf *b)
{
	tao__buf_printf(b, "{\"listen\":[");
	for (int j = 0; j < cf->cf_nlistens; j++) {
		const struct tao_listen_conf *lc = &cf->cf_listens[j];
		tao__buf_printf(b, "%s{\"address\":", j ? "," : "");
		tao__buf_json_str(b, lc->lc_text);
		tao__buf_printf(b, ",\"codec\":\"%s\",\"tls\":%s",
		    lc->lc_codec->name, lc->lc_tls ? "true" : "false");
		tao__config_print_access(cf, j, b, 1);
		tao__buf_printf(b, "}");
	}
	tao__buf_printf(b, "]");
	for (int i = 0; i < n; i++) {
		tao__buf_printf(b, ",\"%s\":", v[i].name);
		switch (v[i].kind) {
		case V_NUM:
			tao__buf_printf(b, "%" PRIu64, v[i].num);
			break;
		case V_ONOFF:
			tao__buf_printf(b, "%s", v[i].num ? "true" : "false");
			break;
		case V_STR:
		case V_PATH:
			if (v[i].str[0] == '\0')
				tao__buf_printf(b, "null");
			else
				tao__buf_json_str(b, v[i].str);
			break;
		}
	}
	tao__buf_printf(b, "}\n");
}

void
tao__config_print(const struct tao_config *cf, struct tao_buf *b, int json)
{
	struct shown v[40];
	char cpus[TAO_MAX_WORKERS * 5];
	int n = collect(cf, v, cpus, sizeof(cpus));

	if (json)
		print_json(cf, v, n, b);
	else
		print_text(cf, v, n, b);
}
