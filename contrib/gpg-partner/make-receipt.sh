#!/usr/bin/env bash
# make-receipt.sh — answer one of our bundles with a receipt
# (docs/format.md, section 4): a bundle of kind receipt, no payload.
#
#   make-receipt.sh SENDER RECIPIENT RECIPIENT_FINGERPRINT OUTDIR RECEIVED_FILE FOR [CODE REASON]
#
# RECEIVED_FILE is our file exactly as you downloaded it; FOR is its bundle
# id (from manifest.json) or, when you could not read it, its file name.
# With CODE and REASON the receipt says "rejected" (CODE: decrypt,
# integrity, unsigned, unknown_signer, archive, manifest or limits);
# without, "filed". Prints the receipt's path (see make-bundle.sh).
set -euo pipefail
[ $# -eq 6 ] || [ $# -eq 8 ] || {
    echo "usage: $0 SENDER RECIPIENT RECIPIENT_FINGERPRINT OUTDIR RECEIVED_FILE FOR [CODE REASON]" >&2; exit 2; }
sender=$1 recipient=$2 fpr=$3 out=$4 received=$5 for=$6
code=${7:-} reason=${8:-}
status=filed
[ -n "$code" ] && status=rejected
sum=$(sha256sum < "$received" | cut -d' ' -f1)
RECEIPT=$(jq -n --arg for "$for" --arg sum "$sum" --arg status "$status" --arg code "$code" --arg reason "$reason" \
    '{for: $for, ciphertext_sha256: $sum, status: $status, code: $code, reason: $reason}')
# in_reply_to is the id answered: FOR when it is an id, else empty.
reply=
[[ $for =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]] && reply=$for
RECEIPT=$RECEIPT IN_REPLY_TO=$reply exec "$(dirname "$0")/make-bundle.sh" receipt "$sender" "$recipient" "$fpr" "$out"
