/*
 * http.h - a small blocking HTTP/1.x client for the metrics tests, and
 * the metrics endpoint taod reports in its log.
 */
#ifndef TAO_TESTS_HTTP_H
#define TAO_TESTS_HTTP_H

#include <stddef.h>

struct th_daemon;

/*
 * Connect to 127.0.0.1:port, send request as is, read until the server
 * closes (bounded by timeout_ms).  The NUL-terminated response in out;
 * its length, or -1 (connect failed, timed out, or out too small).
 */
int		 th_http(int port, const char *request, char *out,
		    size_t outlen, int timeout_ms);
/* "HTTP/1.1 200 OK..." -> 200; -1 if it is not a status line. */
int		 th_http_status(const char *response);
/* The body after the blank line, or NULL. */
const char	*th_http_body(const char *response);
/* GET /metrics: the status, body in out as th_http. */
int		 th_scrape(int port, char *out, size_t outlen);
/* The port of the newest "metrics on http://HOST:PORT/metrics" line of
 * d's log, waiting up to timeout_ms for one; -1 if none. */
int		 th_metrics_port(struct th_daemon *d, int timeout_ms);
/* The value of the sample "NAME{LABELS} VALUE" (series is "NAME{...}"
 * or a bare NAME) in an exposition; -1 if absent. */
long long	 th_metric(const char *exposition, const char *series);

#endif
