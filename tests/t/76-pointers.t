#!/bin/bash
# The client side of channels: fetch/verify/show CHANNEL trust a pointer
# only when it is signed by the key the client holds, names this channel,
# has not expired, and its serial is no lower than the highest the client
# has seen (kept per key and channel in the state folder). The client
# configuration file gives the same options.
. "$(dirname "$0")/../lib.sh"
plan 37
R=$T/repo
BB=$CACHE/busybox-base.tar
"$NETIMG" init --repo "$R" >/dev/null && "$NETIMG" keygen --repo "$R" >/dev/null
for v in 1 2 3; do
	mkdir -p "$T/root$v" && tar -xf "$BB" -C "$T/root$v" && echo "release $v" >"$T/root$v/etc/release"
	printf '[image]\nname = bb\nversion = %s\nepoch = 1767225600\n[base]\nsource = %s\n' \
		"$v" "$T/root$v" >"$T/bb$v.ini"
	"$NETIMG" build -q "$T/bb$v.ini" -o "$T/bb$v.sqfs" >/dev/null &&
		"$NETIMG" publish --repo "$R" "$T/bb$v.sqfs" >/dev/null
done
serve_repo "$R"
K=$R/repo.pub
S=$T/state
C=$R/public/channels/stable.json
fetch() { "$NETIMG" fetch --repo "$URL" --key "$K" --state "$S" "$@"; }

"$NETIMG" point --repo "$R" stable bb@1 >/dev/null
out=$(fetch stable -o "$T/got.sqfs")
like "$out" "channel stable: serial 1, bb@1" "fetch CHANNEL resolves the pointer"
ok "the image fetched for the channel is the pointed version" cmp "$T/got.sqfs" "$T/bb1.sqfs"
FPR=$(openssl pkey -pubin -in "$K" -outform DER | sha256sum | cut -d' ' -f1)
is "$(jget "$S/channels/$FPR/stable.json" '$d->{serial}')" 1 "the state keeps the serial seen, per key and channel"
cp "$C" "$T/stable-serial1.json"
"$NETIMG" point --repo "$R" stable bb@2 >/dev/null
fetch stable -o "$T/got.sqfs" >/dev/null
ok "after a repoint the new version is fetched" cmp "$T/got.sqfs" "$T/bb2.sqfs"
is "$(jget "$S/channels/$FPR/stable.json" '$d->{serial}')" 2 "the state moved to serial 2"
like "$("$NETIMG" show --repo "$URL" --key "$K" --state "$S" stable)" "bb@2" "show CHANNEL shows the pointed version"
like "$("$NETIMG" verify --repo "$URL" --key "$K" --state "$S" stable)" "bb@2: ok" "verify CHANNEL checks the pointed version"

# A mirror replays the older, validly signed pointer.
cp "$C" "$T/stable-serial2.json"
cp "$T/stable-serial1.json" "$C"
fails "a replayed older pointer is refused" "channels/stable.json: replayed pointer: serial 1 is lower than 2 seen before" \
	fetch stable -o "$T/got.sqfs"
ok "the replay left the earlier output untouched" cmp "$T/got.sqfs" "$T/bb2.sqfs"
fails "verify refuses it too" "replayed pointer" "$NETIMG" verify --repo "$URL" --key "$K" --state "$S" stable
fails "show refuses it too" "replayed pointer" "$NETIMG" show --repo "$URL" --key "$K" --state "$S" stable
is "$(jget "$S/channels/$FPR/stable.json" '$d->{serial}')" 2 "the refused pointer did not lower the state"
like "$(fetch --state "$T/other-state" stable -o "$T/o1.sqfs")" "serial 1, bb@1" \
	"a client without that state accepts it (expiry is what protects stateless clients)"
cp "$T/stable-serial2.json" "$C"

# Rollback is a new pointer with a higher serial: accepted.
"$NETIMG" rollback --repo "$R" stable >/dev/null
like "$(fetch stable -o "$T/got.sqfs")" "serial 3, bb@1" "a rollback (higher serial, older version) is accepted"
ok "the rolled-back image is the old version" cmp "$T/got.sqfs" "$T/bb1.sqfs"

# Expiry.
"$NETIMG" point --repo "$R" stable bb@3 --expires 1 >/dev/null
sleep 2
rm -f "$T/exp.sqfs"
fails "an expired pointer is refused" "channels/stable.json: expired pointer \(expired 20[0-9-]+ [0-9:]+ UTC" \
	fetch stable -o "$T/exp.sqfs"
ok "nothing was written for the expired pointer" test ! -e "$T/exp.sqfs"
like "$("$NETIMG" history --repo "$URL" --key "$K" stable | tail -1)" "^EXPIRED 20" "history says the pointer expired"
fails "point --expires refuses junk" "--expires 5x: expected a duration" "$NETIMG" point --repo "$R" stable bb@3 --expires 5x
"$NETIMG" point --repo "$R" stable bb@3 --expires 2h >/dev/null
like "$(tail -n +2 "$C" | perl -MJSON::PP -0777 -ne 'my $d = decode_json($_); print $d->{expires} - $d->{time}')" "^7200$" \
	"point --expires 2h"

# A pointer served under another channel's name.
cp "$C" "$R/public/channels/beta.json"
fails "another channel's pointer under this name is refused" "channels/beta.json: the pointer is for channel 'stable', not 'beta'" \
	fetch beta -o "$T/b.sqfs"
rm "$R/public/channels/beta.json"
fails "a channel that does not exist" "channels/nope.json: no such channel" fetch nope -o "$T/n.sqfs"

# A pointer signed with the right key that names another manifest than
# the one served (a second repository sharing the key, pointing at a
# different bb@3).
R2=$T/repo2
"$NETIMG" init --repo "$R2" >/dev/null && cp -a "$R/private/." "$R2/private/" && cp "$K" "$R2/repo.pub"
printf '[image]\nname = bb\nversion = 3\nepoch = 1767225601\n[base]\nsource = %s\n' "$BB" >"$T/bb3b.ini"
"$NETIMG" build -q "$T/bb3b.ini" -o "$T/bb3b.sqfs" >/dev/null && "$NETIMG" publish --repo "$R2" "$T/bb3b.sqfs" >/dev/null
"$NETIMG" point --repo "$R2" stable bb@3 >/dev/null
cp "$C" "$T/stable-good.json"
# Give the foreign pointer a serial above the state's (point it enough times).
for i in 1 2 3 4 5 6; do "$NETIMG" point --repo "$R2" stable bb@3 >/dev/null; done
cp "$R2/public/channels/stable.json" "$C"
fails "a pointer naming another manifest than the one served is refused" \
	"bb@3: versions/bb/3.json: the manifest is not the one the channel pointer names" fetch stable -o "$T/m.sqfs"
cp "$T/stable-good.json" "$C"

fails "a state folder that cannot be written is a clear error" "cannot keep client state \(give --state DIR\)" \
	fetch --state /proc/netimg-state stable -o "$T/s.sqfs"

# A mirror serving one version's (validly signed) manifest under another's name.
cp "$R/public/versions/bb/2.json" "$T/bb2.manifest" && cp "$R/public/versions/bb/1.json" "$R/public/versions/bb/2.json"
fails "another version's signed manifest under this name is refused (fetch)" \
	"versions/bb/2.json: signed, but it is the manifest of bb@1, not bb@2" fetch bb@2 -o "$T/w.sqfs"
fails "... and by show" "it is the manifest of bb@1, not bb@2" "$NETIMG" show --repo "$URL" --key "$K" bb@2
cp "$T/bb2.manifest" "$R/public/versions/bb/2.json"

# The same through nginx with the sample configuration (pointers are
# served no-cache, so a repoint is seen at once).
# (A fresh state: the foreign pointer above was validly signed, so its
# serial was rightly recorded.)
URL0=$URL S0=$S S=$T/nginx-state
serve_nginx "$R"
like "$(fetch stable -o "$T/n.sqfs")" "channel stable: serial [0-9]+, bb@3" "through nginx: fetch CHANNEL"
ok "through nginx: the image is the pointed version" cmp "$T/n.sqfs" "$T/bb3.sqfs"
"$NETIMG" rollback --repo "$R" stable --to bb@2 >/dev/null
like "$(fetch stable -o "$T/n.sqfs")" "bb@2" "through nginx: a repoint is seen at once"
cp "$C" "$T/stable-good.json" && cp "$T/stable-serial1.json" "$C"
fails "through nginx: a replayed pointer is refused" "replayed pointer: serial 1 is lower than" fetch stable -o "$T/n.sqfs"
cp "$T/stable-good.json" "$C"
URL=$URL0 S=$S0

# The client configuration file.
cat >"$T/client.conf" <<CONF
# a laptop's configuration
[client]
repo = http://127.0.0.1:9/,$URL
key = $K
state = $T/conf-state

[agent]
interval = 300
CONF
like "$("$NETIMG" fetch --config "$T/client.conf" stable -o "$T/c.sqfs")" "serial [0-9]+, bb@2" \
	"fetch with only --config (repo with a dead first mirror, key, state from the file)"
ok "the state folder named in the config file was used" test -d "$T/conf-state/channels/$FPR"
like "$(NETIMG_CONFIG=$T/client.conf "$NETIMG" versions)" "bb@1" "\$NETIMG_CONFIG names the file"
printf '[client]\nrepo = %s\nkye = %s\n' "$URL" "$K" >"$T/typo.conf"
fails "an unknown key in the config file names FILE:LINE" "typo.conf:3: \[client\] unknown key 'kye'" \
	"$NETIMG" fetch --config "$T/typo.conf" stable -o "$T/c.sqfs"
printf '[client]\nrepo = %s\n[clinet]\n' "$URL" >"$T/sect.conf"
fails "an unknown section in the config file" "sect.conf:3: unknown section \[clinet\]" \
	"$NETIMG" versions --config "$T/sect.conf"
printf '[client]\nrepo = %s\n' "$URL" >"$T/nokey.conf"
fails "a URL with no key anywhere is refused" "give the repository's public key with --key" \
	"$NETIMG" versions --config "$T/nokey.conf"
fails "a config file that does not exist, when named" "missing.conf: No such file" \
	"$NETIMG" versions --config "$T/missing.conf"
done_testing
