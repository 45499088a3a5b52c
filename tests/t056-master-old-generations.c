/*
 * t056-master-old-generations: at most max_old_generations generations may
 * drain at once.  A connection in the middle of a frame cannot be handed
 * over, so it keeps its old worker draining; with max_old_generations 1 a
 * second reload then fails clearly and changes nothing, and succeeds once
 * the old generation is gone (here: when the client completes its frame
 * and the connection moves on).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "lib/harness.h"

int
main(void)
{
	struct th_daemon *d;
	struct th_status st;
	char out[4096], frame[16], reply[16];
	int32_t type;
	uint32_t len = 0;
	int fd, rc, gen, done = 0;

	th_init("t056-master-old-generations", 60);
	plan(0);
	d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\nworkers 1\n"
	    "max_old_generations 1\ndrain_timeout_ms 20000\n");
	if (d == NULL)
		bail("taod did not start");
	if ((fd = th_connect(d->port[0])) < 0)
		bail("connect");
	/* Half a frame: 8-byte header announcing 8 bytes, then 4 of them. */
	th_put_header(frame, 5, 8);
	memcpy(frame + 8, "abcdefgh", 8);
	ok(th_write_all(fd, frame, 12) == 0, "half a frame sent");
	/* No counter shows a partial frame read, so this is a settle time
	 * for the worker to take the bytes in; the test stays correct (if
	 * weaker) when they arrive later. */
	th_sleep_ms(100);

	rc = th_ctl(d, out, sizeof(out), "reload", NULL);
	is_int(rc, 0, "first reload succeeds");
	rc = th_ctl(d, out, sizeof(out), "reload", NULL);
	is_int(rc, 1, "second reload fails while the first old generation "
	    "drains");
	ok(strstr(out, "old generations are still draining") != NULL,
	    "  and says why");
	if (strstr(out, "draining") == NULL)
		diag("  got: %s", out);
	ok(th_status(d, &st) == 0, "status answers");
	gen = st.generation;
	is_int(gen, 2, "  generation is still 2");

	/* The client completes its frame: it gets its reply, the connection
	 * is handed to generation 2 and the old worker exits. */
	ok(th_write_all(fd, frame + 12, 4) == 0, "rest of the frame sent");
	rc = th_recv_frame(fd, &type, reply, sizeof(reply), &len, th_ms(2000));
	ok(rc == 0 && len == 8 && type == 5 && memcmp(reply, "abcdefgh", 8) == 0,
	    "the frame is echoed");
	for (int i = 0; i < 100 && !done; i++) {
		if (th_ctl(d, out, sizeof(out), "reload", NULL) == 0)
			done = 1;
		else
			th_sleep_ms(50);
	}
	ok(done, "a reload succeeds once the old generation is gone");
	ok(th_echo_once(fd, 6, 32, 9) == 0,
	    "the connection survived both reloads");
	close(fd);
	is_int(th_daemon_stop(d), 0, "taod stops with exit 0");
	return th_exit(done_testing());
}
