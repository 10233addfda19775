#!/usr/bin/env bash
# sftp-get.sh — fetch our bundles from the drop, then remove them there
# (docs/format.md, section 3): only final names (not starting with ".",
# ending .pgp or .asc) are taken; each is written locally under a
# temporary name, renamed, and only then removed from the drop.
#
#   sftp-get.sh USER@HOST REMOTE_DIR LOCAL_DIR
#
# SFTP_OPTS as for sftp-put.sh. Prints the local path of each file fetched.
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 USER@HOST REMOTE_DIR LOCAL_DIR" >&2; exit 2; }
dest=$1 dir=$2 local=$3
# The names on the drop; sftp echoes its commands ("sftp> ...") too.
names=$(echo "ls -1a \"$dir\"" | sftp ${SFTP_OPTS:-} -q -b - "$dest" | grep -v '^sftp>' | sed 's|.*/||')
for name in $names; do
    # Only plain final names: no hidden or partial files, nothing odd.
    [[ $name =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*\.(pgp|asc)$ ]] || continue
    sftp ${SFTP_OPTS:-} -q -b - "$dest" <<END >/dev/null
get "$dir/$name" "$local/.$name.part"
END
    sync "$local/.$name.part"
    mv -- "$local/.$name.part" "$local/$name"
    sftp ${SFTP_OPTS:-} -q -b - "$dest" <<END >/dev/null
rm "$dir/$name"
END
    echo "$local/$name"
done
