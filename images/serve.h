/* serve.h: the embedded HTTP server of a repository's published tree. It
 * serves DIR/public/ and nothing else of DIR (the signing key and the locks
 * live beside public/): GET and HEAD of regular files, one byte range,
 * validators (ETag, Last-Modified) and conditional requests, and one
 * access-log line per request. Each request opens its file once and is
 * answered from that descriptor (read at once when small, else by
 * sendfile), so a channel pointer replaced by rename during a response is
 * served whole, old or new, never mixed. */
#ifndef IMG_SERVE_H
#define IMG_SERVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "common/err.h"

struct img_server;

/* Starts serving repo_dir/public/ on listen ("HOST:PORT" with an IPv4
 * address, or "[IPv6]:PORT"; port 0 picks a free port) from a pool of
 * threads. log, if not NULL, gets one access-log line per request (no
 * newline), from the server's threads, possibly at the same time. Errors:
 * NI_ENOENT (no public/ folder), NI_EUSAGE (bad listen address), NI_EIO or
 * NI_EPERM (cannot listen, e.g. the port is in use). */
int img_serve_start(struct img_server **s, const char *repo_dir,
		    const char *listen,
		    void (*log)(void *user, const char *line), void *user,
		    struct ni_err *e);
/* The port the server listens on (the chosen one when asked for 0). */
int img_serve_port(const struct img_server *s);
/* Stops accepting, ends the connections (their log lines are written)
 * and frees the server. NULL is fine. */
void img_serve_stop(struct img_server *s);
/* Resolves paths by walking them one component at a time with
 * O_NOFOLLOW, as on kernels without openat2(2), where every symlink is
 * refused. For tests of that fallback. */
void img_serve_set_walk_only(struct img_server *s, int on);

/* --- the request logic without I/O (serve_http.c), for tests and fuzzing */

enum img_range {
	IMG_RANGE_WHOLE,     /* no Range, a malformed one, or several ranges */
	IMG_RANGE_PART,      /* one satisfiable range: *off, *len */
	IMG_RANGE_UNSAT,     /* one range that misses the file: 416 */
};

/* Reads a Range header value ("bytes=a-b", "bytes=a-", "bytes=-n")
 * against a file of size bytes. */
enum img_range img_serve_parse_range(const char *h, uint64_t size,
				     uint64_t *off, uint64_t *len);
/* True when an If-None-Match value ("*", or a list of entity tags, weak
 * or strong) matches etag (weak comparison). */
int img_serve_etag_matches(const char *h, const char *etag);

#define IMG_HTTP_DATE_LEN 64
/* Formats t as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"). */
void img_serve_http_date(time_t t, char out[IMG_HTTP_DATE_LEN]);
/* Parses the three HTTP-date forms; returns 0, or -1 when s is not one. */
int img_serve_parse_http_date(const char *s, time_t *t);

/* Turns a decoded URL path into a path relative to public/ without empty
 * or "." components. Returns 0, or -1 when the path must be refused (not
 * absolute, a ".." component, a backslash, longer than cap). */
int img_serve_clean_path(const char *url, char *rel, size_t cap);
const char *img_serve_content_type(const char *rel);
const char *img_serve_cache_control(const char *rel);

/* --- listen addresses (serve_addr.c) */

/* Parses "HOST:PORT" (an IPv4 address) or "[IPv6]:PORT"; returns 0, or -1
 * when s is neither. */
int img_serve_parse_listen(const char *s, struct sockaddr_storage *ss);
int img_serve_addr_port(const struct sockaddr_storage *ss);
/* Binds the address once, as the server will, to say precisely why it
 * cannot listen there ("LISTEN: cannot listen: Address already in use"). */
int img_serve_probe_listen(const struct sockaddr_storage *ss,
			   const char *listen, struct ni_err *e);

/* --- the access log (serve_log.c) */

struct img_log_entry {
	const char *addr, *method, *target, *version, *agent; /* NULL: "-" */
	time_t when;
	unsigned status;     /* 0: unknown (the request was never answered) */
	int64_t bytes;       /* body bytes; < 0: unknown (cut short) */
};

/* Room for every line made of fields as long as the server keeps them. */
#define IMG_LOG_LINE_MAX 8192
/* ADDR - - [TIME] "METHOD TARGET VERSION" STATUS BYTES "-" "AGENT" */
void img_serve_format_log(const struct img_log_entry *le, char *line,
			  size_t cap);

/* --- opening files beneath public/ (serve_path.c) */

/* Opens rel (as img_serve_clean_path returns it) beneath the folder
 * root_fd for reading without following a symlink out of it. Returns the
 * descriptor or -errno (EXDEV or ELOOP for a link that escapes). */
int img_serve_open(int root_fd, const char *rel, int walk_only);

#endif
