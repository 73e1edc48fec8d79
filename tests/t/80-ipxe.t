#!/bin/bash
# Netboot scripts: the host inventory, netimg ipxe (boot.ipxe, per-host and
# per-channel scripts with relative URLs), point/rollback rewriting the
# channel's script, and netimg pxe-config.
. "$(dirname "$0")/../lib.sh"
plan 43
R=$T/repo
P=$R/public
BB=$CACHE/busybox-base.tar
"$NETIMG" init --repo "$R" >/dev/null && "$NETIMG" keygen --repo "$R" >/dev/null
for v in 1 2; do
	printf '[image]\nname = bb\nversion = %s\nepoch = 1767225600\n[base]\nsource = %s\n' "$v" "$BB" >"$T/bb$v.ini"
	"$NETIMG" build -q "$T/bb$v.ini" -o "$T/bb$v.sqfs" && "$NETIMG" publish --repo "$R" "$T/bb$v.sqfs" >/dev/null
done
M1=52:54:00:00:00:01 M2=52-54-00-00-00-02

# ---- the inventory
like "$("$NETIMG" host add --repo "$R" $M1 --name web01 --channel stable)" "added 52:54:00:00:00:01 \(web01\) to channel stable" "host add"
like "$("$NETIMG" host add --repo "$R" $M2 --name web02 --channel canary)" "added 52:54:00:00:00:02" "host add normalises a MAC written with hyphens"
fails "a malformed MAC is refused" "'52:54:00:00:00': not a MAC address" "$NETIMG" host add --repo "$R" 52:54:00:00:00 --name x --channel stable
fails "a MAC already in the inventory is refused" "52:54:00:00:00:01: already in the inventory \(as web01\)" \
	"$NETIMG" host add --repo "$R" 52:54:00:00:00:01 --name other --channel stable
fails "a host name already taken is refused" "host name 'web01' is already taken" \
	"$NETIMG" host add --repo "$R" 52:54:00:00:00:09 --name web01 --channel stable
fails "a bad channel name is refused" "'../x': a channel name" "$NETIMG" host add --repo "$R" 52:54:00:00:00:09 --name x --channel ../x
fails "a bad host name is refused" "a host name is 1-64" "$NETIMG" host add --repo "$R" 52:54:00:00:00:09 --name 'a b' --channel stable
fails "removing an unknown host is refused" "nope: no such host" "$NETIMG" host remove --repo "$R" nope
fails "a folder that is not a repository is refused" "not a repository" "$NETIMG" host add --repo "$T" 52:54:00:00:00:09 --name x --channel s
out=$("$NETIMG" host list --repo "$R")
is "$(printf '%s\n' "$out" | awk 'NR > 1 { print $1, $2, $3 }' | tr '\n' ';')" \
	"52:54:00:00:00:01 web01 stable;52:54:00:00:00:02 web02 canary;" "host list, sorted by MAC"
is "$(stat -c %a "$R/private/hosts.json")" 600 "the inventory lives in private/, not served"
ok "nothing of the inventory is in public/ before netimg ipxe" test ! -e "$P/ipxe"
like "$("$NETIMG" host move --repo "$R" web02 --channel stable)" "moved 52:54:00:00:00:02 to channel stable" "host move by name"
"$NETIMG" host move --repo "$R" web02 --channel canary >/dev/null

# ---- netimg ipxe
"$NETIMG" ipxe --repo "$R" >"$T/o" 2>"$T/e"
is "$?" 2 "the first netimg ipxe needs --url"
fails "a URL that is not http(s) is refused" "--url 'ftp://x': a repository URL is http" "$NETIMG" ipxe --repo "$R" --url ftp://x
fails "a URL iPXE would expand is refused" "a repository URL" "$NETIMG" ipxe --repo "$R" --url 'http://a/${x}'
"$NETIMG" point --repo "$R" stable bb@1 >/dev/null
like "$("$NETIMG" ipxe --repo "$R" --url http://a.example/r,http://b.example/r)" \
	"wrote boot.ipxe, 2 channel scripts, 2 host scripts; unknown machines boot nothing" "netimg ipxe writes every script"
B=$P/boot.ipxe
like "$(head -n 1 "$B")" '^#!ipxe$' "boot.ipxe is an iPXE script"
like "$(cat "$B")" 'chain --replace --autofree ipxe/hosts/\$\{net0/mac:hexhyp\}\.ipxe \|\| goto unknown' "boot.ipxe chains by MAC, relatively"
like "$(cat "$B")" 'not in the inventory, and unknown machines boot nothing here.*retrying in 60 s' "unknown machines: a clear message"
like "$(grep -A2 'boot nothing' "$B" | tr '\n' ' ')" 'sleep 60 goto start' "... and a retry"
H1=$P/ipxe/hosts/52-54-00-00-00-01.ipxe
like "$(cat "$H1")" 'chain --replace --autofree \.\./channels/stable\.ipxe' "the host's script chains to its channel's, relatively"
S=$P/ipxe/channels/stable.ipxe
like "$(cat "$S")" 'channel stable -> bb@1 \(pointer serial 1\)' "the channel's script names its version"
like "$(cat "$S")" 'its version has no boot files.*retrying in 30 s' "a version without boot files: a clear message and a retry"
like "$(cat "$P/ipxe/channels/canary.ipxe")" 'no version is pointed at yet' "a channel without a pointer: a clear message"
is "$(grep -l 'http' "$B" "$H1" "$S" | wc -l)" 0 "no script holds an absolute URL"
is "$(find "$P/boot.ipxe" "$P/ipxe" -type f ! -perm 0644 | wc -l)" 0 "every script is world-readable"
is "$(find "$P" -name '*.tmp*' | wc -l)" 0 "no temporary file is left in public/"

# ---- point and rollback rewrite the channel's script (by rename)
ino=$(stat -c %i "$S")
"$NETIMG" point --repo "$R" stable bb@2 >/dev/null
like "$(cat "$S")" 'channel stable -> bb@2 \(pointer serial 2\)' "point rewrites the channel's script"
isnt_ino=$(stat -c %i "$S")
ok "... by an atomic rename (a new file, not an edit in place)" test "$ino" != "$isnt_ino"
"$NETIMG" rollback --repo "$R" stable >/dev/null
like "$(cat "$S")" 'channel stable -> bb@1 \(pointer serial 3\)' "rollback rewrites the channel's script"
"$NETIMG" host move --repo "$R" web01 --channel canary >/dev/null
like "$(cat "$H1")" 'chain --replace --autofree \.\./channels/canary\.ipxe' "host move rewrites the host's script"
"$NETIMG" host remove --repo "$R" $M1 >/dev/null
ok "host remove removes the host's script" test ! -e "$H1"
"$NETIMG" ipxe --repo "$R" --default stable >/dev/null
like "$(tr '\n' ' ' <"$B")" 'booting the default channel stable chain --replace --autofree ipxe/channels/stable\.ipxe' "--default: unknown machines boot the default channel"
like "$(cat "$R/private/netboot.json")" 'http://b.example/r' "a later netimg ipxe keeps the saved URLs"

fails "netimg initrd: a version without boot files is refused" "bb@1 has no boot files" "$NETIMG" initrd --repo "$R" bb@1
fails "netimg initrd: an unpublished version is refused" "bb@7: not published" "$NETIMG" initrd --repo "$R" bb@7

# ---- pxe-config
out=$("$NETIMG" pxe-config --url http://10.0.0.5:8080/repo --subnet 10.0.0.0)
like "$out" 'dhcp-range=10\.0\.0\.0,proxy' "pxe-config: proxy DHCP on the given subnet"
like "$(printf '%s\n' "$out" | grep -c '^pxe-service=tag:!ipxe.*\(undionly\.kpxe\|snponly\.efi\)$')" '^3$' "PXE firmware chainloads Debian's iPXE (BIOS, UEFI)"
like "$out" 'pxe-service=tag:ipxe,x86PC,"netimg",http://10\.0\.0\.5:8080/repo/boot\.ipxe' "iPXE gets boot.ipxe"
like "$("$NETIMG" pxe-config --url http://h/r --interface lo | tr '\n' ' ')" 'interface=lo .*dhcp-range=127\.0\.0\.0,proxy' "--interface: the subnet comes from the interface"
fails "pxe-config needs a subnet or an interface" "give --interface IF or --subnet NET" "$NETIMG" pxe-config --url http://h/r
fails "pxe-config: an unknown interface is refused" "interface nosuch0: no IPv4 address" "$NETIMG" pxe-config --url http://h/r --interface nosuch0
done_testing
