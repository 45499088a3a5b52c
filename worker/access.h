/*
 * access.h - a listener's allow/deny rules and max_connections_per_ip,
 * applied to a connection's real peer (after its PROXY header, if any).
 */
#ifndef TAO_WORKER_ACCESS_H
#define TAO_WORKER_ACCESS_H

struct tao_conn;

/* 0: serve it (holding a per-address unit when the limit is on); -1:
 * refused, counted (denied or refused) and logged at most once a second;
 * the caller closes it.  A connection handed over in a reload is not
 * judged again: it only takes its unit, even over the limit. */
int	tao__access_admit(struct tao_conn *);
/* Give back the per-address unit, if it holds one (every close path). */
void	tao__access_release(struct tao_conn *);

#endif
