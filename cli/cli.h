/* cli.h: the command table and helpers shared by the command files. Only
 * cli/ prints or exits; each command parses its options, calls a module
 * and turns the module's error into one line. */
#ifndef NI_CLI_H
#define NI_CLI_H

#include "common/err.h"

#include "common/version.h"

struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
	const char *usage; /* printed by `netimg CMD --help` */
};

extern const struct cli_cmd cli_commands[];

/* Prints "netimg: MSG" (the module's one line) and returns exit status 1. */
int cli_fail(const struct ni_err *e);
/* Prints "netimg CMD: fmt..." and returns exit status 2 (usage). */
int cli_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* True when argv holds -h or --help; prints usage then. */
int cli_wants_help(const char *cmd, int argc, char **argv);
const struct cli_cmd *cli_find(const char *name);

int cmd_help(int argc, char **argv);
int cmd_build(int argc, char **argv);
int cmd_patch(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_publish(int argc, char **argv);
int cmd_versions(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_fetch(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_point(int argc, char **argv);
int cmd_rollback(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_refresh(int argc, char **argv);
int cmd_attach(int argc, char **argv);
int cmd_attachments(int argc, char **argv);
int cmd_hot(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_host(int argc, char **argv);
int cmd_ipxe(int argc, char **argv);
int cmd_pxe_config(int argc, char **argv);
int cmd_sync(int argc, char **argv);
int cmd_cache(int argc, char **argv);
int cmd_mount(int argc, char **argv);
int cmd_initrd(int argc, char **argv);
int cmd_agent(int argc, char **argv);

#endif
