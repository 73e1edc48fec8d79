/* table.c: the command table, and the small helpers commands share. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

const struct cli_cmd cli_commands[] = {
	{ "build", cmd_build, "build a squashfs image from a recipe",
	  "usage: netimg build RECIPE [-o OUT.sqfs] [--json] [--quiet]\n"
	  "\n"
	  "Builds the image the recipe describes: the base root filesystem with\n"
	  "every approved patch of the catalog slipstreamed in. Writes OUT.sqfs\n"
	  "(default out/NAME-VERSION.sqfs beside the recipe) and its build\n"
	  "record OUT.json. --json prints the build record on stdout.\n" },
	{ "patch", cmd_patch, "manage the patch catalog (add, approve, decline, list)",
	  "usage: netimg patch add --catalog DIR FILE --id ID --severity S\n"
	  "                        [--title T] [--supersedes ID,...]\n"
	  "       netimg patch approve --catalog DIR ID --by NAME\n"
	  "       netimg patch decline --catalog DIR ID --by NAME --reason TEXT\n"
	  "       netimg patch list --catalog DIR [--json]\n"
	  "\n"
	  "Severities: critical, important, moderate, low.\n" },
	{ "inspect", cmd_inspect, "show how an image is cut into repository chunks",
	  "usage: netimg inspect IMAGE.sqfs [--chunks | --files]\n"
	  "\n"
	  "Reads the image's squashfs layout back (each file's data blocks, the\n"
	  "fragment blocks, the metadata tables) and shows the chunks the\n"
	  "repository stores it as: counts and bytes per kind, or with --chunks\n"
	  "one line per chunk: OFFSET LENGTH KIND SHA256.\n"
	  "\n"
	  "--files prints one line per regular file, in path order:\n"
	  "SIZE DATA TAIL SHARE FRAGMENT INODE PATH: its size, the on-disk\n"
	  "bytes of its data blocks, the bytes of its tail in a fragment block,\n"
	  "the tail's share of that block's on-disk bytes (by the uncompressed\n"
	  "bytes the block's tails use), the block's offset in the image (the\n"
	  "OFFSET of its chunk, or - for no tail), and its inode number (hard\n"
	  "links share it).\n" },
	{ "serve", cmd_serve, "serve a repository's public/ folder over HTTP",
	  "usage: netimg serve --repo DIR [--listen HOST:PORT]\n"
	  "\n"
	  "Serves DIR/public/ (and nothing else of DIR) over HTTP until SIGINT\n"
	  "or SIGTERM: GET and HEAD of files, byte ranges, ETag and\n"
	  "Last-Modified validators. HOST:PORT is an IPv4 address and port, or\n"
	  "[IPv6]:PORT (default 127.0.0.1:8080; port 0 picks a free one).\n"
	  "Prints the address on stdout, then one access-log line per request\n"
	  "on stderr.\n" },
	{ "keygen", cmd_keygen, "create the repository's Ed25519 signing key",
	  "usage: netimg keygen --repo DIR [--force]\n"
	  "\n"
	  "Creates the repository's signing key in DIR/private/repo.key (PEM\n"
	  "PKCS#8, mode 0600; DIR/private/ is made mode 0700 if missing) and the\n"
	  "public key clients are given, DIR/repo.pub (PEM, as `openssl pkey\n"
	  "-pubout` writes it), and prints the key's fingerprint: the SHA-256 of\n"
	  "its DER SubjectPublicKeyInfo. DIR must exist. An existing key is kept\n"
	  "unless --force; replacing it means every client needs the new\n"
	  "repo.pub.\n" },
	{ "init", cmd_init, "make an empty image repository",
	  "usage: netimg init --repo DIR\n"
	  "\n"
	  "Makes DIR/public/ (the published tree any web server, mirror or\n"
	  "proxy carries) and DIR/private/ (mode 0700: the signing key and the\n"
	  "publishers' lock, never served). Then run netimg keygen --repo DIR.\n" },
	{ "publish", cmd_publish, "add an image to a repository as a new version",
	  "usage: netimg publish --repo DIR IMAGE.sqfs [--name NAME --version VERSION]\n"
	  "\n"
	  "Adds the image as NAME@VERSION (from the build record IMAGE.json\n"
	  "beside it, or --name/--version): its layout chunks that the\n"
	  "repository lacks go into a new pack; a chunk index, a location file\n"
	  "and a manifest signed with DIR/private/repo.key describe it. Prints\n"
	  "how many bytes were new to the repository. A version never changes:\n"
	  "publishing it again with another image is refused.\n" },
	{ "versions", cmd_versions, "list a repository's versions (each manifest verified)",
	  "usage: netimg versions --repo DIR|URL[,URL...] [--key PUB] [--config FILE] [NAME]\n"
	  "\n"
	  "Lists every published version (or NAME's), with its size, when it\n"
	  "was published and how many patches went in. Each manifest's signature\n"
	  "is checked with PUB (for a folder, DIR/repo.pub by default; for a\n"
	  "URL, --key is required: no key is ever taken from the server).\n"
	  "\n"
	  "Client options (every command that reads a repository): --repo, --key,\n"
	  "--state DIR (default /var/lib/netimg) and --config FILE (default\n"
	  "$NETIMG_CONFIG, else /etc/netimg/client.conf if present), whose\n"
	  "[client] section may set repo, key and state.\n" },
	{ "show", cmd_show, "show what went into a version",
	  "usage: netimg show --repo DIR|URL[,URL...] [--key PUB] [--state DIR] [--json]\n"
	  "                   NAME@VERSION|CHANNEL\n"
	  "\n"
	  "Prints the version's verified manifest: the image's size and SHA-256,\n"
	  "the base, every patch with its severity and approval, the patches\n"
	  "left out and why, and the boot settings. --json prints it whole.\n"
	  "A CHANNEL shows the version its verified pointer names.\n" },
	{ "fetch", cmd_fetch, "download, verify and reassemble a version's image",
	  "usage: netimg fetch --repo DIR|URL[,URL...] [--key PUB] [--state DIR]\n"
	  "                    [--config FILE] CHANNEL|NAME@VERSION -o FILE.sqfs\n"
	  "\n"
	  "Several URLs are mirrors, tried in order with failover; a mirror found\n"
	  "down is skipped for the rest of the fetch. The manifest's signature,\n"
	  "the chunk index's hash and every chunk's hash (the chunks cover the\n"
	  "image exactly) are checked before FILE is renamed into place; nothing\n"
	  "unverified is kept. Chunks are read as ranges of the repository's packs,\n"
	  "neighbours coalesced into requests of up to 8 MiB, written where they\n"
	  "belong as they arrive and hashed on other threads meanwhile. The summary\n"
	  "counts the HTTP requests made, failed ones included.\n"
	  "\n"
	  "A CHANNEL is resolved through its signed pointer, which is refused\n"
	  "when it has expired, names another channel, or has a serial lower than\n"
	  "the highest this client has seen for the repository's key and that\n"
	  "channel (kept in the state folder: a mirror replaying an old pointer).\n"
	  "The manifest fetched must be the one the pointer names.\n"
	  "\n"
	  "Client options (every command that reads a repository): --repo, --key,\n"
	  "--state DIR (default /var/lib/netimg) and --config FILE (default\n"
	  "$NETIMG_CONFIG, else /etc/netimg/client.conf if present), whose\n"
	  "[client] section may set repo, key and state.\n" },
	{ "verify", cmd_verify, "check a repository's signatures and every chunk",
	  "usage: netimg verify --repo DIR|URL[,URL...] [--key PUB] [--state DIR]\n"
	  "                     [NAME@VERSION|CHANNEL...]\n"
	  "\n"
	  "Checks the named versions (default: every published one): manifest\n"
	  "signature, chunk index hash, every chunk, and every attachment (its\n"
	  "record's signature, the manifest hash it names, the blob's size and\n"
	  "hash); one line per version, and\n"
	  "one line saying what is wrong for each that fails (exit 1).\n" },
	{ "point", cmd_point, "roll a channel out to a version",
	  "usage: netimg point --repo DIR CHANNEL NAME@VERSION [--expires TIME] [--by WHO]\n"
	  "\n"
	  "Writes the channel's signed pointer, DIR/public/channels/CHANNEL.json:\n"
	  "the version, its manifest's hash, a serial one higher than before,\n"
	  "the time, who (--by, default $USER), an expiry (default 7 days) and\n"
	  "the history of earlier pointers. One small atomic write. TIME is\n"
	  "seconds or 90m, 12h, 7d, 2w; clients refuse an expired pointer, so a\n"
	  "timer must run netimg refresh before it runs out.\n" },
	{ "rollback", cmd_rollback, "point a channel back at an earlier version",
	  "usage: netimg rollback --repo DIR CHANNEL [--to NAME@VERSION] [--expires TIME] [--by WHO]\n"
	  "\n"
	  "A new pointer, with a higher serial, to the version before the\n"
	  "current one in the channel's history, or to --to.\n" },
	{ "history", cmd_history, "show a channel's pointer and its history",
	  "usage: netimg history --repo DIR|URL[,URL...] [--key PUB] [--config FILE] CHANNEL\n"
	  "\n"
	  "Verifies the channel's signed pointer and prints it (marked *) and\n"
	  "the earlier pointers, newest first, then when the pointer expires (or\n"
	  "expired). History is for people: it applies no replay check.\n" },
	{ "refresh", cmd_refresh, "re-sign channel pointers with a new expiry (for a timer)",
	  "usage: netimg refresh --repo DIR [--expires TIME] [CHANNEL...]\n"
	  "\n"
	  "Re-signs the named channels' pointers (default: every channel in\n"
	  "DIR/public/channels/) with a new expiry, --expires from now (seconds\n"
	  "or 90m, 12h, 7d, 2w; default 7 days). Nothing else changes: the version, its manifest's\n"
	  "hash, the serial, time, who and history stay; a \"refreshed\" time is\n"
	  "set. Clients refuse only lower serials, so they accept it. Takes the\n"
	  "publishers' lock. Run it from a timer well within the expiry (see\n"
	  "the operator guide), or clients stop at the expiry.\n" },
	{ "host", cmd_host, "the inventory of netbooting machines (add, list, remove, move)",
	  "usage: netimg host add --repo DIR MAC --name NAME --channel CHANNEL\n"
	  "       netimg host list --repo DIR [--json]\n"
	  "       netimg host remove --repo DIR MAC|NAME\n"
	  "       netimg host move --repo DIR MAC|NAME --channel CHANNEL\n"
	  "\n"
	  "Which channel each machine (by the MAC address it boots from) netboots.\n"
	  "The inventory is kept in DIR/private/hosts.json, never served; once\n"
	  "netimg ipxe has set netboot up, each change rewrites the host's script\n"
	  "in DIR/public/ipxe/hosts/.\n" },
	{ "ipxe", cmd_ipxe, "write the iPXE scripts machines netboot with",
	  "usage: netimg ipxe --repo DIR [--url URL[,URL...]] [--default CHANNEL | --no-default]\n"
	  "\n"
	  "Writes DIR/public/boot.ipxe, which every machine fetches first and\n"
	  "which chains by MAC (${net0/mac}) to ipxe/hosts/MAC.ipxe, and from\n"
	  "there to ipxe/channels/CHANNEL.ipxe: the kernel, initramfs and command\n"
	  "line of the version the channel points at. Unknown machines boot\n"
	  "--default CHANNEL, or (--no-default, the first time's default) are\n"
	  "told so and retry every minute. Scripts use relative URLs only, so a\n"
	  "mirror serves them as they are; --url is the list of repository URLs\n"
	  "the initramfs fetches the image from (netimg.repo=). The settings are\n"
	  "kept in DIR/private/netboot.json: later runs may leave them out, and\n"
	  "netimg point and rollback rewrite the channel's script after the\n"
	  "pointer.\n" },
	{ "initrd", cmd_initrd, "rebuild a version's netboot initramfs as an attachment",
	  "usage: netimg initrd --repo DIR NAME@VERSION [--by WHO]\n"
	  "\n"
	  "Rebuilds the netboot initramfs of a version published with boot files:\n"
	  "the current netimg-init, the repository's current key (DIR/repo.pub),\n"
	  "the channels' current serials as the replay floor, and the kernel\n"
	  "modules of the initramfs publish made. It becomes the version's\n"
	  "\"initrd\" attachment (the manifest never changes), and the channel\n"
	  "scripts load it from then on.\n" },
	{ "pxe-config", cmd_pxe_config, "print a dnsmasq proxy-DHCP/TFTP configuration for PXE",
	  "usage: netimg pxe-config --url URL [--interface IF] [--subnet NET] [--tftp-root DIR]\n"
	  "\n"
	  "Prints a dnsmasq configuration: proxy DHCP beside the network's own\n"
	  "DHCP server, and TFTP, so that PXE firmware chainloads Debian's iPXE\n"
	  "(package ipxe: undionly.kpxe for BIOS, snponly.efi for UEFI, from\n"
	  "/usr/lib/ipxe or --tftp-root) and iPXE fetches URL/boot.ipxe. The\n"
	  "network's address is --subnet, else the IPv4 network of --interface.\n" },
	{ "attach", cmd_attach, "attach a file to a published version (initramfs, hot set)",
	  "usage: netimg attach --repo DIR NAME@VERSION KIND FILE [--by WHO]\n"
	  "\n"
	  "A version's manifest never changes; what is added later is an\n"
	  "attachment: FILE is stored content-named as DIR/public/blobs/SHA256,\n"
	  "and a record signed with the repository key,\n"
	  "DIR/public/attachments/NAME/VERSION/KIND.json, names the version's\n"
	  "manifest hash and the blob's SHA-256 and size. KIND is 1-32 of a-z 0-9\n"
	  "- (initrd, hot). Attaching a KIND again replaces the record (the\n"
	  "manifest never changes; netimg gc removes the old blob). Takes the\n"
	  "publishers' lock.\n" },
	{ "attachments", cmd_attachments, "list a version's attachments, verified, or fetch one",
	  "usage: netimg attachments --repo DIR|URL[,URL...] [--key PUB] [--state DIR]\n"
	  "                          CHANNEL|NAME@VERSION [KIND -o FILE]\n"
	  "\n"
	  "Lists the version's attachments, each verified: the record's\n"
	  "signature, that it names this version's verified manifest, and the\n"
	  "blob's size and SHA-256. With KIND -o FILE, writes that attachment's\n"
	  "verified bytes to FILE (temporary name, fsync, rename).\n" },
	{ "hot", cmd_hot, "attach a version's hot list: the files it reads first",
	  "usage: netimg hot --repo DIR NAME@VERSION FILE [--by WHO]\n"
	  "\n"
	  "FILE is a list of the files a version touches first, one absolute\n"
	  "path inside the image per line, in order: what 'netimg mount\n"
	  "--record FILE' writes during a boot or a first use. Every line must\n"
	  "be a regular file of NAME@VERSION's image (read from the\n"
	  "repository's packs), else the command fails naming FILE:LINE and\n"
	  "changes nothing. The list is then attached to the version as its\n"
	  "'hot' attachment (as 'netimg attach' does: a content-named blob and\n"
	  "a signed record naming the version's manifest; running it again\n"
	  "replaces the list). Clients fetch those files first: 'netimg sync'\n"
	  "and the agent before the rest of the version, and a mount of a\n"
	  "version the cache does not hold whole in the background.\n" },
	{ "sync", cmd_sync, "make a version fully available offline in the local cache",
	  "usage: netimg sync --repo DIR|URL[,URL...] [--key PUB] CHANNEL|NAME@VERSION\n"
	  "                   [--cache DIR] [--cache-size BYTES] [--state DIR]\n"
	  "                   [--config FILE] [--json] [--quiet] [--verbose]\n"
	  "\n"
	  "A channel is resolved through its verified pointer (expiry and replay\n"
	  "checked against the state folder). Fetches the chunks of the version\n"
	  "that the cache (default\n"
	  "/var/cache/netimg) lacks, as coalesced ranges of the repository's\n"
	  "packs, each checked against the signed chunk index; re-hashes the ones\n"
	  "it has. When the version has a hot list (see 'netimg hot'), the\n"
	  "chunks of the metadata tables and of its files come first, in the\n"
	  "list's order; a hot attachment that fails its checks is ignored with\n"
	  "one line on stderr. --verbose prints each chunk fetched on stderr\n"
	  "('fetched image bytes OFFSET +LENGTH'), in the order it arrived. Then pins the version, keeps the version of NAME pinned before\n"
	  "it pinned (for rollback) and unpins older ones. Refused, with nothing\n"
	  "changed, when the pinned versions would exceed the quota. Shows a\n"
	  "progress bar on a terminal and prints the bytes fetched against those\n"
	  "already cached. --cache-size (K, M, G, T suffixes) sets the cache's\n"
	  "quota and keeps it for later commands.\n" },
	{ "agent", cmd_agent, "keep the local cache on a channel's version (a laptop's service)",
	  "usage: netimg agent [--repo DIR|URL[,URL...]] [--key PUB] [--state DIR]\n"
	  "                    [--config FILE] [--cache DIR] [--cache-size BYTES]\n"
	  "                    [--interval DURATION] [--jitter DURATION]\n"
	  "                    [--bandwidth RATE] [--once] [CHANNEL]\n"
	  "\n"
	  "Polls the channel's signed pointer (CHANNEL, default the channel of\n"
	  "the configuration file's [client] section) every --interval (default\n"
	  "300s) plus a random delay of up to --jitter (default 60s), with\n"
	  "conditional requests (a 304 costs no body). The pointer is checked as\n"
	  "sync checks it (signature, channel, expiry, replay against the state\n"
	  "folder); an expired or replayed one is refused and the version the\n"
	  "cache holds is kept. When it names a version the cache does not hold\n"
	  "for the channel, syncs it in the background at --bandwidth (bytes a\n"
	  "second: 500K, 10M; default unlimited), pins it and records it as the\n"
	  "channel's: the next mount or boot takes it, never a running mount.\n"
	  "Network errors are logged and retried at the next poll. One line per\n"
	  "event on stderr, each with a UTC timestamp. SIGTERM or SIGINT stop it\n"
	  "at once (a sync under way resumes at the next start). --once polls\n"
	  "(and syncs) once and exits: 0 when all went well, 1 otherwise.\n"
	  "Defaults also come from the [agent] section of the configuration\n"
	  "file (interval, jitter, bandwidth).\n" },
	{ "cache", cmd_cache, "show, check, evict and pin the local cache",
	  "usage: netimg cache status [--cache DIR] [--json]\n"
	  "       netimg cache verify [--cache DIR] [--key PUB] [--json]\n"
	  "       netimg cache evict [--cache DIR] [--size BYTES] [--json]\n"
	  "       netimg cache pin|unpin [--cache DIR] NAME@VERSION\n"
	  "       netimg cache read [--cache DIR] [--repo DIR|URL[,URL...]] [--key PUB]\n"
	  "                         NAME@VERSION [-o FILE] [--offset N] [--length N]\n"
	  "                         [--wait SECS] [--threads N] [--block BYTES]\n"
	  "                         [--memory BYTES] [--prefetch]\n"
	  "\n"
	  "status: the quota, what is used, and per cached version how much of it\n"
	  "is cached, whether it is pinned, its chunk hit rate and bytes fetched.\n"
	  "verify: re-hashes every chunk and checks every version's metadata (its\n"
	  "signature too with --key); removes whatever is bad.\n"
	  "evict: removes least recently used chunks of unpinned versions down to\n"
	  "the quota, or to --size.\n"
	  "pin, unpin: a pinned version is never evicted; pin is refused when the\n"
	  "pinned versions would exceed the quota.\n"
	  "read: reads the version's image through the cache as a mount does\n"
	  "(missing chunks fetched from --repo, at most --wait, default 10s, per\n"
	  "read), with --threads readers at once, into -o FILE when given (the\n"
	  "whole image is then checked against the manifest's hash). --prefetch\n"
	  "first fetches the range's missing chunks in the background, and waits.\n"
	  "--memory bounds the verified chunks kept in memory (default 8 MiB).\n"
	  "--cache-size sets the cache's quota and keeps it.\n" },
	{ "mount", cmd_mount, "mount a version (or an image file) read-only through FUSE",
	  "usage: netimg mount [--repo URL[,URL...] --key PUB] [--cache DIR] [--cache-size N]\n"
	  "                    [--wait TIME] [--state DIR] [--config FILE]\n"
	  "                    CHANNEL|NAME@VERSION MOUNTPOINT [options]\n"
	  "       netimg mount --image FILE.sqfs MOUNTPOINT [options]\n"
	  "options: [--foreground] [--allow-other] [--record FILE [--record-interval S]]\n"
	  "         [--threads N]\n"
	  "\n"
	  "A version is read through the local chunk cache (--cache, default\n"
	  "/var/cache/netimg): chunks the cache holds are served from it, the\n"
	  "others are fetched from the mirrors when first read, each verified\n"
	  "against the signed index before use and kept. A CHANNEL mounts the\n"
	  "version the cache holds for it (the last `netimg sync` or the agent's)\n"
	  "without any request; only when it holds none is the channel's pointer\n"
	  "fetched and verified. A fully cached version works offline; a read that\n"
	  "needs the network fails with EIO after --wait (default 10s), never hangs.\n"
	  "\n"
	  "Mounts the image read-only on MOUNTPOINT (libfuse3, many threads)\n"
	  "and detaches once the mount answers; --foreground stays attached\n"
	  "(SIGINT or SIGTERM unmounts). 'fusermount3 -u MOUNTPOINT' unmounts.\n"
	  "Files, folders, links, devices, owners, modes, times and xattrs are\n"
	  "the image's; the kernel checks permissions against its modes.\n"
	  "--allow-other lets other users in (root, or user_allow_other in\n"
	  "/etc/fuse.conf). --record FILE writes the paths of the files read, in\n"
	  "the order of their first open, one per line (every S seconds, default\n"
	  "30, and at unmount). --threads N: at most N requests served at once (default 16).\n" },
	{ "gc", cmd_gc, "remove versions no channel needs, and their storage",
	  "usage: netimg gc --repo DIR [--keep N] [--dry-run]\n"
	  "\n"
	  "Kept: every version a channel points at, or pointed at within its\n"
	  "last N history entries (default 3), and every version published\n"
	  "after the newest pointer write of any channel (not rolled out yet;\n"
	  "a repository without channels keeps everything). Other versions are\n"
	  "removed: manifest, location file, chunk index, attachments. Packs\n"
	  "with no live chunk are removed; a pack less than half live is\n"
	  "rewritten with its live chunks only; blobs no kept attachment names\n"
	  "are removed. Every step keeps each kept version fetchable, even if\n"
	  "gc is interrupted. Takes the publishers' lock. Prints what it\n"
	  "removed and the bytes freed; --dry-run only says what it would do.\n" },
	{ "help", cmd_help, "list commands, or show one command's usage",
	  "usage: netimg help [COMMAND]\n" },
	{ NULL, NULL, NULL, NULL },
};

const struct cli_cmd *cli_find(const char *name)
{
	const struct cli_cmd *c;

	for (c = cli_commands; c->name != NULL; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

int cli_fail(const struct ni_err *e)
{
	if (e->msg[0] != '\0')
		fprintf(stderr, "netimg: %s\n", e->msg);
	else
		fprintf(stderr, "netimg: %s\n", ni_strerror(e->code));
	return 1;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "netimg %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'netimg %s --help')\n", cmd);
	return 2;
}

int cli_wants_help(const char *cmd, int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(cli_find(cmd)->usage, stdout);
			return 1;
		}
	}
	return 0;
}

int cmd_help(int argc, char **argv)
{
	const struct cli_cmd *c;

	if (argc >= 2) {
		c = cli_find(argv[1]);
		if (c == NULL) {
			fprintf(stderr, "netimg help: no command '%s'\n", argv[1]);
			return 2;
		}
		fputs(c->usage, stdout);
		return 0;
	}
	printf("netimg %s: build, publish and run versioned OS images\n\n"
	       "usage: netimg COMMAND [OPTIONS]\n\ncommands:\n",
	       NETIMG_VERSION);
	for (c = cli_commands; c->name != NULL; c++)
		printf("  %-12s %s\n", c->name, c->summary);
	printf("\n'netimg COMMAND --help' shows a command's options.\n");
	return 0;
}
