/*
 * rundir.h - make sure a run-time file's directory exists.
 */
#ifndef TAO_MASTER_RUNDIR_H
#define TAO_MASTER_RUNDIR_H

/* 0 if the directory of path exists or was created, -1 (logged) if not. */
int	tao__rundir_ensure(const char *path);

#endif
