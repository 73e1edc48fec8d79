/* source.h: where a client reads a repository's published files from: a
 * local folder (DIR/public/) or mirrors over HTTP(S) through the fetcher.
 * Nothing read here is trusted until its signature or hash is checked. */
#ifndef CACHE_SOURCE_H
#define CACHE_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "cache/fetch.h"
#include "common/err.h"

struct cache_source;

/* spec: a folder, or URL[,URL...] (mirrors, tried in order). */
int cache_source_open(struct cache_source **s, const char *spec,
		      struct ni_err *e);
void cache_source_close(struct cache_source *s);
int cache_source_is_local(const struct cache_source *s);
/* The repository folder, for a local source (else NULL). */
const char *cache_source_dir(const struct cache_source *s);
/* Reads public/REL whole (at most max bytes). NI_ENOENT when missing. */
int cache_source_get(struct cache_source *s, const char *rel, size_t max,
		     uint8_t **out, size_t *len, struct ni_err *e);

/* The same, accepting only bytes whose SHA-256 is sha (32 bytes): a
 * mirror that serves other bytes fails over to the next; a folder's file
 * that differs is NI_EHASH naming it. */
int cache_source_get_sha256(struct cache_source *s, const char *rel,
			    size_t max, const uint8_t *sha, uint8_t **out,
			    size_t *len, struct ni_err *e);

/* Checks what a file's bytes must satisfy (a signature, a hash): 0, or
 * an error (with e set) that makes the next mirror be asked. */
typedef int (*cache_source_check)(void *user, const uint8_t *buf, size_t len,
				  struct ni_err *e);
/* cache_source_get, then check; when what a mirror served fails the
 * check, every other mirror is asked in turn. The first check failure is
 * reported when no mirror serves a file that passes. */
int cache_source_get_checked(struct cache_source *s, const char *rel,
			     size_t max, cache_source_check check, void *user,
			     uint8_t **out, size_t *len, struct ni_err *e);

/* Reads byte ranges of public/REL, streaming each to st as the fetcher's
 * cache_fetch_ranges_stream does (ranges in any order, each range's bytes
 * in order). For mirrors, a range st rejects is fetched from the next;
 * for a folder, a rejection is the call's error, with st's line. */
int cache_source_ranges(struct cache_source *s, const char *rel,
			const struct cache_range *r, size_t n,
			const struct cache_range_stream *st, struct ni_err *e);
/* HTTP requests sent so far (all mirrors, failed attempts too); 0 for a
 * folder. */
unsigned long cache_source_requests(const struct cache_source *s);

#endif
