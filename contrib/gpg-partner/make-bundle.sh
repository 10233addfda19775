#!/usr/bin/env bash
# make-bundle.sh — write a sealpost bundle (docs/format.md, section 2) with
# gpg, tar, sha256sum and jq only.
#
#   make-bundle.sh KIND SENDER RECIPIENT RECIPIENT_FINGERPRINT OUTDIR [FILE...]
#
# KIND is request or response (receipts: make-receipt.sh). SENDER is your
# party id, RECIPIENT ours. Optional environment: REFERENCE (free text, a
# case number), IN_REPLY_TO (the id answered; required for a response),
# RECEIPT (a receipt object as JSON, used by make-receipt.sh). GNUPGHOME
# holds your secret key (the default signing key) and our public key.
# Prints the path of the bundle, named <sender>_<recipient>_<kind>_<id>.pgp.
set -euo pipefail
[ $# -ge 5 ] || { echo "usage: $0 KIND SENDER RECIPIENT RECIPIENT_FINGERPRINT OUTDIR [FILE...]" >&2; exit 2; }
kind=$1 sender=$2 recipient=$3 fpr=$4 out=$5
shift 5
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# 1. A UUIDv7: 48 bits of Unix time in milliseconds, then random bits with
#    the version (7) and variant (10xx) bits set.
ms=$(printf '%012x' "$(date +%s%3N)")
r=$(od -An -N10 -tx1 /dev/urandom | tr -d ' \n')
variant=$(printf '%x' $(( (0x${r:3:1} & 3) | 8 )))
id="${ms:0:8}-${ms:8:4}-7${r:0:3}-${variant}${r:4:3}-${r:7:12}"

# 2. The payload under payload/, and each file's path, size and sha256.
mkdir "$work/payload"
for f in "$@"; do cp -- "$f" "$work/payload/"; done
(cd "$work" && for f in payload/*; do
    [ -f "$f" ] || continue
    printf '%s\t%s\t%s\n' "$f" "$(stat -c %s "$f")" "$(sha256sum < "$f" | cut -d' ' -f1)"
done) > "$work/files.tsv"

# 3. manifest.json, made with jq so every string is quoted correctly.
jq -n --arg id "$id" --arg kind "$kind" --arg sender "$sender" --arg recipient "$recipient" \
    --arg created "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg reference "${REFERENCE:-}" \
    --arg reply "${IN_REPLY_TO:-}" --argjson receipt "${RECEIPT:-null}" \
    --rawfile files "$work/files.tsv" '
  {format: "sealpost-bundle/1", id: $id, kind: $kind, sender: $sender,
   recipient: $recipient, created: $created, reference: $reference,
   in_reply_to: $reply,
   files: [$files | split("\n")[] | select(. != "") | split("\t")
           | {path: .[0], size: (.[1] | tonumber), sha256: .[2]}]}
  + (if $receipt == null then {} else {receipt: $receipt} end)' > "$work/manifest.json"

# 4. The tar: payload first, manifest.json LAST (sealpost refuses it
#    anywhere else). A receipt has no payload folder.
rmdir "$work/payload" 2>/dev/null || true
members=(manifest.json)
[ -d "$work/payload" ] && members=(payload manifest.json)
tar --format=pax --owner=0 --group=0 --numeric-owner -C "$work" -cf "$work/bundle.tar" "${members[@]}"

# 5. Sign with your key, encrypt to ours (pinned by fingerprint), no
#    compression, SHA-256, AES-256; written under a temporary name first.
name="${sender}_${recipient}_${kind}_${id}.pgp"
gpg --batch --no-tty --quiet --trust-model always --sign --encrypt --recipient "$fpr" \
    --compress-algo none --digest-algo SHA256 --cipher-algo AES256 \
    --output "$out/.$name.tmp" "$work/bundle.tar"
mv -- "$out/.$name.tmp" "$out/$name"
echo "$out/$name"
