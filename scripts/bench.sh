#!/usr/bin/env bash
# sealpost against what a user would otherwise run (gpg, then OpenSSH sftp),
# side by side on this machine: a loopback sshd and a GnuPG home of its own,
# the same data, in turns, medians of BENCH_ROUNDS rounds.
#
#   BENCH_SIZE_MB=1024   size of the large file (incompressible)
#   BENCH_ROUNDS=3       rounds per measurement (the median is printed)
#   BENCH_SMALL=1000     number of 4 KiB items
#   BENCH_RSS_MB=4096    bundle size for the peak-RSS rows (0 = skip)
#   BENCH_DIR=           work folder (default: a temporary one, removed)
#   SEALPOST=bin/sealpost
#
# A quick run: BENCH_SIZE_MB=128 BENCH_ROUNDS=1 BENCH_SMALL=100 BENCH_RSS_MB=256 make bench
set -euo pipefail

SIZE_MB=${BENCH_SIZE_MB:-1024}
ROUNDS=${BENCH_ROUNDS:-3}
SMALL=${BENCH_SMALL:-1000}
RSS_MB=${BENCH_RSS_MB:-4096}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SEALPOST=$(realpath "${SEALPOST:-$ROOT/bin/sealpost}")
SSHD=/usr/sbin/sshd

log() { echo "bench: $*" >&2; }
die() { log "$*"; exit 1; }

[ -x "$SEALPOST" ] || die "$SEALPOST missing: run make build first"
"$ROOT/scripts/test-deps.sh"
if [ ! -x /usr/bin/time ]; then
	sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq time >/dev/null
fi

if [ -n "${BENCH_DIR:-}" ]; then
	W=$(realpath -m "$BENCH_DIR"); mkdir -p "$W"
else
	W=$(mktemp -d /tmp/sealpost-bench.XXXXXX)
fi
SSHD_PID=""
cleanup() {
	[ -n "$SSHD_PID" ] && kill "$SSHD_PID" 2>/dev/null || true
	GNUPGHOME="$W/gnupg" gpgconf --kill gpg-agent 2>/dev/null || true
	[ -z "${BENCH_DIR:-}" ] && rm -rf "$W"
	true
}
trap cleanup EXIT

# ---------------------------------------------------------------- sshd
USER_NAME=$(id -un)
mkdir -p "$W/ssh" "$W/drop/to-uk" "$W/drop/to-us" "$W/drop/plain" "$W/tmp"
ssh-keygen -q -t ed25519 -N "" -C sealpost-bench -f "$W/ssh/host_ed25519"
ssh-keygen -q -t ed25519 -N "" -C sealpost-bench -f "$W/ssh/id_ed25519"
cp "$W/ssh/id_ed25519.pub" "$W/ssh/authorized_keys"
[ "$(id -u)" -eq 0 ] && mkdir -p /run/sshd
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
	done
	die "no free port found"
}
PORT=$(free_port)
cat >"$W/ssh/sshd_config" <<EOF
Port $PORT
ListenAddress 127.0.0.1
HostKey $W/ssh/host_ed25519
AuthorizedKeysFile $W/ssh/authorized_keys
AllowUsers $USER_NAME
PidFile none
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowTcpForwarding no
X11Forwarding no
Subsystem sftp internal-sftp
LogLevel ERROR
EOF
"$SSHD" -D -e -f "$W/ssh/sshd_config" 2>"$W/ssh/sshd.log" &
SSHD_PID=$!
for _ in $(seq 100); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
	sleep 0.05
done
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$W/ssh/host_ed25519.pub")" >"$W/ssh/known_hosts"
SFTP=(sftp -q -i "$W/ssh/id_ed25519" -o UserKnownHostsFile="$W/ssh/known_hosts" -o StrictHostKeyChecking=yes
	-o BatchMode=yes -o GlobalKnownHostsFile=/dev/null -P "$PORT")
sftp_batch() { "${SFTP[@]}" -b - "$USER_NAME@127.0.0.1" >/dev/null; }
echo "ls /" | sftp_batch || die "sftp cannot log in to the bench sshd: $(cat "$W/ssh/sshd.log")"

# ---------------------------------------------------------------- keys, gpg, sealpost
for id in us uk; do
	mkdir -p "$W/$id"
	"$SEALPOST" keys generate --id "$id" -o "$W/$id/keys" | awk '$1=="fingerprint"{print $2}' >"$W/$id/fpr"
done
FP_US=$(cat "$W/us/fpr"); FP_UK=$(cat "$W/uk/fpr")
export GNUPGHOME="$W/gnupg"
mkdir -p "$GNUPGHOME"; chmod 700 "$GNUPGHOME"
gpg --batch -q --import "$W/us/keys/us.secret.asc" "$W/uk/keys/uk.secret.asc" 2>/dev/null
gpg --batch -q --list-secret-keys "$FP_US" "$FP_UK" >/dev/null || die "gpg did not import the keys"
GPG=(gpg --batch -q --yes --trust-model always)

# config SELF PEER PUSH PULL PROFILE
config() {
	local self=$1 peer=$2 push=$3 pull=$4 profile=$5
	local fp; [ "$peer" = uk ] && fp=$FP_UK || fp=$FP_US
	cat <<EOF
identity:
  id: $self
  private_key: $W/$self/keys/$self.secret.asc
state_dir: $W/$self/state
partners:
  $peer:
    public_key: $W/$peer/keys/$peer.public.asc
    fingerprints: ["$fp"]
    sftp:
      address: 127.0.0.1:$PORT
      user: $USER_NAME
      private_key: $W/ssh/id_ed25519
      known_hosts: $W/ssh/known_hosts
      push_dir: $push
      pull_dir: $pull
    pgp:
      profile: $profile
    limits:
      max_bytes: 100GiB
      max_files: 100000
    settle: 0s
EOF
}
config us uk "$W/drop/to-uk" "$W/drop/to-us" auto >"$W/us/v1.yaml"
config us uk "$W/drop/to-uk" "$W/drop/to-us" rfc9580 >"$W/us/v2.yaml"
config uk us "$W/drop/to-us" "$W/drop/to-uk" auto >"$W/uk/sealpost.yaml"
US=("$SEALPOST" --config "$W/us/v1.yaml")
US2=("$SEALPOST" --config "$W/us/v2.yaml")
UK=("$SEALPOST" --config "$W/uk/sealpost.yaml")
"${US[@]}" status >/dev/null # creates the state folders
"${UK[@]}" status >/dev/null
OUTBOX="$W/us/state/outbox/uk"
[ -d "$OUTBOX" ] || die "no outbox at $OUTBOX"

# ---------------------------------------------------------------- data
DATA="$W/data/big.bin"
mkdir -p "$W/data/small"
head -c "$((SIZE_MB << 20))" /dev/urandom >"$DATA"
for i in $(seq -w 1 "$SMALL"); do head -c 4096 /dev/urandom >"$W/data/small/item-$i.bin"; done
BYTES=$((SIZE_MB << 20))

# ---------------------------------------------------------------- timing helpers
calc() { awk "BEGIN { printf \"%.6f\", $* }"; }
# timed CMD...: runs CMD, prints seconds elapsed on stdout.
timed() {
	local t0 t1
	t0=$(date +%s%N)
	"$@" >/dev/null 2>>"$W/commands.log"
	t1=$(date +%s%N)
	calc "($t1 - $t0) / 1e9"
}
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
declare -A T # T[key] = newline-separated seconds
add() { T[$1]="${T[$1]:-}$2"$'\n'; }
med() { printf '%s' "${T[$1]}" | grep -v '^$' | median; }
mbps() { calc "$BYTES / 1048576 / $1"; }
clear_state() { # drops what a round left, keeps keys and config
	rm -rf "$W/us/state/sent/uk/"* "$W/uk/state/inbox/us/"* "$W/uk/state/received/us/"* \
		"$W/drop/to-uk/"* "$W/drop/to-us/"* "$W/drop/plain/"* "$W/tmp/"*
}

# ---------------------------------------------------------------- the commands
sp_seal() { "$1" --config "$2" bundle seal --to uk -o "$W/tmp/sp.pgp" "$DATA"; }
gpg_seal() { "${GPG[@]}" -z 0 -u "$FP_US" -r "$FP_UK" --sign --encrypt -o "$W/tmp/gpg.pgp" "$DATA"; }
sp_open() { rm -rf "$W/tmp/open"; "${UK[@]}" bundle open --from us -o "$W/tmp/open" "$1"; }
gpg_open() { "${GPG[@]}" --decrypt -o "$W/tmp/gpg.out" "$1" 2>/dev/null; }
sp_push() { "${US[@]}" run --push-only; }
gpg_push() {
	gpg_seal && printf 'put %s %s\n' "$W/tmp/gpg.pgp" "$W/drop/to-uk/gpg.pgp" | sftp_batch
}
sp_pull() { "${UK[@]}" run --pull-only; }
gpg_pull() {
	printf 'get %s %s\n' "$W/drop/to-uk/gpg.pgp" "$W/tmp/got.pgp" | sftp_batch &&
		"${GPG[@]}" --decrypt -o "$W/tmp/got.out" "$W/tmp/got.pgp" 2>/dev/null
}
sp_small() { "${US[@]}" run --push-only; }
gpg_small() {
	mkdir -p "$W/tmp/smallgpg"
	for f in "$W/data/small/"*; do
		"${GPG[@]}" -z 0 -u "$FP_US" -r "$FP_UK" --sign --encrypt -o "$W/tmp/smallgpg/${f##*/}.pgp" "$f"
	done
	printf 'put -r %s %s\n' "$W/tmp/smallgpg" "$W/drop/to-uk/smallgpg" | sftp_batch
}
plain_small() { printf 'put -r %s %s\n' "$W/data/small" "$W/drop/plain/small" | sftp_batch; }
queue_big() { cp "$DATA" "$OUTBOX/big.bin"; sync; }
queue_small() { cp -r "$W/data/small/." "$OUTBOX/"; sync; }

# ---------------------------------------------------------------- rounds
log "work folder $W; sshd on 127.0.0.1:$PORT; ${SIZE_MB} MiB, $SMALL small items, $ROUNDS rounds"
for r in $(seq "$ROUNDS"); do
	log "round $r/$ROUNDS: seal and open"
	clear_state
	add seal_v1_sp "$(timed sp_seal "$SEALPOST" "$W/us/v1.yaml")"; cp "$W/tmp/sp.pgp" "$W/tmp/sp-v1.pgp"
	add seal_gpg "$(timed gpg_seal)"
	add seal_v2_sp "$(timed sp_seal "$SEALPOST" "$W/us/v2.yaml")"; cp "$W/tmp/sp.pgp" "$W/tmp/sp-v2.pgp"
	add open_v1_sp "$(timed sp_open "$W/tmp/sp-v1.pgp")"
	add open_gpg "$(timed gpg_open "$W/tmp/sp-v1.pgp")"
	add open_v2_sp "$(timed sp_open "$W/tmp/sp-v2.pgp")"
	add open_gpg_own "$(timed gpg_open "$W/tmp/gpg.pgp")"

	log "round $r/$ROUNDS: push and pull"
	clear_state
	queue_big
	add push_sp "$(timed sp_push)"
	ls "$W/drop/to-uk/"*.pgp >/dev/null || die "sealpost pushed nothing"
	add push_gpg "$(timed gpg_push)"
	add pull_gpg "$(timed gpg_pull)"
	rm -f "$W/drop/to-uk/gpg.pgp"
	add pull_sp "$(timed sp_pull)"
	[ -n "$(ls "$W/uk/state/inbox/us/")" ] || die "sealpost filed nothing"

	log "round $r/$ROUNDS: $SMALL small items"
	clear_state
	queue_small
	add small_sp "$(timed sp_small)"
	n=$(ls "$W/drop/to-uk" | grep -c '\.pgp$' || true)
	[ "$n" -eq "$SMALL" ] || die "sealpost pushed $n of $SMALL small items"
	add small_gpg "$(timed gpg_small)"
	add small_plain "$(timed plain_small)"
done

# ---------------------------------------------------------------- peak RSS
rss() { # rss CMD...: peak RSS in KiB
	/usr/bin/time -f '%M' -o "$W/tmp/rss" "$@" >/dev/null 2>>"$W/commands.log"
	cat "$W/tmp/rss"
}
if [ "$RSS_MB" -gt 0 ]; then
	log "peak RSS with a $RSS_MB MiB bundle"
	clear_state
	rm -f "$DATA"
	head -c "$((RSS_MB << 20))" /dev/urandom >"$OUTBOX/huge.bin"
	RSS_PUSH=$(rss "${US[@]}" run --push-only)
	rm -rf "$W/us/state/sent/uk/"*
	RSS_PULL=$(rss "${UK[@]}" run --pull-only)
	clear_state
fi

# ---------------------------------------------------------------- table
ratio() { calc "$1 / $2"; }
row() { # row WHAT SP_SECONDS BASE_SECONDS TARGET NOTE (MB/s columns)
	local sp base
	sp=$(mbps "$2"); base=$(mbps "$3")
	printf '| %-44s | %9.0f | %9.0f | %5.2f× | %-6s | %s\n' "$1" "$sp" "$base" "$(ratio "$sp" "$base")" "$4" "$5"
}
cpu=$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)
echo
echo "machine: $(nproc) cores, $cpu, $(awk '/MemTotal/{printf "%d MiB", $2/1024}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg);" \
	"$(gpg --version | head -1), $(ssh -V 2>&1 | cut -d, -f1), $(go version 2>/dev/null | cut -d' ' -f3)"
echo "data: ${SIZE_MB} MiB from /dev/urandom; medians of $ROUNDS rounds, sealpost and baseline in turns; MB/s = MiB/s"
echo
printf '| %-44s | %9s | %9s | %6s | %-6s | %s\n' "what (MiB/s unless noted)" sealpost baseline ratio target "baseline"
echo "|----------------------------------------------|-----------|-----------|--------|--------|---------"
row "seal, GnuPG 2.2 format (SEIPDv1)" "$(med seal_v1_sp)" "$(med seal_gpg)" "≥1.2×" "gpg -z 0 --sign --encrypt"
row "seal, SEIPDv2 (pgp.profile rfc9580)" "$(med seal_v2_sp)" "$(med seal_gpg)" "≥3×" "the same gpg run: gpg 2.2 cannot write SEIPDv2"
row "open, SEIPDv1 (sealpost's bundle)" "$(med open_v1_sp)" "$(med open_gpg)" "≥0.6×" "gpg --decrypt of the same file (SHA-256 signed)"
row "open, SEIPDv2" "$(med open_v2_sp)" "$(med open_gpg)" "≥1.5×" "gpg --decrypt of the SEIPDv1 file: gpg 2.2 cannot read v2"
row "push: seal + self-check + upload (run)" "$(med push_sp)" "$(med push_gpg)" "≥1.5×" "gpg --sign --encrypt && sftp put"
row "pull: download + open + file (run)" "$(med pull_sp)" "$(med pull_gpg)" "≥1.5×" "sftp get && gpg --decrypt"
sm_sp=$(med small_sp); sm_gpg=$(med small_gpg); sm_plain=$(med small_plain)
fps() { calc "$SMALL / $1"; }
printf '| %-44s | %9.0f | %9.0f | %5.2f× | %-6s | %s\n' "$SMALL × 4 KiB items, files/s" "$(fps "$sm_sp")" "$(fps "$sm_gpg")" \
	"$(ratio "$(fps "$sm_sp")" "$(fps "$sm_gpg")")" "" "gpg per file, then one sftp put -r"
printf '| %-44s | %9.0f | %9.0f | %5.2f× | %-6s | %s\n' "$SMALL × 4 KiB items, files/s" "$(fps "$sm_sp")" "$(fps "$sm_plain")" \
	"$(ratio "$(fps "$sm_sp")" "$(fps "$sm_plain")")" "≥1.0×" "plain sftp put -r, no encryption"
if [ "$RSS_MB" -gt 0 ]; then
	printf '| %-44s | %9s | %9s | %6s | %-6s | %s\n' "peak RSS, push of a $RSS_MB MiB bundle" "$((RSS_PUSH / 1024)) MiB" "" "" "≤64MiB" "sealpost run --push-only"
	printf '| %-44s | %9s | %9s | %6s | %-6s | %s\n' "peak RSS, pull of a $RSS_MB MiB bundle" "$((RSS_PULL / 1024)) MiB" "" "" "≤64MiB" "sealpost run --pull-only"
fi
echo
echo "gpg opening its own message (SHA-512 signed): $(printf '%.0f' "$(mbps "$(med open_gpg_own)")") MiB/s"
echo
