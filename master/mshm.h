/*
 * mshm.h - the master's side of shared memory: creating the segment and
 * the per-instance eventfds before the first fork, handing instances
 * (islots) to workers and reclaiming them after they exit.
 */
#ifndef TAO_MASTER_MSHM_H
#define TAO_MASTER_MSHM_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

struct tao_master;
struct tao_config;

int	tao__mshm_create(struct tao_master *);
void	tao__mshm_destroy(struct tao_master *);
void	tao__mshm_islot_prepare(struct tao_master *, int islot, int slot,
	    uint32_t gen);
void	tao__mshm_islot_started(struct tao_master *, int islot, pid_t pid);
void	tao__mshm_islot_reclaim(struct tao_master *, int islot, int slot);
/* A reload cannot resize the segment: refuse what would need it. */
int	tao__mshm_check_reload(struct tao_master *, const struct tao_config *,
	    char *err, size_t errlen);

#endif
