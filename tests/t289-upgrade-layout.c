/*
 * t289-upgrade-layout - issue 15: two taod binaries whose channel records
 * (struct tao_chan_msg) differ must not talk.  The old master names its
 * layout in $TAO_UPGRADE (rec=VERSION,SIZE); a new binary with another
 * one refuses at once, exit 1 with the reason, and the old master keeps
 * serving and reports the failure.
 *
 * taod runs from a copy of the binary; for each case the copy is
 * replaced by a script that edits $TAO_UPGRADE as a binary of another
 * layout would see it (a record 20 bytes shorter, as before cm_peer;
 * another layout version; no rec= word, as from an older old master) and
 * execs the real binary.  Each time: taoctl upgrade fails with "exited
 * with code 1 before READY", the log gives the new binary's reason, the
 * same master serves on, and one connection opened at the start keeps
 * echoing.  Then the real binary: the upgrade succeeds.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/channel.h"
#include "tests/lib/harness.h"
#include "tests/tap.h"

static char bin[300], real[300];

static void
put_script(const char *sed_expr)
{
	char tmp[320], text[1024];
	FILE *fp;

	snprintf(tmp, sizeof(tmp), "%s.new", bin);
	snprintf(text, sizeof(text), "#!/bin/sh\nTAO_UPGRADE=$(printf '%%s' "
	    "\"$TAO_UPGRADE\" | sed -e '%s')\nexport TAO_UPGRADE\n"
	    "exec '%s' \"$@\"\n", sed_expr, real);
	if ((fp = fopen(tmp, "we")) == NULL || fputs(text, fp) == EOF ||
	    fclose(fp) == EOF || chmod(tmp, 0755) == -1 || rename(tmp,
	    bin) == -1)
		bail("cannot write %s", bin);
}

static void
refused(struct th_daemon *d, int fd, const char *what, const char *sed_expr,
    const char *reason)
{
	static int n;
	struct th_status st;
	char out[4096];
	pid_t w = 0;
	int rc;

	put_script(sed_expr);
	rc = th_ctl(d, out, sizeof(out), "upgrade", NULL);
	ok(rc != 0 && strstr(out, "exited with code 1 before READY") != NULL &&
	    strstr(out, "keeps serving") != NULL, "%s: taoctl upgrade fails: "
	    "%.*s", what, (int)strcspn(out, "\n"), out);
	n++;
	ok(th_daemon_log_count(d, reason) == 1, "  the new binary's log says "
	    "\"%s\"", reason);
	ok(th_status(d, &st) == 0 && st.pid == d->pid && th_status_serving(&st,
	    0, &w) >= 1, "  the same master (pid %ld) serves on",
	    (long)d->pid);
	ok(th_echo_once(fd, 3, 64, (uint32_t)n) == 0, "  the open connection "
	    "still echoes");
}

int
main(void)
{
	char shorter[128], version[128], out[4096], why1[128], why2[128];
	struct th_daemon *d;
	int fd;

	th_init("t289-upgrade-layout", 60);
	snprintf(bin, sizeof(bin), "%s/taod-bin", th_dir());
	snprintf(real, sizeof(real), "%s/taod-real", th_dir());
	if (th_copy_file(th_bin("taod"), bin, 0755) == -1 ||
	    th_copy_file(th_bin("taod"), real, 0755) == -1)
		bail("cannot copy taod");
	if ((d = th_daemon_start_bin(bin, "listen 127.0.0.1:0 tlv\napp echo\n"
	    "workers 1\n")) == NULL)
		bail("taod did not start");
	if ((fd = th_connect(d->port[0])) == -1 || th_echo_once(fd, 3, 64,
	    0) != 0)
		bail("no echo");
	snprintf(shorter, sizeof(shorter), "s/rec=\\([0-9]*\\),[0-9]*/"
	    "rec=\\1,%zu/", sizeof(struct tao_chan_msg) - TAO_CHAN_PEER_LEN);
	snprintf(version, sizeof(version), "s/rec=[0-9]*,/rec=%d,/",
	    TAO_CHAN_VERSION + 1);
	snprintf(why1, sizeof(why1), "layout %d of %zu bytes, this binary's "
	    "layout %d of %zu", TAO_CHAN_VERSION, sizeof(struct tao_chan_msg) -
	    TAO_CHAN_PEER_LEN, TAO_CHAN_VERSION, sizeof(struct tao_chan_msg));
	snprintf(why2, sizeof(why2), "layout %d of %zu bytes, this binary's "
	    "layout %d of", TAO_CHAN_VERSION + 1, sizeof(struct tao_chan_msg),
	    TAO_CHAN_VERSION);
	refused(d, fd, "records 20 bytes shorter", shorter, why1);
	refused(d, fd, "another layout version", version, why2);
	refused(d, fd, "no rec= word", "s/ rec=[^ ]*//", "no rec= word");
	if (th_copy_file(real, bin, 0755) == -1)
		bail("cannot copy taod back");
	ok(th_upgrade(d, out, sizeof(out)) > 0, "the same layout: the upgrade "
	    "succeeds");
	ok(th_echo_once(fd, 3, 64, 9) == 0, "  and the connection crossed it");
	close(fd);
	is_int(th_daemon_stop_clean(d), 0, "taod stops clean");
	return th_exit(done_testing());
}
