/*
 * notify.h - tell the service manager how the master is doing, using
 * systemd's NOTIFY_SOCKET datagram protocol (sd_notify(3)) without
 * linking libsystemd.
 *
 * The master calls these at its state changes; under systemd's Type=notify
 * the unit is "started" only after READY=1, so send it once the first
 * generation of workers serves:
 *
 *	tao__notify("READY=1");			workers of a generation serve
 *	tao__notify_reloading();		a reload starts (then READY=1)
 *	tao__notify("STOPPING=1");		a graceful or fast stop starts
 *	tao__notify("STATUS=2 workers, 10 connections");
 *
 * Several assignments may go in one call, separated by '\n'.  When
 * NOTIFY_SOCKET is unset (not started by systemd, or a worker after the
 * master cleared it) the calls do nothing and succeed.
 */
#ifndef TAO_MASTER_NOTIFY_H
#define TAO_MASTER_NOTIFY_H

/*
 * Send `state` as one datagram to $NOTIFY_SOCKET ("/path", or "@name" for
 * the abstract namespace).  Never blocks.  Returns 0 when sent or when there
 * is no NOTIFY_SOCKET, -1 with errno set otherwise: EAFNOSUPPORT for an
 * address that is neither a path nor abstract, EINVAL for a bare "@",
 * ENAMETOOLONG, EAGAIN when the manager's queue is full, or the error of
 * socket(2) or sendto(2).
 */
int	tao__notify(const char *state);

/*
 * "RELOADING=1" with MONOTONIC_USEC=<now>, which systemd 253's
 * Type=notify-reload requires to match the reload to its request; older
 * managers ignore the extra field.  Follow with tao__notify("READY=1") when
 * the new generation serves (or when the reload failed and the old one
 * goes on).  Same return values as tao__notify().
 */
int	tao__notify_reloading(void);

#endif /* TAO_MASTER_NOTIFY_H */
