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
$bb mount -t proc proc /proc; $bb mount -t sysfs sys /sys
$bb mount -t devtmpfs dev /dev; $bb mount -t tmpfs run /run
for m in $($bb cat /etc/netimg/modules); do $bb insmod /lib/modules/$m 2>/dev/null; done
i=0; while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do $bb sleep 0.1; i=$((i+1)); done
$bb udhcpc -i eth0 -s /etc/netimg/udhcpc.script -n -q -f -t 4 -T 2 >/dev/null
url=$($bb sed -n 's/.*plain.url=\([^ ]*\).*/\1/p' /proc/cmdline)
$bb wget -q -O /run/image.sqfs "$url"
$bb mkdir -p /run/lower /newroot
$bb mount -t squashfs -o loop,ro /run/image.sqfs /run/lower
echo "plain: starting /sbin/init"
exec $bb sleep 1000
INIT
chmod 755 "$W/ir/init"
# Only what the shell init uses: busybox (static), the modules, the udhcpc
# hook; none of netimg-init's libraries. Same zstd level as netimg's.
rm -rf "$W/ir/lib/x86_64-linux-gnu" "$W/ir/lib64" "$W/ir/etc/ssl" "$W/ir/etc/netimg/repo.pub"
(cd "$W/ir" && bsdtar --format newc -cf - . | zstd -q -3 >"$P/public/boot/initramfs")
serve "$P" "$W/plain.log"; PPORT=$PORT
cat >"$P/public/boot.ipxe" <<EOF2
#!ipxe
kernel boot/vmlinuz initrd=initramfs console=ttyS0 quiet no_timer_check panic=1 plain.url=http://10.0.2.2:$PPORT/image.sqfs
initrd --name initramfs boot/initramfs
boot
EOF2

# run PORT MARKER: one boot, seconds to MARKER on the console
run() {
	local con=$W/con t0 t1 q
	: >"$con"
	t0=$(date +%s.%N)
	qemu-system-x86_64 -machine accel=$BENCH_ACCEL -cpu "$BENCH_CPU" -m 512M -nographic -no-reboot \
		-netdev "user,id=n0,bootfile=http://10.0.2.2:$1/boot.ipxe" \
		-device "virtio-net-pci,netdev=n0,mac=$MAC,bootindex=1" </dev/null >"$con" 2>&1 &
	q=$!
	for _ in $(seq 3000); do grep -q "$2" "$con" && break; sleep 0.05; done
	t1=$(date +%s.%N)
	kill "$q" 2>/dev/null; wait "$q" 2>/dev/null || true
	grep -q "$2" "$con" || { say "no '$2' on the console:"; tail -5 "$con" >&2; exit 1; }
	grep -a 'netimg: fetched' "$con" | tr -d '\r' | sed 's/^/boot.sh:   /' >&2 || true
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", b - a }'
}
bytes() { awk '{ s += $10 } END { print s + 0 }' "$1"; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

for kind in netimg plain; do
	: >"$W/$kind.times"
	for i in $(seq "$RUNS"); do
		: >"$W/$kind.log"
		if [ $kind = netimg ]; then t=$(run $NPORT "starting bench@1's /bin/true")
		else t=$(run $PPORT "plain: starting /sbin/init"); fi
		echo "$t" >>"$W/$kind.times"
		echo "$(bytes "$W/$kind.log")" >"$W/$kind.bytes"
		say "$kind run $i: $t s"
	done
done
tn=$(median <"$W/netimg.times"); tp=$(median <"$W/plain.times")
echo "# Netboot: netimg against the plain chain"
echo
echo "Image: $(basename "$IMG"), $(stat -c %s "$IMG") bytes; kernel: $(basename "$KDEB"); qemu $BENCH_ACCEL, -cpu $BENCH_CPU, 512 MiB; median of $RUNS runs."
echo
echo "| chain | time to the image's init (s) | bytes served | verified |"
echo "|---|---:|---:|---|"
echo "| netimg | $tn | $(cat "$W/netimg.bytes") | pointer, manifest, index, every chunk |"
echo "| plain (wget + loop mount) | $tp | $(cat "$W/plain.bytes") | nothing |"
echo
echo "netimg / plain: $(awk -v a="$tn" -v b="$tp" 'BEGIN { printf "%.2f", a / b }')x (target: at most 1.1x)"
