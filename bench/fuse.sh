#!/bin/bash
# bench/fuse.sh [IMAGE.sqfs...]: the mount benchmark. netimg's mounts of
# an image against squashfuse_ll on the same file and the kernel's
# squashfs on a loop device. netimg is measured three ways:
#   netimg       netimg mount --image FILE (the image file on local disk)
#   netimg-warm  netimg mount --repo URL NAME@VERSION with the version fully
#                in the cache (netimg sync first) and the server stopped
#   netimg-cold  the same with an empty cache for every run: every chunk
#                read is fetched from `netimg serve` on 127.0.0.1
#
# Images: the arguments, or recipes/baseline/out/*.sqfs (make run) and a
# generated image of about 1 GiB (BENCH_BIG_MB, default 1024; 0: none):
# four copies of the first image's tree and files of random bytes.
# Workloads, each timed with hyperfine ($BENCH_RUNS runs, default 3), the
# page cache dropped and the file system mounted afresh before every run:
#   seq       cat of the largest files (up to $BENCH_SEQ_MB MiB, default 256)
#   find      find -printf with stat fields of every entry
#   readall   cat of every regular file, one process at a time
#   readall8  the same with 8 cats at once (xargs -P8)
# the daemon's CPU time (user + system) per run of each workload (mean;
# the kernel's squashfs has no daemon: its work is counted in the
# readers' system time), mount-to-first-stat (the mount command started
# until stat of /etc/passwd in the mount answered; page cache dropped, and
# again with it warm; mean of $BENCH_RUNS) and the daemon's peak RSS
# (VmHWM, the largest over every run).
#
# Prints a markdown report on stdout (progress on stderr). Needs root.
# Knobs: NETIMG, BENCH_DIR (default /var/tmp/netimg-bench), BENCH_RUNS,
# BENCH_SEQ_MB, BENCH_BIG_MB, BENCH_FS (default "netimg netimg-warm
# netimg-cold squashfuse_ll kernel"),
# BENCH_WORK (default "seq find readall readall8"), NETIMG_MOUNT_OPTS
# (extra options for netimg mount).
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
NETIMG=${NETIMG:-$TOP/build/netimg}
BENCH_DIR=${BENCH_DIR:-/var/tmp/netimg-bench}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_SEQ_MB=${BENCH_SEQ_MB:-256}
BENCH_FS=${BENCH_FS:-netimg netimg-warm netimg-cold squashfuse_ll kernel}
BENCH_BIG_MB=${BENCH_BIG_MB:-1024}
BENCH_WORK=${BENCH_WORK:-seq find readall readall8}
NETIMG_MOUNT_OPTS=${NETIMG_MOUNT_OPTS:-}
export LC_ALL=C
case $NETIMG in /*) ;; *) NETIMG=$PWD/$NETIMG ;; esac
M=$BENCH_DIR/fuse-mnt
R=$BENCH_DIR/fuse-repo
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

log() { echo "bench/fuse: $*" >&2; }
die() { echo "bench/fuse: $*" >&2; exit 1; }

drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# The version an image is published as in $R/repo: bench@<its file name>.
version_of() { echo "bench@$(basename "$1" .sqfs)"; }
url() { cat "$R/url"; }

# start_mount KIND IMAGE: runs the mount command (no wait).
start_mount() {
	case $1 in
	netimg) "$NETIMG" mount --image "$2" "$M" $NETIMG_MOUNT_OPTS ;;
	netimg-warm)
		"$NETIMG" mount --repo "$(url)" --key "$R/repo/repo.pub" --cache "$R/cache-warm" \
			--state "$R/state" "$(version_of "$2")" "$M" $NETIMG_MOUNT_OPTS ;;
	netimg-cold)
		rm -rf "$R/cache-cold" "$R/state-cold"
		"$NETIMG" mount --repo "$(url)" --key "$R/repo/repo.pub" --cache "$R/cache-cold" \
			--state "$R/state-cold" "$(version_of "$2")" "$M" $NETIMG_MOUNT_OPTS ;;
	squashfuse_ll) squashfuse_ll "$2" "$M" ;;
	kernel) mount -t squashfs -o loop,ro "$2" "$M" ;;
	*) die "unknown file system $1" ;;
	esac
}

# fs_mount KIND IMAGE: mounts on $M; returns once the mount answers.
fs_mount() {
	start_mount "$1" "$2"
	local i
	for i in $(seq 100); do
		stat "$M/." >/dev/null 2>&1 && mountpoint -q "$M" && return 0
		sleep 0.05
	done
	die "$1: $2 did not mount on $M"
}

# fs_umount KIND: unmounts $M and waits (10 s at most) for the daemon.
fs_umount() {
	local pid i
	mountpoint -q "$M" || return 0
	pid=$(daemon_pid "$1")
	case $1 in
	kernel) umount "$M" ;;
	*) fusermount3 -u "$M" ;;
	esac
	[ -n "$pid" ] || return 0
	for i in $(seq 200); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.05
	done
	die "$1: the daemon $pid did not exit after the unmount"
}

daemon_pid() {
	case $1 in
	netimg*) pgrep -f -n -- "netimg mount .* $M" || true ;;
	squashfuse_ll) pgrep -f -n -- "squashfuse_ll .* $M" || true ;;
	*) true ;;
	esac
}

# internal: hyperfine's --prepare and --conclude
# __capture KIND FILE: appends the daemon's CPU time so far (ms) and its
# peak RSS (KiB) to FILE (hyperfine 1.15 has no --conclude: this runs in
# the next run's --prepare, and once after the last run)
capture() {
	local pid
	pid=$(daemon_pid "$1")
	[ -n "$pid" ] || return 0
	awk -v hz="$(getconf CLK_TCK)" '{ printf "%d ", ($14 + $15) * 1000 / hz }' \
		/proc/"$pid"/stat >>"$2"
	awk '/^VmHWM/ { print $2 }' /proc/"$pid"/status >>"$2"
}
if [ "${1:-}" = __capture ]; then
	capture "$2" "$3"
	exit 0
fi
# __remount KIND IMAGE [FILE]: captures (when FILE is given), unmounts,
# drops the page cache, mounts
if [ "${1:-}" = __remount ]; then
	[ -z "${4:-}" ] || capture "$2" "$4"
	fs_umount "$2"
	drop_caches
	fs_mount "$2" "$3"
	exit 0
fi

[ "$(id -u)" = 0 ] || die "needs root (mounts, drop_caches)"
for t in hyperfine squashfuse_ll fusermount3 unsquashfs; do
	command -v "$t" >/dev/null || die "$t is not installed (make deps-test)"
done
[ -x "$NETIMG" ] || die "$NETIMG is not built (make)"
if [ $# -gt 0 ]; then
	IMAGES=("$@")
else
	shopt -s nullglob
	IMAGES=("$TOP"/recipes/baseline/out/*.sqfs)
	shopt -u nullglob
	[ ${#IMAGES[@]} -gt 0 ] || die "no image: run make run, or name images"
	[ "$BENCH_BIG_MB" -gt 0 ] && IMAGES+=("$BENCH_DIR/fuse-big-$BENCH_BIG_MB.sqfs")
fi
mkdir -p "$M" "$BENCH_DIR/fuse-runs"
mountpoint -q "$M" && die "$M is mounted already"
OUT=$BENCH_DIR/fuse-runs

# The generated image: four copies of the first image's tree (no
# duplicate detection, so all four are stored) and 64 MiB files of random
# bytes up to about BENCH_BIG_MB MiB.
make_big() {
	local big=$1 tree=$BENCH_DIR/fuse-big-tree i n left
	[ -f "$big" ] && return 0
	log "generating $big from ${IMAGES[0]}"
	rm -rf "$tree"
	mkdir -p "$tree"
	unsquashfs -q -n -d "$tree/c0" "${IMAGES[0]}" >/dev/null
	for i in 1 2 3; do cp -a "$tree/c0" "$tree/c$i"; done
	left=$((BENCH_BIG_MB - 4 * $(du -m --apparent-size "${IMAGES[0]}" | cut -f1)))
	mkdir -p "$tree/random"
	for n in $(seq $(((left + 63) / 64))); do
		[ "$left" -gt 0 ] || break
		head -c $((64 * 1048576)) >"$tree/random/r$n" \
			< <(openssl enc -aes-128-ctr -nosalt -pass pass:"$n" </dev/zero 2>/dev/null)
		left=$((left - 64))
	done
	mksquashfs "$tree" "$big.tmp" -comp zstd -no-duplicates -quiet -noappend >/dev/null
	mv "$big.tmp" "$big"
	rm -rf "$tree"
}

# The repository of netimg-warm and netimg-cold: every image published
# as bench@<file name>, served by `netimg serve` on 127.0.0.1; the warm
# cache holds every version (netimg sync).
SERVER=
setup_repo() {
	local img
	rm -rf "$R"
	mkdir -p "$R"
	"$NETIMG" init --repo "$R/repo" >/dev/null
	"$NETIMG" keygen --repo "$R/repo" >/dev/null
	for img in "${IMAGES[@]}"; do
		"$NETIMG" publish --repo "$R/repo" "$img" --name bench \
			--version "$(basename "$img" .sqfs)" >/dev/null
	done
	"$NETIMG" serve --repo "$R/repo" --listen 127.0.0.1:0 >"$R/serve.out" 2>"$R/access.log" &
	SERVER=$!
	for i in $(seq 100); do grep -q http "$R/serve.out" 2>/dev/null && break; sleep 0.1; done
	sed -n 's|.*\(http://[^ ]*/\).*|\1|p' "$R/serve.out" >"$R/url"
	[ -s "$R/url" ] || die "netimg serve did not start"
	for img in "${IMAGES[@]}"; do
		"$NETIMG" sync --repo "$(url)" --key "$R/repo/repo.pub" --cache "$R/cache-warm" \
			--state "$R/state" "$(version_of "$img")" >/dev/null
	done
}
requests() { wc -l <"$R/access.log"; }

# workload WORK: the shell command hyperfine times.
workload() {
	case $1 in
	seq) echo "xargs -a '$OUT/seq.list' -d '\\n' cat >/dev/null" ;;
	find) echo "find '$M' -printf '%i %s %m %U %G %T@ %n\\n' >/dev/null" ;;
	readall) echo "find '$M' -type f -print0 | xargs -0 cat >/dev/null" ;;
	readall8) echo "find '$M' -type f -print0 | xargs -0 -P8 -n16 cat >/dev/null" ;;
	*) die "unknown workload $1" ;;
	esac
}

# The largest files, up to BENCH_SEQ_MB MiB, as paths under $M.
seq_list() {
	unsquashfs -lls -d "$M" "$1" 2>/dev/null |
		awk '$1 ~ /^-/ { print $3 "\t" $NF }' | sort -rn |
		awk -v cap=$((BENCH_SEQ_MB * 1048576)) -F'\t' \
			'!done { if (sum + $1 > cap) { done = 1; next } sum += $1; print $2 }' >"$OUT/seq.list"
	[ -s "$OUT/seq.list" ] || die "$1: no file for the seq workload"
}

mean_of() { perl -MJSON::PP -e 'local $/; my $d = decode_json(<STDIN>);
	printf "%.3f %.3f", $d->{results}[0]{mean}, $d->{results}[0]{stddev} // 0' <"$1"; }

# first_stat KIND IMAGE cold|warm: mean ms from the mount command to
# stat's answer (cold: the page cache dropped before each mount)
first_stat() {
	local i t0 t1 sum=0
	for i in $(seq "$BENCH_RUNS"); do
		fs_umount "$1"
		if [ "$3" = cold ]; then drop_caches; else stat "$2" "$NETIMG" >/dev/null; fi
		t0=$(date +%s%N)
		start_mount "$1" "$2"
		until { stat "$M/etc/passwd" >/dev/null 2>&1 || stat "$M/." >/dev/null 2>&1; } && mountpoint -q "$M"; do
			[ $(( $(date +%s%N) - t0 )) -lt 10000000000 ] || die "$1: no stat after 10 s"
		done
		t1=$(date +%s%N)
		sum=$((sum + t1 - t0))
		fs_umount "$1"
	done
	echo $((sum / BENCH_RUNS / 1000000))
}

trap 'fs_umount netimg 2>/dev/null; fs_umount squashfuse_ll 2>/dev/null; fs_umount kernel 2>/dev/null; [ -z "$SERVER" ] || kill "$SERVER" 2>/dev/null; true' EXIT
for img in "${IMAGES[@]}"; do
	case $img in "$BENCH_DIR"/fuse-big-*) make_big "$img" ;; esac
done
case " $BENCH_FS " in *" netimg-warm "* | *" netimg-cold "*)
	log "publishing ${#IMAGES[@]} image(s) into $R/repo, syncing the warm cache"
	setup_repo ;;
esac

echo "# Mount benchmark"
echo
echo "$(date -u +%FT%TZ), $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)," \
	"$BENCH_RUNS runs, page cache dropped and file system remounted before each run."
echo

declare -A RES
for img in "${IMAGES[@]}"; do
	[ -f "$img" ] || die "$img: no such image"
	name=$(basename "$img")
	size=$(du -m --apparent-size "$img" | cut -f1)
	seq_list "$img"
	rm -f "$OUT"/*.cpu
	unset RES
	declare -A RES
	log "$name ($size MiB): $(wc -l <"$OUT/seq.list") files for seq"
	for fs in $BENCH_FS; do
		[ "$fs" != netimg-warm ] || r0=$(requests)
		for w in $BENCH_WORK; do
			log "$name: $fs $w"
			rm -f "$OUT/$fs-$w.cpu"
			fs_umount "$fs"
			hyperfine --runs "$BENCH_RUNS" --style none \
				--prepare "$SELF __remount $fs '$img' '$OUT/$fs-$w.cpu'" \
				--export-json "$OUT/$fs-$w.json" "$(workload "$w")" >/dev/null
			capture "$fs" "$OUT/$fs-$w.cpu"
			RES[$fs/$w]=$(mean_of "$OUT/$fs-$w.json")
			RES[$fs/$w/cpu]=n/a
			if [ -s "$OUT/$fs-$w.cpu" ]; then
				RES[$fs/$w/cpu]=$(awk '{ s += $1 } END { printf "%.0f", s / NR }' "$OUT/$fs-$w.cpu")
				RES[$fs/rss]=$(cat "$OUT/$fs"-*.cpu | awk '$2 > m { m = $2 } END { printf "%.1f", m / 1024 }')
			fi
		done
		[ -n "${RES[$fs/rss]:-}" ] || RES[$fs/rss]=n/a
		fs_umount "$fs"
		log "$name: $fs mount-to-first-stat"
		RES[$fs/first]=$(first_stat "$fs" "$img" cold)
		RES[$fs/firstw]=$(first_stat "$fs" "$img" warm)
		[ "$fs" != netimg-warm ] || RES[warmreq]=$(($(requests) - r0))
	done

	echo "## $name ($size MiB)"
	echo
	NFS=$(for fs in $BENCH_FS; do case $fs in netimg*) echo "$fs" ;; esac; done)
	printf '| workload |'; for fs in $BENCH_FS; do printf ' %s |' "$fs"; done
	for fs in $NFS; do printf ' speed of %s / squashfuse_ll |' "$fs"; done; echo
	printf '|---|'; for fs in $BENCH_FS $NFS; do printf -- '---|'; done; echo
	for w in $BENCH_WORK; do
		printf '| %s (s) |' "$w"
		for fs in $BENCH_FS; do
			set -- ${RES[$fs/$w]}
			printf ' %s ± %s |' "$1" "$2"
		done
		s=${RES[squashfuse_ll/$w]:-}
		for fs in $NFS; do
			n=${RES[$fs/$w]:-}
			if [ -n "$n" ] && [ -n "$s" ]; then
				perl -e 'printf " %.2fx |", $ARGV[1] / $ARGV[0]' ${n%% *} ${s%% *}
			else
				printf ' |'
			fi
		done
		echo
	done
	for w in $BENCH_WORK; do
		printf '| %s: daemon CPU (ms) |' "$w"
		for fs in $BENCH_FS; do printf ' %s |' "${RES[$fs/$w/cpu]}"; done
		for fs in $NFS; do printf ' |'; done; echo
	done
	printf '| mount to first stat, page cache dropped (ms) |'
	for fs in $BENCH_FS; do printf ' %s |' "${RES[$fs/first]}"; done
	for fs in $NFS; do printf ' |'; done; echo
	printf '| mount to first stat, page cache warm (ms) |'
	for fs in $BENCH_FS; do printf ' %s |' "${RES[$fs/firstw]}"; done
	for fs in $NFS; do printf ' |'; done; echo
	printf '| daemon peak RSS (MiB) |'
	for fs in $BENCH_FS; do printf ' %s |' "${RES[$fs/rss]}"; done
	for fs in $NFS; do printf ' |'; done; echo
	echo
	[ -z "$SERVER" ] || echo "Requests at the server during the netimg-warm runs: ${RES[warmreq]:-n/a}."
	echo
done
echo "Targets (issue 5): netimg-warm at least 0.9x squashfuse_ll's speed, netimg-cold at" \
	"least 0.5x (the last columns); mount to first stat offline (netimg-warm) under" \
	"100 ms; daemon peak RSS at most 64 MiB."
echo
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
