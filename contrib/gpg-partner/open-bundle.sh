#!/usr/bin/env bash
# open-bundle.sh — read a sealpost bundle with gpg, tar, sha256sum and jq
# only, checking it as docs/format.md (section 2) says a reader must.
#
#   open-bundle.sh BUNDLE.pgp OUTDIR SENDER_FINGERPRINT
#
# GNUPGHOME holds your secret key and the sender's public key. OUTDIR must
# not exist yet; it gets manifest.json and payload/. Any failed check exits
# non-zero, and then nothing in OUTDIR may be trusted (the script removes it).
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 BUNDLE.pgp OUTDIR SENDER_FINGERPRINT" >&2; exit 2; }
file=$1 out=$2
pin=$(printf '%s' "$3" | tr -d ' ' | tr a-f A-F)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "open-bundle: $file: $*" >&2; rm -rf "$out"; exit 1; }
mkdir "$out"

# 1. Decrypt with our key and verify the signature. --status-file gives
#    machine-readable lines; the key's trust comes from the pinned
#    fingerprint below, not from the web of trust.
gpg --batch --no-tty --trust-model always --status-file "$work/status" \
    --output "$work/bundle.tar" --decrypt "$file" 2>"$work/gpg.log" ||
    { cat "$work/gpg.log" >&2; fail "gpg could not decrypt or verify it"; }
grep -q '^\[GNUPG:\] DECRYPTION_OKAY' "$work/status" || fail "not encrypted"
if grep -Eq '^\[GNUPG:\] (BADSIG|ERRSIG|BADMDC|DECRYPTION_FAILED)' "$work/status"; then
    fail "bad signature or integrity"; fi
# Exactly one good signature, by the pinned key (VALIDSIG names the signing
# key first and the primary key last).
[ "$(grep -c '^\[GNUPG:\] VALIDSIG ' "$work/status")" -eq 1 ] || fail "not exactly one signature"
read -r _ _ signer _ < <(grep '^\[GNUPG:\] VALIDSIG ' "$work/status")
primary=$(grep '^\[GNUPG:\] VALIDSIG ' "$work/status" | awk '{print $NF}')
[ "$signer" = "$pin" ] || [ "$primary" = "$pin" ] || fail "signed by $primary, not by $pin"

# 2. The tar: only plain files and folders, manifest.json last, no
#    absolute paths or "..".
tar -tvf "$work/bundle.tar" > "$work/long"
cut -c1 "$work/long" | grep -v '[-d]' >/dev/null && fail "the tar holds links or special files"
tar -tf "$work/bundle.tar" > "$work/names"
grep -Eq '^/|(^|/)\.\.(/|$)' "$work/names" && fail "the tar has an absolute path or .."
[ "$(tail -n 1 "$work/names")" = manifest.json ] || fail "manifest.json is not the last entry"
tar -x --no-same-owner --no-same-permissions -C "$out" -f "$work/bundle.tar"

# 3. The manifest: its format, and every payload file's size and sha256;
#    no file missing, none extra.
m=$out/manifest.json
[ "$(jq -r .format "$m")" = sealpost-bundle/1 ] || fail "manifest format is not sealpost-bundle/1"
jq -r '.files[].path' "$m" | grep -Ev '^payload/' && fail "a manifest path is not under payload/"
jq -r '.files[] | "\(.sha256)  \(.path)"' "$m" > "$work/sums"
if [ -s "$work/sums" ]; then   # a receipt has no files
    (cd "$out" && sha256sum --check --strict --quiet "$work/sums") || fail "a file's sha256 disagrees with the manifest"
fi
jq -r '.files[] | "\(.size) \(.path)"' "$m" | while read -r size path; do
    [ "$(stat -c %s "$out/$path")" = "$size" ] || fail "$path is not $size bytes"
done
(cd "$out" && find . -type f ! -name manifest.json | sed 's|^\./||' | sort) > "$work/have"
jq -r '.files[].path' "$m" | sort > "$work/want"
cmp -s "$work/have" "$work/want" || fail "files in the tar and in the manifest differ"

echo "$out: $(jq -r '"\(.kind) \(.id) from \(.sender)"' "$m"), signature by $pin and every sha256 checked"
