/* progress.c: the terminal progress bar. */
#include "common/progress.h"

#include <time.h>
#include <unistd.h>

double ni_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void ni_fmt_bytes(uint64_t n, char *buf, size_t len)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int u = 0;

	while (v >= 1024.0 && u < 4) {
		v /= 1024.0;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)n);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
}

void ni_progress_init(struct ni_progress *p, FILE *out, const char *label,
		      uint64_t total)
{
	p->out = (out != NULL && isatty(fileno(out))) ? out : NULL;
	p->label = label;
	p->total = total;
	p->done = 0;
	p->entries = 0;
	p->start = ni_now();
	p->last_draw = 0;
}

static void draw(struct ni_progress *p, double now)
{
	char done[32], rate[32], eta[32] = "";
	double secs = now - p->start;
	double bps = secs > 0 ? (double)p->done / secs : 0;
	int pct = 0, width = 24, fill, i;
	char bar[32];

	ni_fmt_bytes(p->done, done, sizeof(done));
	ni_fmt_bytes((uint64_t)bps, rate, sizeof(rate));
	if (p->total > 0) {
		pct = (int)(100.0 * (double)p->done / (double)p->total);
		if (pct > 100)
			pct = 100;
		if (bps > 0 && p->done < p->total)
			snprintf(eta, sizeof(eta), " ETA %ds",
				 (int)((double)(p->total - p->done) / bps));
	}
	fill = pct * width / 100;
	for (i = 0; i < width; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[width] = '\0';
	fprintf(p->out, "\r\033[K%s [%s] %3d%% %llu entries %s %s/s%s",
		p->label, bar, pct, (unsigned long long)p->entries, done,
		rate, eta);
	fflush(p->out);
}

void ni_progress_update(struct ni_progress *p, uint64_t done,
			uint64_t entries)
{
	double now;

	p->done = done;
	p->entries = entries;
	if (p->out == NULL)
		return;
	now = ni_now();
	if (now - p->last_draw < 0.2)
		return;
	p->last_draw = now;
	draw(p, now);
}

void ni_progress_end(struct ni_progress *p)
{
	if (p->out == NULL)
		return;
	fputs("\r\033[K", p->out);
	fflush(p->out);
}
