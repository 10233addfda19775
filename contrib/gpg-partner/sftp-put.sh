#!/usr/bin/env bash
# sftp-put.sh — upload bundles to the drop as docs/format.md (section 3)
# asks: under a hidden ".<name>.part" first, then renamed, so we never see
# half a bundle under its final name.
#
#   sftp-put.sh USER@HOST REMOTE_DIR FILE...
#
# SFTP_OPTS adds options for OpenSSH sftp, e.g.
# SFTP_OPTS="-P 2222 -i ~/.ssh/drop_key -o UserKnownHostsFile=drop_known_hosts".
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 USER@HOST REMOTE_DIR FILE..." >&2; exit 2; }
dest=$1 dir=$2
shift 2
for f in "$@"; do
    name=$(basename -- "$f")
    # -b -: a batch; sftp stops at the first command that fails. put -f asks
    # the server to fsync the file before the rename publishes it.
    sftp ${SFTP_OPTS:-} -q -b - "$dest" <<END
put -f "$f" "$dir/.$name.part"
rename "$dir/.$name.part" "$dir/$name"
END
    echo "uploaded $dir/$name"
done
