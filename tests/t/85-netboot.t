#!/bin/bash
# Netboot for real: qemu (TCG) PXE-boots Debian's iPXE ROM against
# `netimg serve`, iPXE chains boot.ipxe -> the host's script -> the
# channel's, loads Debian's kernel and netimg's initramfs, whose init
# verifies the pointer and every chunk, and switch_roots into the image.
# The image's /sbin/init prints /etc/netimg-release and booted.json and
# powers off. Each boot is bounded by `timeout` and read for its markers.
. "$(dirname "$0")/../lib.sh"
plan 29
KDEB=$(ls "$CACHE"/kernel/linux-image-*.deb 2>/dev/null | head -n 1)
[ -n "$KDEB" ] || { echo "Bail out! no kernel package in $CACHE/kernel (run scripts/prepare-fixtures)"; exit 1; }
command -v qemu-system-x86_64 >/dev/null || { echo "Bail out! qemu-system-x86 is not installed"; exit 1; }
R=$T/repo
P=$R/public
MA=52:54:00:4e:49:01 MB=52:54:00:4e:49:02 MC=52:54:00:4e:49:03 MD=52:54:00:4e:49:04 ME=52:54:00:4e:49:05

# The image: busybox, and an init that reports and powers off.
mkdir -p "$T/root" && tar -xf "$CACHE/busybox-base.tar" -C "$T/root"
mkdir -p "$T/root/run" "$T/root/proc" "$T/root/sys" "$T/root/dev"
cat >"$T/root/usr/sbin/init" <<'INIT'
#!/bin/sh
echo "IMAGE-INIT: $(tr '\n' ' ' </etc/netimg-release)"
echo "BOOTED: $(tr -d '\n ' </run/netimg/booted.json)"
poweroff -f
INIT
chmod 755 "$T/root/usr/sbin/init"
"$NETIMG" init --repo "$R" >/dev/null && "$NETIMG" keygen --repo "$R" >/dev/null
for v in 1 2; do
	echo "version $v" >"$T/root/etc/motd"
	printf '[image]\nname = bb\nversion = %s\nepoch = 1767225600\n[base]\nsource = %s\n[boot]\nkernel = %s\ncmdline = console=ttyS0 quiet no_timer_check panic=1 netimg.reboot_delay=1\n' \
		"$v" "$T/root" "$KDEB" >"$T/bb$v.ini"
	"$NETIMG" build -q "$T/bb$v.ini" -o "$T/bb$v.sqfs"
	"$NETIMG" publish --repo "$R" "$T/bb$v.sqfs" >"$T/pub$v.out" 2>&1
done
like "$(cat "$T/pub1.out")" "boot files: kernel [0-9].*-cloud-amd64, initramfs [0-9]+ bytes" "publish builds the boot files of a record with [boot]"
M=$(tail -n +2 "$P/versions/bb/1.json")
like "$M" '"path": "boot/[0-9a-f]{64}\.initramfs"' "the manifest lists the initramfs"
like "$M" '"kernel_release": "[0-9]' "... and the kernel release"
I=$(ls "$P"/boot/*.initramfs | head -n 1)
like "$(bsdtar -tf "$I" | tr '\n' ' ')" '^bin dev .*init .*bin/busybox .*etc/netimg/repo.pub .*lib/modules/virtio_net.ko .*lib/modules/squashfs.ko .*lib/modules/loop.ko .*lib/modules/overlay.ko' \
	"the initramfs: init, key, modules"
like "$(bsdtar -xOf "$I" etc/netimg/modules | tr '\n' ' ')" 'virtio\.ko .*virtio_pci\.ko .*virtio_net\.ko' "modules load after their dependencies"
cmp -s "$R/repo.pub" <(bsdtar -xOf "$I" etc/netimg/repo.pub)
is "$?" 0 "the initramfs holds the repository's key"

"$NETIMG" point --repo "$R" stable bb@1 >/dev/null
"$NETIMG" point --repo "$R" canary bb@2 >/dev/null
"$NETIMG" point --repo "$R" t bb@1 >/dev/null
"$NETIMG" point --repo "$R" t bb@2 >/dev/null
"$NETIMG" host add --repo "$R" $MA --name a --channel stable >/dev/null
"$NETIMG" host add --repo "$R" $MB --name b --channel canary >/dev/null
"$NETIMG" host add --repo "$R" $MC --name c --channel t >/dev/null
"$NETIMG" host add --repo "$R" $MD --name d --channel never >/dev/null
"$NETIMG" host add --repo "$R" $ME --name e --channel small >/dev/null
serve_repo "$R"
SPID=${BG_PIDS[${#BG_PIDS[@]}-1]}
PORT=$(printf '%s' "$URL" | sed 's|.*:\([0-9]*\)/$|\1|')
"$NETIMG" ipxe --repo "$R" --url "http://10.0.2.2:$PORT/" >/dev/null

# boot MAC LOG: one machine, bounded; the console goes to LOG.
boot() {
	local rc
	timeout 300 qemu-system-x86_64 -machine accel=tcg -m 512M -nographic -no-reboot \
		-netdev "user,id=n0,bootfile=http://10.0.2.2:$PORT/boot.ipxe" \
		-device "virtio-net-pci,netdev=n0,mac=$1,bootindex=1" </dev/null >"$2.raw" 2>&1
	rc=$?
	tr -d '\r' <"$2.raw" >"$2"
	return $rc
}
booted() { sed -n 's/^IMAGE-INIT: .*VERSION=\([^ ]*\).*/\1/p' "$1"; }

# Two machines in two channels at once.
boot $MA "$T/c1" & b1=$!
boot $MB "$T/c2" & b2=$!
wait $b1 $b2
is "$(booted "$T/c1")" 1 "stable -> bb@1: machine a boots bb@1"
like "$(grep '^BOOTED' "$T/c1")" '"channel":"stable".*"pointer_serial":1.*"version":"bb@1"' "booted.json says what booted, in the image's /run"
like "$(cat "$T/c1")" 'netimg: fetched bb@1: .* every chunk verified' "the init fetched and verified the image"
is "$(booted "$T/c2")" 2 "machine b, in channel canary -> bb@2, boots bb@2 meanwhile"

# bb@2's initramfs rebuilt later, as an attachment: the scripts load it.
out=$("$NETIMG" initrd --repo "$R" bb@2)
like "$out" '^bb@2: new initramfs attached \(blobs/[0-9a-f]{64}, [0-9]+ bytes\); iPXE scripts rewritten$' "netimg initrd attaches a rebuilt initramfs"
blob=$(printf '%s' "$out" | sed -n 's|.*(blobs/\([0-9a-f]*\),.*|\1|p')
like "$(cat "$P/ipxe/channels/canary.ipxe")" "initrd --name initramfs \.\./\.\./blobs/$blob " "the channel scripts of bb@2 load the attached initramfs"
"$NETIMG" point --repo "$R" stable bb@2 >/dev/null
boot $MA "$T/c3"
is "$(booted "$T/c3")" 2 "point stable -> bb@2: machine a boots bb@2 (with the rebuilt initramfs)"

# Rollback; meanwhile a tampered chunk of bb@2 (channel t: bb@1 then
# bb@2) is refused and bb@1, the channel's previous version, boots
# instead, saying so; and a machine whose script names a version its
# channel never pointed at refuses it.
"$NETIMG" rollback --repo "$R" stable >/dev/null
p1=$(loc_packs "$P" bb 1 | sort -u)
p2=$(loc_packs "$P" bb 2 | sort -u | grep -v -F -x "$p1" | head -n 1)
ok "bb@2 has a pack of its own" test -n "$p2"
printf '\377' | dd of="$P/packs/$p2.pack" bs=1 seek=0 conv=notrunc status=none
"$NETIMG" point --repo "$R" never bb@1 >/dev/null
sed -i 's/netimg.version=bb@1/netimg.version=bb@2/' "$P/ipxe/channels/never.ipxe"
"$NETIMG" point --repo "$R" small bb@1 >/dev/null   # a machine that has too little RAM for it
sed -i 's/ netimg.repo=/ netimg.ram_reserve=100000 netimg.repo=/' "$P/ipxe/channels/small.ipxe"
boot $MA "$T/c4" & b1=$!
boot $MC "$T/c5" & b2=$!
boot $MD "$T/c6" & b3=$!
boot $ME "$T/c8" & b4=$!
wait $b1 $b2 $b3 $b4
is "$(booted "$T/c4")" 1 "rollback: machine a boots bb@1 again"
like "$(grep '^BOOTED' "$T/c4")" '"pointer_serial":3' "... through the rollback's pointer (serial 3)"
like "$(cat "$T/c5")" 'FAILED to boot bb@2: .*hash mismatch' "a tampered chunk: the init refuses bb@2 and says why"
like "$(cat "$T/c5")" 'falling back to bb@1' "... falls back to the channel's previous version"
is "$(booted "$T/c5")" 1 "... and boots bb@1"
like "$(grep '^BOOTED' "$T/c5")" '"fallback_from":"bb@2"' "booted.json records the fallback"
like "$(cat "$T/c6")" 'channel never \(serial 1\) points at bb@1 and never pointed at bb@2: not booting it' \
	"a version the channel never named is not booted"
is "$(booted "$T/c6")" "" "... nothing boots"
like "$(cat "$T/c8")" 'FAILED to boot bb@1: bb@1: not enough RAM: the image needs 1 MiB and the system 100000 MiB, [0-9]+ MiB are free' \
	"not enough RAM: one clear line"
like "$(cat "$T/c8")" 'no verified version of the channel could be booted' "... nothing else to boot: says so"
is "$(booted "$T/c8")" "" "... and reboots"

# The server stops once the init runs: it says so after bounded retries
# and reboots (qemu -no-reboot exits), no hang.
start=$(date +%s)
boot $MA "$T/c7" & b1=$!
for i in $(seq 2900); do tr -d '\r' <"$T/c7.raw" 2>/dev/null | grep -q 'netimg: netimg .* init' && break; sleep 0.1; done
{ kill -KILL "$SPID"; wait "$SPID"; } 2>/dev/null   # a crash: no graceful close of kept-alive connections
wait $b1; rc=$?
like "$(grep '^netimg: ' "$T/c7" | tr '\n' ' ')" "netimg: cannot boot: channel stable's pointer: .*mirror down" "server gone: one clear line"
like "$(cat "$T/c7")" 'netimg: rebooting in [0-9]+ s' "... then a reboot"
ok "... no hang: qemu exited by itself, before the time limit" test "$rc" = 0 -a $(( $(date +%s) - start )) -lt 290
is "$(booted "$T/c7")" "" "... and nothing unverified booted"
done_testing
