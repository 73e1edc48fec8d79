# tests/mount.sh: helpers of the tests that mount, sourced after lib.sh.
# Every mount point is $T/m*; an EXIT trap unmounts whatever is left
# (plus the folders in EXTRA_MOUNTS, with umount -l) before cleanup.
TO="timeout 60"
DESC="perl $TOP/tests/tools/treedesc.pl"
EXTRA_MOUNTS=()

unmount_all() {
	local d
	for d in "$T"/m*; do
		mountpoint -q "$d" 2>/dev/null &&
			{ fusermount3 -u "$d" 2>/dev/null || umount -l "$d" 2>/dev/null; }
	done
	for d in "${EXTRA_MOUNTS[@]}"; do
		mountpoint -q "$d" 2>/dev/null && umount -l "$d"
	done
	cleanup
}
trap unmount_all EXIT

# daemon_of DIR: the netimg daemon serving mount point DIR
daemon_of() { pgrep -n -f -- "netimg mount .* $1( |\$)" || true; }

# umnt DIR: unmounts and waits (10 s at most) for the daemon to exit;
# fails when it is still there
umnt() {
	local pid i
	pid=$(daemon_of "$1")
	$TO fusermount3 -u "$1" || return 1
	[ -n "$pid" ] || return 0
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# same_tree A B: their descriptions (treedesc.pl: names, types, modes,
# owners, times, links, xattrs, contents) match; the first differences shown
same_tree() {
	$TO $DESC "$1" >"$T/a.desc" 2>"$T/a.err" || { cat "$T/a.err"; return 1; }
	$TO $DESC "$2" >"$T/b.desc" 2>"$T/b.err" || { cat "$T/b.err"; return 1; }
	diff "$T/a.desc" "$T/b.desc" | head -20
	cmp -s "$T/a.desc" "$T/b.desc"
}

# flip_byte FILE OFFSET: one bit of the byte at OFFSET inverted, in place
flip_byte() {
	perl -e 'open(my $f, "+<", $ARGV[0]) or die; seek($f, $ARGV[1], 0); read($f, my $b, 1);
		seek($f, $ARGV[1], 0); print $f chr(ord($b) ^ 1)' "$1" "$2"
}

# read_files MNT REFDIR: reads each file of REFDIR (not recursive) from
# MNT under the same name; BAD=1 when a read that succeeded returned other
# bytes, EIO = how many reads failed with EIO
read_files() {
	local f
	BAD=0 EIO=0
	for f in "$2"/*; do
		if timeout 30 cat "$1/${f##*/}" >"$T/got" 2>"$T/cat.err"; then
			cmp -s "$T/got" "$f" || BAD=1
		else
			grep -q "Input/output error" "$T/cat.err" && EIO=$((EIO + 1))
		fi
	done
}
