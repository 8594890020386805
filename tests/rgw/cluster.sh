#!/usr/bin/env bash
# A one-node Ceph cluster with a RADOS Gateway (S3) on 127.0.0.1, all in
# DIR, from Debian's packages (.ci/setup installs them): for the S3 tests
# and benches/s3.sh. Facts behind each setting: shared/notes/ceph-rgw-offline.md.
#
#   tests/rgw/cluster.sh DIR KEY SECRET BUCKET
#
# The OSD keeps its data in memory (memstore), MEMSTORE_BYTES of it at most
# (default 4 GiB). Mind it: a full OSD makes Ceph block every write, not
# refuse it.
#
# Prints `ready PORT` once the gateway answers and BUCKET exists, then
# waits for its standard input to close (the caller ended, however it
# ended) and stops everything it started, removing DIR.
set -euo pipefail
dir=$1 key=$2 secret=$3 bucket=$4
mkdir -p "$dir"/{run,log,mon,osd/ceph-0,rgw}
pids=()
stop() {
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap stop EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
mon1=$(free_port) mon2=$(free_port) rgw=$(free_port)
fsid=$(cat /proc/sys/kernel/random/uuid)
conf=$dir/ceph.conf
cat > "$conf" <<CONF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$mon2,v1:127.0.0.1:$mon1]
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
# Without these, radosgw asks for "secure" mode, which auth none cannot
# give, and retries forever.
ms mon client mode = crc
ms client mode = crc
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
osd pool default pg num = 8
osd pool default pg autoscale mode = off
mon max pg per osd = 1000
osd crush chooseleaf type = 0
run dir = $dir/run
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
pid file = $dir/run/\$name.pid
mon data = $dir/mon/\$cluster-\$id
osd data = $dir/osd/\$cluster-\$id
rgw data = $dir/rgw/\$cluster-\$id
[osd]
osd objectstore = memstore
memstore device bytes = ${MEMSTORE_BYTES:-4294967296}
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$rgw
CONF

ceph=(ceph -c "$conf" --connect-timeout 10)
monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon2,v1:127.0.0.1:$mon1]" "$dir/monmap" >/dev/null
ceph-authtool --create-keyring "$dir/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/mon.keyring"
ceph-mon -c "$conf" -i a -f >"$dir/log/mon.out" 2>&1 &
pids+=($!)
until "${ceph[@]}" mon stat >/dev/null 2>&1; do sleep 0.2; done
uuid=$(cat /proc/sys/kernel/random/uuid)
id=$("${ceph[@]}" osd new "$uuid")
ceph-osd -c "$conf" -i "$id" --mkfs --osd-uuid "$uuid" >/dev/null 2>&1
ceph-osd -c "$conf" -i "$id" -f >"$dir/log/osd.out" 2>&1 &
pids+=($!)
until "${ceph[@]}" osd dump 2>/dev/null | grep -q "^osd.$id up"; do sleep 0.2; done
radosgw -c "$conf" -n client.rgw.a -f >"$dir/log/rgw.out" 2>&1 &
pids+=($!)
until curl -s -o /dev/null "http://127.0.0.1:$rgw/"; do sleep 0.2; done
radosgw-admin -c "$conf" user create --uid=ingest --display-name=ingest \
    --access-key="$key" --secret="$secret" >/dev/null
code=$(curl -sS -o "$dir/log/bucket.out" -w '%{http_code}' -X PUT \
    -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user "$key:$secret" "http://127.0.0.1:$rgw/$bucket")
if [ "$code" != 200 ]; then
    echo "creating the bucket: HTTP $code: $(cat "$dir/log/bucket.out")" >&2
    exit 1
fi
echo "ready $rgw $conf"
# Until the caller closes our standard input.
cat >/dev/null || true
