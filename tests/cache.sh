# tests/cache.sh: the repository the cache tests share, sourced after
# lib.sh: R (the repository), K (its public key) and three published
# versions: bb@1 the busybox base, bb@2 and bb@3 each with 600 KB of its
# own (random: it does not compress, and lands in a chunk of its own).
BB=$CACHE/busybox-base.tar
R=$T/repo
K=$R/repo.pub

_bb_version() {   # N [x: with 600 KB of its own]
	local n=$1 cat=$T/cat$1
	printf '[image]\nname = bb\nversion = %s\nepoch = 1767225600\n[base]\nsource = %s\n' "$n" "$BB" >"$T/bb$n.ini"
	if [ $# -gt 1 ]; then
		mkdir -p "$T/p$n/opt" "$cat"
		head -c 614400 /dev/urandom >"$T/p$n/opt/blob$n"
		tar --numeric-owner --owner=0 --group=0 -C "$T/p$n" -cf "$T/p$n.tar" ./opt
		"$NETIMG" patch add --catalog "$cat" "$T/p$n.tar" --id P$n --severity low >/dev/null
		"$NETIMG" patch approve --catalog "$cat" P$n --by t >/dev/null
		printf '[patches]\ncatalog = %s\n' "$cat" >>"$T/bb$n.ini"
	fi
	"$NETIMG" build -q "$T/bb$n.ini" -o "$T/bb$n.sqfs" &&
		"$NETIMG" publish --repo "$R" "$T/bb$n.sqfs" >/dev/null
}
"$NETIMG" init --repo "$R" >/dev/null && "$NETIMG" keygen --repo "$R" >/dev/null &&
	_bb_version 1 && _bb_version 2 x && _bb_version 3 x ||
	{ echo "Bail out! cannot build the versions"; exit 1; }

# serve_logged REPO [PORT]: netimg serve of REPO with its access log kept:
# LOG, URL, PORT, SERVER
serve_logged() {
	local out=$T/.serve.$RANDOM i
	LOG=$T/access.$RANDOM.log
	"$NETIMG" serve --repo "$1" --listen "127.0.0.1:${2:-0}" >"$out" 2>"$LOG" &
	BG_PIDS+=($!)
	SERVER=$!
	for i in $(seq 50); do grep -q http "$out" 2>/dev/null && break; sleep 0.1; done
	URL=$(sed -n 's|.*\(http://[^ ]*/\).*|\1|p' "$out")
	PORT=$(echo "$URL" | sed -n 's|.*:\([0-9]*\)/.*|\1|p')
}
