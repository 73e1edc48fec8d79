/* serve_addr.c: the server's listen address: "HOST:PORT" with an IPv4
 * address or "[IPv6]:PORT" (no names: a server should not depend on the
 * resolver to start), and a trial bind that says why it cannot be used. */
#include "images/serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

static int parse_port(const char *p, in_port_t *port)
{
	unsigned long v = 0;
	size_t i;

	for (i = 0; p[i] != '\0'; i++) {
		if (p[i] < '0' || p[i] > '9' || i >= 5)
			return -1;
		v = v * 10 + (unsigned long)(p[i] - '0');
	}
	if (i == 0 || v > 65535)
		return -1;
	*port = htons((uint16_t)v);
	return 0;
}

int img_serve_parse_listen(const char *s, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	const char *host = s, *end;
	char buf[INET6_ADDRSTRLEN];
	size_t n;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		host = s + 1;
		end = strchr(host, ']');
		if (end == NULL || end[1] != ':')
			return -1;
	} else if ((end = strrchr(s, ':')) == NULL) {
		return -1;
	}
	n = (size_t)(end - host);
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, host, n);
	buf[n] = '\0';
	if (s[0] == '[') {
		in6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, buf, &in6->sin6_addr) != 1)
			return -1;
		return parse_port(end + 2, &in6->sin6_port);
	}
	in4->sin_family = AF_INET;
	if (inet_pton(AF_INET, buf, &in4->sin_addr) != 1)
		return -1;
	return parse_port(end + 1, &in4->sin_port);
}

int img_serve_addr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static socklen_t addr_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					 : sizeof(struct sockaddr_in);
}

int img_serve_probe_listen(const struct sockaddr_storage *ss,
			   const char *listen, struct ni_err *e)
{
	int fd, one = 1, err;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ni_err_errno(e, errno, "%s: cannot listen", listen);
	/* as libmicrohttpd does: a port in TIME_WAIT is free, one with a
	 * listener is not */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, addr_len(ss)) != 0) {
		err = errno;
		close(fd);
		return ni_err_errno(e, err, "%s: cannot listen", listen);
	}
	close(fd);
	return 0;
}
