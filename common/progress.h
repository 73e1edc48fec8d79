/* progress.h: a progress bar for terminals (done/total bytes, entries, rate,
 * ETA), redrawn at most a few times a second; on anything but a terminal
 * it stays silent and the caller prints one summary line at the end. */
#ifndef NI_PROGRESS_H
#define NI_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

struct ni_progress {
	FILE *out;          /* NULL: disabled */
	const char *label;
	uint64_t total;     /* bytes expected, 0 if unknown */
	uint64_t done;
	uint64_t entries;
	double start;
	double last_draw;
};

/* Enables the bar only when out is a terminal. */
void ni_progress_init(struct ni_progress *p, FILE *out, const char *label,
		      uint64_t total);
void ni_progress_update(struct ni_progress *p, uint64_t done,
			uint64_t entries);
/* Erases the bar line. */
void ni_progress_end(struct ni_progress *p);

double ni_now(void);
/* Formats a byte count as "12.3 MiB". */
void ni_fmt_bytes(uint64_t n, char *buf, size_t len);

#endif
