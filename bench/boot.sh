#!/bin/bash
# bench/boot.sh: netboot time and bytes, netimg against the plain chain.
#
# Both boot the same image in qemu (TCG, 512 MiB, virtio-net, Debian's
# iPXE ROM) from a server on 127.0.0.1, through iPXE, the same kernel and
# the same modules:
#   netimg  boot.ipxe -> host -> channel script -> netimg's initramfs: the
#           pointer, manifest, index and every chunk verified, fetched into
#           RAM, squashfs + overlay
#   plain   boot.ipxe -> the same kernel, an initramfs whose shell init
#           wgets the whole .sqfs and loop-mounts it, unverified (the way
#           live-boot's fetch= works)
# and times qemu's start to the moment the image's /sbin/init is about to
# run (a console marker), then stops qemu. Bytes are what the server sent
# (its access log). Runs BENCH_RUNS times each (default 3): median.
#
#   bench/boot.sh [IMAGE.sqfs]    default: the example baseline
#                                 (recipes/baseline/out/, `make run`)
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
NETIMG=${NETIMG:-$TOP/build/netimg}
CACHE=${NETIMG_CACHE:-$TOP/.cache}
RUNS=${BENCH_RUNS:-3}
# tcg by default (this machine's nested kvm does not boot the guest); kvm
# where it works: under TCG hashing costs far more than natively.
BENCH_ACCEL=${BENCH_ACCEL:-tcg}
# The guest CPU model: qemu64 (as the tests), or max (SHA-NI, AVX2 as on
# servers, emulated: everything else gets slower too).
BENCH_CPU=${BENCH_CPU:-qemu64}
# Guest CPUs: 2 by default (a server netbooting has several; netimg
# hashes chunks on the others while the first receives); 1 is the
# tests' setting and the worst case under TCG (bench/README.md).
BENCH_SMP=${BENCH_SMP:-2}
IMG=${1:-$(ls "$TOP"/recipes/baseline/out/baseline-*.sqfs 2>/dev/null | head -n 1)}
KDEB=$(ls "$CACHE"/kernel/linux-image-*.deb 2>/dev/null | head -n 1)
say() { echo "boot.sh: $*" >&2; }
[ -f "$IMG" ] || { say "no image (run make run, or give IMAGE.sqfs)"; exit 1; }
[ -f "$KDEB" ] || { say "no kernel package in $CACHE/kernel (scripts/prepare-fixtures)"; exit 1; }
W=$(mktemp -d /tmp/netimg-bootbench.XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$p" 2>/dev/null; done; rm -rf "$W"' EXIT
MAC=52:54:00:be:4c:01

# --- netimg: a repository with the image and its boot files
cp "$IMG" "$W/img.sqfs"
printf '{"name": "bench", "version": "1", "boot": {"kernel": "%s", "cmdline": "console=ttyS0 quiet no_timer_check panic=1 init=/bin/true"}}\n' \
	"$KDEB" >"$W/img.json"
R=$W/repo
"$NETIMG" init --repo "$R" >/dev/null && "$NETIMG" keygen --repo "$R" >/dev/null
say "publishing $(basename "$IMG") with its boot files"
"$NETIMG" publish --repo "$R" "$W/img.sqfs" >&2
"$NETIMG" point --repo "$R" stable bench@1 >/dev/null
"$NETIMG" host add --repo "$R" $MAC --name bench --channel stable >/dev/null

serve() {   # serve DIR LOG: starts netimg serve, sets PORT
	"$NETIMG" serve --repo "$1" --listen 127.0.0.1:0 >"$2.out" 2>"$2" &
	PIDS+=($!)
	for _ in $(seq 50); do grep -q http "$2.out" && break; sleep 0.1; done
	PORT=$(sed -n 's|.*127.0.0.1:\([0-9]*\).*|\1|p' "$2.out")
}
serve "$R" "$W/netimg.log"; NPORT=$PORT
"$NETIMG" ipxe --repo "$R" --url "http://10.0.2.2:$NPORT/" >/dev/null

# --- plain: the same kernel and modules; a shell init that wgets the image
P=$W/plain
mkdir -p "$P/public/boot" "$W/ir"
echo '{"format": 1, "kind": "netimg-repository"}' >"$P/public/repo.json"
cp "$W/img.sqfs" "$P/public/image.sqfs"
cp "$R"/public/boot/*.vmlinuz "$P/public/boot/vmlinuz"
bsdtar -xf "$R"/public/boot/*.initramfs -C "$W/ir"
cat >"$W/ir/init" <<'INIT'
#!/bin/busybox sh
bb=/bin/busybox
echo "plain: init"
$bb mount -t proc proc /proc; $bb mount -t sysfs sys /sys
$bb mount -t devtmpfs dev /dev; $bb mount -t tmpfs run /run
for m in $($bb cat /etc/netimg/modules); do $bb insmod /lib/modules/$m 2>/dev/null; done
i=0; while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do $bb sleep 0.1; i=$((i+1)); done
$bb udhcpc -i eth0 -s /etc/netimg/udhcpc.script -n -q -f -t 4 -T 2 >/dev/null
echo "plain: network up"
url=$($bb sed -n 's/.*plain.url=\([^ ]*\).*/\1/p' /proc/cmdline)
$bb wget -q -O /run/image.sqfs "$url"
echo "plain: fetched"
$bb mkdir -p /run/lower /newroot
$bb mount -t squashfs -o loop,ro /run/image.sqfs /run/lower
echo "plain: starting /sbin/init"
exec $bb sleep 1000
INIT
chmod 755 "$W/ir/init"
# Only what the shell init uses: busybox (static), the modules, the udhcpc
# hook; none of netimg-init's libraries. Same zstd level as netimg's.
rm -rf "$W/ir/lib/x86_64-linux-gnu" "$W/ir/lib64" "$W/ir/etc/ssl" "$W/ir/etc/netimg/repo.pub"
(cd "$W/ir" && bsdtar --format newc -cf - . | zstd -q -12 >"$P/public/boot/initramfs")
serve "$P" "$W/plain.log"; PPORT=$PORT
cat >"$P/public/boot.ipxe" <<EOF2
#!ipxe
kernel boot/vmlinuz initrd=initramfs console=ttyS0 quiet no_timer_check panic=1 plain.url=http://10.0.2.2:$PPORT/image.sqfs
initrd --name initramfs boot/initramfs
boot
EOF2

# stamp T0: each console line (ended by \r, \n or an escape sequence)
# prefixed with the seconds since T0, as the host's clock says when it
# arrived.
stamp() {
	perl -e 'use Time::HiRes qw(time); $| = 1; my ($t0, $l) = ($ARGV[0], "");
		while (sysread(STDIN, my $b, 4096)) { $l .= $b;
			while ($l =~ s/^([^\r\n\e]*)([\r\n]|(?=\e.))//) { printf "%7.3f %s\n", time - $t0, $1 if length $1;
				$l =~ s/^\e// unless length $2 } }' "$1"
}

# run PORT MARKER: one boot, seconds to MARKER on the console
run() {
	local con=$W/con t0 t1 q
	: >"$con"
	t0=$(date +%s.%N)
	qemu-system-x86_64 -machine accel=$BENCH_ACCEL -cpu "$BENCH_CPU" -smp "$BENCH_SMP" -m 512M -nographic -no-reboot \
		-netdev "user,id=n0,bootfile=http://10.0.2.2:$1/boot.ipxe" \
		-device "virtio-net-pci,netdev=n0,mac=$MAC,bootindex=1" </dev/null > >(stamp "$t0" >"$con") 2>&1 &
	q=$!
	for _ in $(seq 3000); do grep -q "$2" "$con" && break; sleep 0.05; done
	t1=$(date +%s.%N)
	# qemu's CPU time (all its threads): less at the mercy of the load
	awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($14 + $15) / hz }' "/proc/$q/stat" >"$W/cpu" 2>/dev/null || echo - >"$W/cpu"
	kill "$q" 2>/dev/null; wait "$q" 2>/dev/null || true
	[ -z "${BENCH_CONSOLES:-}" ] || cp "$con" "$BENCH_CONSOLES/$3.con"
	grep -q "$2" "$con" || { say "no '$2' on the console:"; tail -5 "$con" >&2; exit 1; }
	grep -a 'netimg: fetched' "$con" | tr -d '\r' | sed 's/^/boot.sh:   /' >&2 || true
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", b - a }'
}
bytes() { awk '{ s += $10 } END { print s + 0 }' "$1"; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# marks CONSOLE: the seconds at which each phase ended, from the stamped
# console: iPXE's DHCP and boot.ipxe; the scripts, kernel and initramfs
# downloaded; the kernel booted (the init's first line); the network up;
# the image fetched (pointer, manifest, index and chunks for netimg); the
# image's init about to run.
marks() {
	tr -d '\r' <"$1" | awk '
		function at(k) { if (!(k in t)) t[k] = $1 }
		/boot\.ipxe\.\.\. ok/ { at(1) }
		/ramfs\.\.\. o/ { at(2) }
		/netimg: netimg .* init,|plain: init/ { at(3) }
		/netimg: eth[0-9]*: |plain: network up/ { at(4) }
		/netimg: fetched |plain: fetched/ { at(5) }
		/starting bench@1|plain: starting/ { at(6) }
		END { for (k = 1; k <= 6; k++) printf "%s%s", (k in t) ? t[k] : "-", k < 6 ? " " : "\n" }'
}

# Alternately, so that both chains see the same load on a shared machine.
L0=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$W/netimg.times"; : >"$W/plain.times"; : >"$W/netimg.marks"; : >"$W/plain.marks"
: >"$W/netimg.cpu"; : >"$W/plain.cpu"
for i in $(seq "$RUNS"); do
	for kind in netimg plain; do
		: >"$W/$kind.log"
		if [ $kind = netimg ]; then t=$(run $NPORT "starting bench@1's /bin/true" netimg.$i)
		else t=$(run $PPORT "plain: starting /sbin/init" plain.$i); fi
		echo "$t" >>"$W/$kind.times"
		cat "$W/cpu" >>"$W/$kind.cpu"
		marks "$W/con" >>"$W/$kind.marks"
		echo "$(bytes "$W/$kind.log")" >"$W/$kind.bytes"
		say "$kind run $i: $t s, qemu CPU $(cat "$W/cpu") s"
	done
done
tn=$(median <"$W/netimg.times"); tp=$(median <"$W/plain.times")
echo "# Netboot: netimg against the plain chain"
echo
echo "Image: $(basename "$IMG"), $(stat -c %s "$IMG") bytes; kernel: $(basename "$KDEB"); qemu $BENCH_ACCEL, -cpu $BENCH_CPU, -smp $BENCH_SMP, 512 MiB; median of $RUNS runs."
echo
cn=$(median <"$W/netimg.cpu"); cp=$(median <"$W/plain.cpu")
echo "| chain | time to the image's init (s) | qemu CPU (s) | bytes served | verified |"
echo "|---|---:|---:|---:|---|"
echo "| netimg | $tn | $cn | $(cat "$W/netimg.bytes") | pointer, manifest, index, every chunk |"
echo "| plain (wget + loop mount) | $tp | $cp | $(cat "$W/plain.bytes") | nothing |"
echo
echo "Where the time goes (seconds, median of each phase; the console's lines as they reached the host):"
echo
echo "| phase | netimg | plain |"
echo "|---|---:|---:|"
phase() {   # phase COLUMN: the medians of mark COLUMN - mark COLUMN-1
	for kind in netimg plain; do
		awk -v c="$1" '{ split("0 " $0, m, " "); if (m[c + 1] != "-" && m[c] != "-") print m[c + 1] - m[c] }' \
			"$W/$kind.marks" | median | awk '{ printf "%.2f\n", $1 } END { if (!NR) print "-" }'
	done | paste -sd ' '
}
n=0
for p in "firmware, iPXE's DHCP, boot.ipxe" "scripts, kernel and initramfs downloaded" \
	"kernel boot: initramfs unpacked, init started" "modules, network (DHCP)" \
	"image fetched (netimg: pointer, manifest, index, chunks verified)" \
	"image mounted, switch to its init"; do
	n=$((n + 1))
	set -- $(phase $n)
	echo "| $p | $1 | $2 |"
done
echo
echo "Initramfs: netimg $(stat -c %s "$R"/public/boot/*.initramfs) bytes, plain $(stat -c %s "$P/public/boot/initramfs") bytes."
echo
echo "netimg / plain: $(awk -v a="$tn" -v b="$tp" 'BEGIN { printf "%.2f", a / b }')x (target: at most 1.1x); qemu CPU: $(awk -v a="$cn" -v b="$cp" 'BEGIN { printf "%.2f", a / b }')x; load average $L0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
