/* cleanup.h: temporary files to remove if the process is interrupted
 * (SIGINT, SIGTERM, SIGHUP), so Ctrl-C never leaves OUT.tmp.XXXXXX
 * behind. Modules register their temporary names; the CLI installs the
 * handlers once. */
#ifndef NI_CLEANUP_H
#define NI_CLEANUP_H

void ni_cleanup_add(const char *path);
void ni_cleanup_remove(const char *path);
void ni_cleanup_install(void);

#endif
