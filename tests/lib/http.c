/*
 * http.c - see http.h.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/lib/http.h"

int
th_http(int port, const char *request, char *out, size_t outlen,
    int timeout_ms)
{
	double deadline = th_now_ms() + timeout_ms;
	size_t len = 0;
	int fd;

	if (outlen == 0 || (fd = th_connect(port)) == -1)
		return -1;
	if (th_write_all(fd, request, strlen(request)) == -1) {
		close(fd);
		return -1;
	}
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int left = (int)(deadline - th_now_ms());
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, left) <= 0 ||
		    len + 1 >= outlen)
			break;
		n = read(fd, out + len, outlen - 1 - len);
		if (n == 0) {
			close(fd);
			out[len] = '\0';
			return (int)len;
		}
		if (n < 0 && errno != EINTR)
			break;
		if (n > 0)
			len += (size_t)n;
	}
	close(fd);
	out[len] = '\0';
	return -1;
}

int
th_http_status(const char *response)
{
	int code;

	if (sscanf(response, "HTTP/1.%*d %d", &code) != 1)
		return -1;
	return code;
}

const char *
th_http_body(const char *response)
{
	const char *p = strstr(response, "\r\n\r\n");

	return p != NULL ? p + 4 : NULL;
}

int
th_scrape(int port, char *out, size_t outlen)
{
	if (th_http(port, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n"
	    "Accept: text/plain\r\n\r\n", out, outlen, th_ms(5000)) == -1)
		return -1;
	return th_http_status(out);
}

static int
last_port(const char *path)
{
	static const char tag[] = "metrics on http://";
	char line[512];
	int port = -1;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *p = strstr(line, tag), *colon;
		if (p == NULL || (colon = strstr(p, "/metrics")) == NULL)
			continue;
		*colon = '\0';
		if ((colon = strrchr(p, ':')) != NULL)
			port = atoi(colon + 1);
	}
	fclose(fp);
	return port;
}

int
th_metrics_port(struct th_daemon *d, int timeout_ms)
{
	double deadline = th_now_ms() + timeout_ms;
	int port;

	while ((port = last_port(d->log)) <= 0 && th_now_ms() < deadline)
		th_sleep_ms(20);
	return port;
}

long long
th_metric(const char *exposition, const char *series)
{
	size_t n = strlen(series);
	const char *p = exposition;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtoll(p + n + 1, NULL, 10);
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return -1;
}
