#!/bin/bash
# Boot files at publish, without booting: a kernel taken from the image
# itself ([boot] kernel = image), and the errors that stop a publish
# before anything is written.
. "$(dirname "$0")/../lib.sh"
plan 21
KDEB=$(ls "$CACHE"/kernel/linux-image-*.deb 2>/dev/null | head -n 1)
[ -n "$KDEB" ] || { echo "Bail out! no kernel package in $CACHE/kernel (run scripts/prepare-fixtures)"; exit 1; }
R=$T/repo
P=$R/public
"$NETIMG" init --repo "$R" >/dev/null && "$NETIMG" keygen --repo "$R" >/dev/null

# An image holding a kernel and some of its modules (merged /usr).
mkdir -p "$T/root" "$T/deb" && tar -xf "$CACHE/busybox-base.tar" -C "$T/root"
dpkg-deb --fsys-tarfile "$KDEB" | tar -x -C "$T/deb" --wildcards \
	'./boot/vmlinuz-*' '*/squashfs.ko' '*/loop.ko' '*/overlay.ko' '*/virtio*.ko' '*failover.ko'
REL=$(cd "$T/deb/boot" && ls vmlinuz-* | sed 's/^vmlinuz-//')
mkdir -p "$T/root/boot" "$T/root/usr/lib/modules"
cp "$T/deb/boot/vmlinuz-$REL" "$T/root/boot/"
mv "$T/deb/lib/modules/$REL" "$T/root/usr/lib/modules/"
printf '[image]\nname = k\nversion = 1\nepoch = 1767225600\n[base]\nsource = %s\n[boot]\nkernel = image\ncmdline = quiet\n' \
	"$T/root" >"$T/k1.ini"
"$NETIMG" build -q "$T/k1.ini" -o "$T/k1.sqfs"
like "$("$NETIMG" publish --repo "$R" "$T/k1.sqfs")" "boot files: kernel $REL, initramfs [0-9]+ bytes" \
	"kernel = image: publish takes the kernel and modules from the image"
M=$(tail -n +2 "$P/versions/k/1.json")
K=$(printf '%s' "$M" | perl -MJSON::PP -0777 -ne 'print decode_json($_)->{boot}{files}{kernel}{sha256}')
is "$K" "$(sha256sum <"$T/root/boot/vmlinuz-$REL" | cut -d' ' -f1)" "the manifest's kernel is the image's /boot/vmlinuz-$REL"
ok "... stored under its hash, world-readable" test "$(stat -c %a "$P/boot/$K.vmlinuz")" = 644
I=$(ls "$P"/boot/*.initramfs)
like "$(bsdtar -tf "$I" | tr '\n' ' ')" 'lib/modules/virtio_net\.ko .*lib/modules/squashfs\.ko .*lib/modules/loop\.ko .*lib/modules/overlay\.ko' \
	"the initramfs has the image's modules (from /usr/lib/modules, with their dependencies)"
like "$(bsdtar -xOf "$I" etc/netimg/modules | tr '\n' ' ')" '^(virtio_ring|virtio)\.ko .*failover\.ko .*net_failover\.ko virtio_net\.ko' \
	"... read from each module's .modinfo when there is no modules.dep, dependencies first"
ok "the initramfs carries no shared library (netimg-init and busybox are static)" \
	sh -c "! bsdtar -tf '$I' | grep -E '\.so(\.|\$)|lib/x86_64-linux-gnu|lib64'"
ok "... and is small: under 6 MB (the dynamic libcurl's libraries made it 10 MB)" \
	test "$(stat -c %s "$I")" -lt 6000000

# Errors: nothing is published.
printf '[image]\nname = k\nversion = 2\nepoch = 1767225600\n[base]\nsource = %s\n[boot]\nkernel = %s\n' \
	"$T/root" "$(ls "$CACHE"/debs/tzdata_*.deb | head -n 1)" >"$T/k2.ini"
"$NETIMG" build -q "$T/k2.ini" -o "$T/k2.sqfs"
fails "a package that is not a kernel is refused" "tzdata_.*: no boot/vmlinuz-\* in the package" "$NETIMG" publish --repo "$R" "$T/k2.sqfs"
ok "... and nothing is published" test ! -e "$P/versions/k/2.json"
rm -rf "$T/root/usr/lib/modules"
"$NETIMG" build -q "$T/k1.ini" -o "$T/k3.sqfs" && sed -i 's/"version": "1"/"version": "3"/' "$T/k3.json"
fails "an image without the kernel's modules is refused" "no /lib/modules/$REL in the image" "$NETIMG" publish --repo "$R" "$T/k3.sqfs"
ok "... and nothing is published" test ! -e "$P/versions/k/3.json"
fails "no netimg-init: a clear error" "/nonexistent/netimg-init: the initramfs's init" \
	env NETIMG_INIT=/nonexistent/netimg-init "$NETIMG" publish --repo "$R" --version 4 "$T/k1.sqfs"
fails "no busybox: a clear error" "/nonexistent/busybox: busybox \(package busybox-static\)" \
	env NETIMG_BUSYBOX=/nonexistent/busybox "$NETIMG" publish --repo "$R" --version 4 "$T/k1.sqfs"

# gc removes the boot files only removed versions named. k@5 is k@1's
# image published after stable pointed at k@1, so its initramfs holds
# another serial floor (another file); the kernel is the same file.
bootpath() { tail -n +2 "$P/versions/k/$1.json" |
	perl -MJSON::PP -0777 -ne 'print decode_json($_)->{boot}{files}{'"$2"'}{path}'; }
"$NETIMG" point --repo "$R" stable k@1 >/dev/null
"$NETIMG" publish --repo "$R" --version 5 "$T/k1.sqfs" >/dev/null
"$NETIMG" point --repo "$R" stable k@5 >/dev/null
I1=$(bootpath 1 initramfs) I5=$(bootpath 5 initramfs) K1=$(bootpath 1 kernel) K5=$(bootpath 5 kernel)
ok "k@1 and k@5 have initramfs files of their own, and one kernel file" \
	test -n "$I1" -a -n "$I5" -a "$I1" != "$I5" -a "$K1" = "$K5" -a -f "$P/$I1" -a -f "$P/$I5"
touch "$P/boot/.new.AbCdEf"
like "$("$NETIMG" gc --repo "$R" --keep 0 --dry-run)" "would remove boot file ${I1#boot/} \(no kept version uses it\)" \
	"gc --dry-run names the removed version's initramfs"
ok "... and removes nothing" test -f "$P/$I1"
out=$("$NETIMG" gc --repo "$R" --keep 0)
like "$out" "removed version k@1 \(manifest, locations\)" "gc removes k@1"
like "$out" "removed boot file ${I1#boot/} \(no kept version uses it\)" "... and its initramfs"
ok "... gone from boot/, with a publisher's leftover" test ! -e "$P/$I1" -a ! -e "$P/boot/.new.AbCdEf"
ok "the kept version's kernel (shared with k@1) and initramfs stay" test -f "$P/$K5" -a -f "$P/$I5"
ok "... and k@5 still verifies" "$NETIMG" verify --repo "$R" k@5
done_testing
