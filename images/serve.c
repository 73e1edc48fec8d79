/* serve.c: the server itself: libmicrohttpd's thread pool, the request
 * handler (path checks, validators, ranges, zero-copy file responses) and
 * the access log, written when libmicrohttpd says a request is done. The
 * header logic lives in serve_http.c, the safe open in serve_path.c, the
 * listen address in serve_addr.c, the log line's format in serve_log.c. */
#include "images/serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* Idle seconds before a connection is dropped. */
#define CONN_TIMEOUT 30u
/* Upper bound on connections; fewer when the descriptor limit is low
 * (each connection holds a socket and, while answering, a file). */
#define CONN_MAX 4096u
/* How much of the request target and User-Agent the log line keeps. */
#define LOG_URI_MAX 1024
#define LOG_UA_MAX 256
/* Bodies up to this size are read into memory and sent with the headers
 * in one write; larger ones go by sendfile after them. */
#define SMALL_BODY (16u << 10)
/* libmicrohttpd's buffer per connection (request headers, response
 * headers): it is cleared for every request, so smaller is faster; 16 KiB
 * still takes request headers of 8 KiB, as nginx does by default. */
#define CONN_MEMORY (16u << 10)

struct img_server {
	struct MHD_Daemon *d;
	int root;                /* public/, every path is opened beneath it */
	int port;
	int walk_only;           /* atomic: img_serve_set_walk_only */
	void (*log)(void *user, const char *line);
	void *user;
	pthread_mutex_t mu;      /* guards mhd_msg */
	char mhd_msg[256];       /* libmicrohttpd's last complaint, for start */
};

/* One request, from its request line to its log line. */
struct req {
	int seen;                /* the handler has run once */
	int head;
	int nul;                 /* the raw path held %00 */
	unsigned status;
	uint64_t bytes;          /* body bytes of the queued response */
	time_t when;
	char addr[INET6_ADDRSTRLEN];
	char method[16];
	char version[16];
	char uri[LOG_URI_MAX + 4];
	char ua[LOG_UA_MAX + 4];
};

/* --- responses ------------------------------------------------------- */

static const char *status_text(unsigned status)
{
	switch (status) {
	case MHD_HTTP_BAD_REQUEST: return "400 Bad Request\n";
	case MHD_HTTP_FORBIDDEN: return "403 Forbidden\n";
	case MHD_HTTP_NOT_FOUND: return "404 Not Found\n";
	case MHD_HTTP_METHOD_NOT_ALLOWED: return "405 Method Not Allowed\n";
	case MHD_HTTP_RANGE_NOT_SATISFIABLE: return "416 Range Not Satisfiable\n";
	case MHD_HTTP_SERVICE_UNAVAILABLE: return "503 Service Unavailable\n";
	default: return "500 Internal Server Error\n";
	}
}

/* Queues resp (and drops our reference); MHD_NO makes libmicrohttpd
 * close the connection, which is all that is left to do without memory. */
static enum MHD_Result queue(struct MHD_Connection *c, struct req *r,
			     unsigned status, struct MHD_Response *resp,
			     uint64_t body)
{
	enum MHD_Result ret;

	if (resp == NULL)
		return MHD_NO;
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	if (r != NULL) {
		r->status = status;
		r->bytes = r->head || status == MHD_HTTP_NOT_MODIFIED ? 0 : body;
	}
	return ret;
}

static struct MHD_Response *error_response(unsigned status, size_t *len)
{
	const char *body = status_text(status);
	struct MHD_Response *resp;

	*len = strlen(body);
	resp = MHD_create_response_from_buffer(*len, (void *)body,
					       MHD_RESPMEM_PERSISTENT);
	if (resp != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					"text/plain");
	return resp;
}

static enum MHD_Result reply_error(struct MHD_Connection *c, struct req *r,
				   unsigned status)
{
	struct MHD_Response *resp;
	size_t len;

	resp = error_response(status, &len);
	if (resp != NULL && status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	return queue(c, r, status, resp, len);
}

static enum MHD_Result reply_unsatisfiable(struct MHD_Connection *c,
					   struct req *r, uint64_t size)
{
	struct MHD_Response *resp;
	char cr[64];
	size_t len;

	resp = error_response(MHD_HTTP_RANGE_NOT_SATISFIABLE, &len);
	if (resp != NULL) {
		snprintf(cr, sizeof(cr), "bytes */%" PRIu64, size);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES,
					"bytes");
	}
	return queue(c, r, MHD_HTTP_RANGE_NOT_SATISFIABLE, resp, len);
}

static unsigned status_of_errno(int err)
{
	switch (err) {
	case ENOENT: case ENOTDIR: case ELOOP: case EXDEV: case ENAMETOOLONG:
		return MHD_HTTP_NOT_FOUND;  /* escapes look like missing files */
	case EACCES: case EPERM:
		return MHD_HTTP_FORBIDDEN;
	case EMFILE: case ENFILE: case ENOMEM:
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	default:
		return MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
}

/* --- files ----------------------------------------------------------- */

struct validators {
	char etag[80];
	char modified[IMG_HTTP_DATE_LEN];
	time_t mtime;
};

static void make_validators(const struct stat *st, struct validators *v)
{
	uint64_t ns = (uint64_t)st->st_mtim.tv_sec * 1000000000u +
		      (uint64_t)st->st_mtim.tv_nsec;

	snprintf(v->etag, sizeof(v->etag), "\"%" PRIx64 "-%" PRIx64 "-%" PRIx64
		 "\"", (uint64_t)st->st_ino, (uint64_t)st->st_size, ns);
	v->mtime = st->st_mtim.tv_sec;
	img_serve_http_date(v->mtime, v->modified);
}

static const char *header(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* If-None-Match decides when present; If-Modified-Since only without it
 * (RFC 7232 section 6). */
static int not_modified(struct MHD_Connection *c, const struct validators *v)
{
	const char *inm = header(c, MHD_HTTP_HEADER_IF_NONE_MATCH);
	const char *ims = header(c, MHD_HTTP_HEADER_IF_MODIFIED_SINCE);
	time_t t;

	if (inm != NULL)
		return img_serve_etag_matches(inm, v->etag);
	return ims != NULL && img_serve_parse_http_date(ims, &t) == 0 &&
	       v->mtime <= t;
}

/* A Range applies unless If-Range names another version of the file. */
static enum img_range range_of(struct MHD_Connection *c,
			       const struct validators *v, uint64_t size,
			       uint64_t *off, uint64_t *len)
{
	const char *ir = header(c, MHD_HTTP_HEADER_IF_RANGE);
	time_t t;

	if (ir != NULL) {
		if (ir[0] == '"' || ir[0] == 'W') {
			if (strcmp(ir, v->etag) != 0)
				return IMG_RANGE_WHOLE;
		} else if (img_serve_parse_http_date(ir, &t) != 0 ||
			   t != v->mtime) {
			return IMG_RANGE_WHOLE;
		}
	}
	return img_serve_parse_range(header(c, MHD_HTTP_HEADER_RANGE), size,
				     off, len);
}

static void add_file_headers(struct MHD_Response *resp, const char *rel,
			     const struct validators *v, unsigned status)
{
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, v->etag);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_LAST_MODIFIED,
				v->modified);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				img_serve_cache_control(rel));
	if (status == MHD_HTTP_NOT_MODIFIED)
		return;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				img_serve_content_type(rel));
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
}

/* A small body is read at once and sent with the headers in one write;
 * a larger one goes from the file to the socket (sendfile). */
static struct MHD_Response *small_response(int fd, uint64_t off, uint64_t len)
{
	uint8_t *buf = malloc((size_t)len);
	size_t got = 0;
	ssize_t n;

	while (buf != NULL && got < len) {
		n = pread(fd, buf + got, (size_t)len - got, (off_t)(off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (buf == NULL || got != len) {
		free(buf);
		return NULL;
	}
	return MHD_create_response_from_buffer((size_t)len, buf,
					       MHD_RESPMEM_MUST_FREE);
}

/* Answers from fd, which it owns. A 304 is built on the whole file too, so
 * its Content-Length is the one a 200 would carry (RFC 7230 3.3.2); no
 * body is sent for it or for HEAD. */
static enum MHD_Result reply_file(struct MHD_Connection *c, struct req *r,
				  const char *rel, int fd,
				  const struct stat *st)
{
	uint64_t size = (uint64_t)st->st_size, off = 0, len = size;
	unsigned status = MHD_HTTP_OK;
	struct MHD_Response *resp;
	struct validators v;
	char cr[80];

	make_validators(st, &v);
	if (not_modified(c, &v)) {
		status = MHD_HTTP_NOT_MODIFIED;
	} else {
		switch (range_of(c, &v, size, &off, &len)) {
		case IMG_RANGE_PART:
			status = MHD_HTTP_PARTIAL_CONTENT;
			break;
		case IMG_RANGE_UNSAT:
			close(fd);
			return reply_unsatisfiable(c, r, size);
		case IMG_RANGE_WHOLE:
			break;
		}
	}
	if (len == 0) {
		close(fd);
		resp = MHD_create_response_from_buffer(0, NULL,
						       MHD_RESPMEM_PERSISTENT);
	} else if (len <= SMALL_BODY) {
		resp = small_response(fd, off, len);
	} else {
		resp = MHD_create_response_from_fd_at_offset64(len, fd, off);
		if (resp == NULL)
			close(fd);
	}
	if (resp == NULL)
		return reply_error(c, r, MHD_HTTP_SERVICE_UNAVAILABLE);
	add_file_headers(resp, rel, &v, status);
	if (status == MHD_HTTP_PARTIAL_CONTENT) {
		snprintf(cr, sizeof(cr), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64,
			 off, off + len - 1, size);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
	}
	return queue(c, r, status, resp, len);
}

static enum MHD_Result serve(struct img_server *s, struct MHD_Connection *c,
			     struct req *r, const char *url)
{
	char rel[PATH_MAX];
	struct stat st;
	size_t n = strlen(url);
	int fd;

	if (r->nul || img_serve_clean_path(url, rel, sizeof(rel)) != 0)
		return reply_error(c, r, MHD_HTTP_BAD_REQUEST);
	/* no listings: a path naming a folder is not found */
	if (rel[0] == '\0' || url[n - 1] == '/')
		return reply_error(c, r, MHD_HTTP_NOT_FOUND);
	fd = img_serve_open(s->root, rel,
			    __atomic_load_n(&s->walk_only, __ATOMIC_RELAXED));
	if (fd < 0)
		return reply_error(c, r, status_of_errno(-fd));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return reply_error(c, r, MHD_HTTP_NOT_FOUND);
	}
	return reply_file(c, r, rel, fd, &st);
}

/* --- libmicrohttpd callbacks ----------------------------------------- */

static void copy_bounded(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n >= cap - 4) {
		memcpy(dst, src, cap - 4);
		memcpy(dst + cap - 4, "...", 4);
	} else {
		memcpy(dst, src, n + 1);
	}
}

/* libmicrohttpd hands the handler a decoded path cut at the first NUL;
 * only the raw target shows a %00 in the path. */
static int raw_path_has_nul(const char *uri)
{
	const char *q = strchr(uri, '?'), *p;
	size_t n = q != NULL ? (size_t)(q - uri) : strlen(uri);

	for (p = uri; (p = memchr(p, '%', n - (size_t)(p - uri))) != NULL; p++)
		if (p + 2 < uri + n && p[1] == '0' && p[2] == '0')
			return 1;
	return 0;
}

static void client_addr(struct MHD_Connection *c, char *out, size_t cap)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	snprintf(out, cap, "-");
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || (sa = ci->client_addr) == NULL)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
			  out, (socklen_t)cap);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
			  out, (socklen_t)cap);
}

/* Called once per request, at its request line: the request's context. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct req *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->when = time(NULL);
	copy_bounded(r->uri, sizeof(r->uri), uri);
	r->nul = raw_path_has_nul(uri);
	client_addr(c, r->addr, sizeof(r->addr));
	return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **ctx)
{
	struct req *r = *ctx;
	const char *ua;

	if (r == NULL)
		return reply_error(c, NULL, MHD_HTTP_SERVICE_UNAVAILABLE);
	if (!r->seen) {
		r->seen = 1;
		copy_bounded(r->method, sizeof(r->method), method);
		copy_bounded(r->version, sizeof(r->version), version);
		ua = header(c, MHD_HTTP_HEADER_USER_AGENT);
		copy_bounded(r->ua, sizeof(r->ua), ua != NULL ? ua : "-");
		r->head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
		/* answered before any body is read; the connection closes */
		if (!r->head && strcmp(method, MHD_HTTP_METHOD_GET) != 0)
			return reply_error(c, r, MHD_HTTP_METHOD_NOT_ALLOWED);
		/* answering at the second call keeps the connection alive */
		return MHD_YES;
	}
	if (*upload_size != 0) {
		*upload_size = 0; /* a body sent with GET means nothing */
		return MHD_YES;
	}
	return serve(cls, c, r, url);
}

static void log_request(struct img_server *s, struct MHD_Connection *c,
			const struct req *r,
			enum MHD_RequestTerminationCode toe)
{
	const union MHD_ConnectionInfo *ci;
	struct img_log_entry le;
	char line[IMG_LOG_LINE_MAX];

	memset(&le, 0, sizeof(le));
	le.addr = r->addr;
	le.when = r->when;
	le.target = r->uri;
	if (r->seen) {
		le.method = r->method;
		le.version = r->version;
		le.agent = r->ua;
	}
	le.status = r->status;
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_HTTP_STATUS);
	if (ci != NULL)
		le.status = ci->http_status; /* also libmicrohttpd's own errors */
	le.bytes = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ?
		   (int64_t)r->bytes : -1;
	img_serve_format_log(&le, line, sizeof(line));
	s->log(s->user, line);
}

static void on_done(void *cls, struct MHD_Connection *c, void **ctx,
		    enum MHD_RequestTerminationCode toe)
{
	struct img_server *s = cls;
	struct req *r = *ctx;

	if (r == NULL)
		return;
	*ctx = NULL;
	if (s->log != NULL)
		log_request(s, c, r, toe);
	free(r);
}

static void on_mhd_msg(void *cls, const char *fmt, va_list ap)
{
	struct img_server *s = cls;
	size_t n;

	pthread_mutex_lock(&s->mu);
	vsnprintf(s->mhd_msg, sizeof(s->mhd_msg), fmt, ap);
	n = strlen(s->mhd_msg);
	while (n > 0 && (s->mhd_msg[n - 1] == '\n' || s->mhd_msg[n - 1] == '.'))
		s->mhd_msg[--n] = '\0';
	pthread_mutex_unlock(&s->mu);
}

/* --- start and stop -------------------------------------------------- */

static unsigned conn_limit(void)
{
	struct rlimit rl;
	rlim_t n;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return CONN_MAX;
	n = rl.rlim_cur > 128 ? (rl.rlim_cur - 64) / 2 : 32;
	return n < CONN_MAX ? (unsigned)n : CONN_MAX;
}

static unsigned pool_size(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1u : n > 64 ? 64u : (unsigned)n;
}

static int start_daemon(struct img_server *s, struct sockaddr_storage *ss,
			const char *listen, struct ni_err *e)
{
	/* TURBO: read, write and accept at once rather than after a poll
	 * that would say the socket is ready; saves a system call or two a
	 * request. */
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
			 MHD_USE_TURBO;
	const union MHD_DaemonInfo *di;

	if (ss->ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)ss,
		MHD_OPTION_THREAD_POOL_SIZE, pool_size(),
		MHD_OPTION_CONNECTION_LIMIT, conn_limit(),
		MHD_OPTION_CONNECTION_TIMEOUT, CONN_TIMEOUT,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
		MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
		MHD_OPTION_NOTIFY_COMPLETED, on_done, s,
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_msg, s,
		MHD_OPTION_END);
	if (s->d == NULL)
		return ni_err_set(e, NI_EIO, "%s: cannot start the server: %s",
				  listen, s->mhd_msg[0] != '\0' ? s->mhd_msg
				  : "libmicrohttpd failed");
	di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = di != NULL ? di->port : 0;
	return 0;
}

/* public/ may itself be a symlink (to a volume): that is the owner's
 * choice; only what is beneath it is held to it. */
static int open_public(const char *repo_dir, struct ni_err *e)
{
	int fd, dfd, err;

	dfd = open(repo_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return ni_err_errno(e, errno, "%s", repo_dir);
	fd = openat(dfd, "public", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	err = errno;
	close(dfd);
	if (fd >= 0)
		return fd;
	if (err == ENOENT || err == ENOTDIR)
		return ni_err_set(e, NI_ENOENT,
				  "%s: not a repository (no public/ folder)",
				  repo_dir);
	return ni_err_errno(e, err, "%s/public", repo_dir);
}

int img_serve_start(struct img_server **out, const char *repo_dir,
		    const char *listen,
		    void (*log)(void *user, const char *line), void *user,
		    struct ni_err *e)
{
	struct sockaddr_storage ss;
	struct img_server *s;
	int rc;

	*out = NULL;
	if (img_serve_parse_listen(listen, &ss) != 0)
		return ni_err_set(e, NI_EUSAGE, "bad listen address '%s' (want "
				  "HOST:PORT, IPv4 or [IPv6]:PORT)", listen);
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	s->log = log;
	s->user = user;
	pthread_mutex_init(&s->mu, NULL);
	s->root = open_public(repo_dir, e);
	if (s->root < 0) {
		rc = s->root;
		goto err_root;
	}
	if (img_serve_addr_port(&ss) != 0 &&
	    (rc = img_serve_probe_listen(&ss, listen, e)) != 0)
		goto err_start;
	if ((rc = start_daemon(s, &ss, listen, e)) != 0)
		goto err_start;
	*out = s;
	return 0;

err_start:
	close(s->root);
err_root:
	pthread_mutex_destroy(&s->mu);
	free(s);
	return rc;
}

int img_serve_port(const struct img_server *s)
{
	return s->port;
}

void img_serve_set_walk_only(struct img_server *s, int on)
{
	__atomic_store_n(&s->walk_only, on, __ATOMIC_RELAXED);
}

void img_serve_stop(struct img_server *s)
{
	if (s == NULL)
		return;
	MHD_stop_daemon(s->d);
	close(s->root);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
