#!/bin/sh
# install.sh: verify an offline-ner runtime bundle with stock tools, then install its wheels with no network.
#
# Usage: sh install.sh BUNDLE --pubkey KEY.pub.pem [--pubkey KEY2.pub.pem ...] [--threshold N]
#                      [--venv DIR] [--python PYTHON]
#   --pubkey     a trusted Ed25519 public key (from your trust store, never from the bundle); repeatable
#   --threshold  how many distinct trusted keys must have signed (default 1)
#   --venv       create this virtual environment (a new folder) and install into it; removed again if the
#                install fails (default: install into --python's env)
#   --python     the interpreter to use (default python3); must be the bundle's target Python version
# Needs: GNU tar, openssl >= 3.0 (Ed25519 with -rawin), sha256sum, base64, sed, grep, getconf, python3 with pip
# and venv; disk: about the bundle's size in $TMPDIR while it runs, plus the installed size (docs/install.md).
#
# Order (docs/bundle-format.md): list the members and refuse anything but the expected regular files; read the
# envelope alone; verify signatures over the DSSE pre-authentication bytes with openssl; only then read the
# manifest; check the host is the target and the one byte form (headers rebuilt with python's tarfile, zero
# padding, nothing after the end); extract into a private temp folder; sha256sum every file; pip install
# --no-index --require-hashes.
# Exit codes follow offline-ner's: 20 format, 21 signature, 23 threshold, 24 policy, 25 expired,
# 27 hash mismatch, 29 members differ from the manifest or data follows the archive, 30 unsafe member,
# 34 this host is not the bundle's target (Python version, glibc, CPU); 2 usage (also: --venv exists);
# 1 venv creation or pip failed (the new venv is removed).
set -eu
LC_ALL=C
export LC_ALL

PAYLOAD_TYPE='application/vnd.offline-ner.manifest.v1+json'
MAX_ENVELOPE=8388608

die() { code=$1; shift; echo "install.sh: $*" >&2; exit "$code"; }

[ $# -ge 1 ] || die 2 "usage: sh install.sh BUNDLE --pubkey KEY.pub.pem [--threshold N] [--venv DIR] [--python PY]"
bundle=$1; shift
case $bundle in -*) bundle=./$bundle ;; esac  # a name like -hid.bundle must never read as an option
threshold=1; venv=""; python=python3
work=$(mktemp -d "${TMPDIR:-/tmp}/offline-ner-install.XXXXXX")
# leave nothing half-made: the temp folder always goes, a venv this run created goes on failure
made_venv=""
cleanup() {
    status=$?
    rm -rf "$work"
    if [ "$status" -ne 0 ] && [ -n "$made_venv" ]; then
        rm -rf "$made_venv"
        echo "install.sh: removed the unfinished virtual environment $made_venv" >&2
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
: > "$work/pubkeys"
while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || die 2 "$1 needs a value"
    case "$1" in
        --pubkey) printf '%s\n' "$2" >> "$work/pubkeys" ;;
        --threshold) threshold=$2 ;;
        --venv) venv=$2 ;;
        --python) python=$2 ;;
        *) die 2 "unknown option $1" ;;
    esac
    shift 2
done
[ -s "$work/pubkeys" ] || die 2 "give at least one trusted --pubkey"
[ -f "$bundle" ] || die 20 "no bundle at $bundle"
# a venv is always a new folder, so a failure can remove all of it
if [ -n "$venv" ] && [ -e "$venv" ]; then
    die 2 "$venv already exists; install into a new folder (then point a symlink at it), nothing was changed"
fi

# 1. members: regular files only (no links, devices, folders), no duplicates; the first two fixed
tar -tvf "$bundle" > "$work/listing" || die 20 "$bundle is not a tar archive"
if grep -v '^-' "$work/listing" > /dev/null; then die 30 "the bundle holds a member that is not a regular file"; fi
tar -tf "$bundle" > "$work/names"
[ "$(sed -n 1p "$work/names")" = "offline-ner-bundle" ] || die 20 "not an offline-ner bundle"
[ "$(sed -n 2p "$work/names")" = "envelope.json" ] || die 20 "the second member is not envelope.json"
[ -z "$(sort "$work/names" | uniq -d)" ] || die 30 "the bundle holds a member name twice"
[ "$(tar -xOf "$bundle" offline-ner-bundle)" = "offline-ner-bundle 1" ] || die 20 "unsupported bundle format"

# 2. the envelope alone, with a size cap; split into payload and payload type
tar -xOf "$bundle" envelope.json | head -c $((MAX_ENVELOPE + 1)) > "$work/envelope.json"
[ "$(wc -c < "$work/envelope.json")" -le "$MAX_ENVELOPE" ] || die 20 "the envelope is larger than $MAX_ENVELOPE bytes"
envelope_re='^{"payload":"\([A-Za-z0-9+/=]*\)","payloadType":"\([^"]*\)","signatures":\[.*\]}$'
ptype=$(sed -n "s|$envelope_re|\\2|p" "$work/envelope.json")
[ "$ptype" = "$PAYLOAD_TYPE" ] || die 20 "unexpected envelope payload type '$ptype'"
sed -n "s|$envelope_re|\\1|p" "$work/envelope.json" | base64 -d > "$work/manifest.json" \
    || die 20 "the envelope payload is not base64"

# 3. DSSE pre-authentication bytes: "DSSEv1 <len(type)> <type> <len(manifest)> <manifest>"
size=$(wc -c < "$work/manifest.json" | tr -d ' ')
{ printf 'DSSEv1 %d %s %d ' "${#PAYLOAD_TYPE}" "$PAYLOAD_TYPE" "$size"; cat "$work/manifest.json"; } > "$work/pae.bin"

# 4. signatures: a key counts once, whatever the envelope claims
valid=0
: > "$work/counted"
while IFS= read -r pem; do
    [ -f "$pem" ] || die 2 "no public key at $pem"
    keyid=$(openssl pkey -pubin -in "$pem" -outform DER | tail -c 32 | sha256sum | cut -c1-64)
    if grep -qx "$keyid" "$work/counted"; then continue; fi
    grep -o "{\"keyid\":\"$keyid\",\"sig\":\"[A-Za-z0-9+/=]*\"}" "$work/envelope.json" | head -n 1 \
        | sed 's/.*"sig":"\([^"]*\)"}/\1/' | base64 -d > "$work/sig.bin" 2> /dev/null || true
    if [ -s "$work/sig.bin" ] && openssl pkeyutl -verify -pubin -inkey "$pem" -rawin \
        -in "$work/pae.bin" -sigfile "$work/sig.bin" > /dev/null 2>&1; then
        valid=$((valid + 1))
        echo "$keyid" >> "$work/counted"
        echo "install.sh: signature by ${keyid%"${keyid#????????????????}"} verified" >&2
    elif [ -s "$work/sig.bin" ]; then
        die 21 "the signature by trusted key $keyid does not verify: the bundle was altered"
    fi
done < "$work/pubkeys"
[ "$valid" -gt 0 ] || die 21 "no signature by any of the given trusted keys"
[ "$valid" -ge "$threshold" ] || die 23 "$valid trusted key(s) signed; $threshold required"

# 5. the manifest (now authenticated): kind, expiry, files sorted, and the exact member list in that order
grep -q '"format":"offline-ner-bundle/1","kind":"runtime"' "$work/manifest.json" || die 24 "not a runtime bundle"
expires=$(sed -n 's/^{"created":"[^"]*","expires":"\([^"]*\)".*/\1/p' "$work/manifest.json")
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
if [ -n "$expires" ] && [ "$(printf '%s\n%s\n' "$expires" "$now" | sort | tail -n 1)" = "$now" ]; then
    die 25 "the bundle expired at $expires"
fi
grep -o '{"path":"[^"\\]*","sha256":"[0-9a-f]\{64\}","size":[0-9]*}' "$work/manifest.json" \
    | sed 's|{"path":"\([^"]*\)","sha256":"\([0-9a-f]*\)","size":[0-9]*}|\2  payload/\1|' > "$work/SHA256SUMS"
sed 's/^[0-9a-f]*  //' "$work/SHA256SUMS" | sort -cu 2> /dev/null || die 20 "the manifest's files are not sorted by path"
{ echo offline-ner-bundle; echo envelope.json; sed 's/^[0-9a-f]*  //' "$work/SHA256SUMS"; } > "$work/expected"
cmp -s "$work/expected" "$work/names" || die 29 "the bundle's members differ from its signed manifest"

# this host must be the target the wheels were chosen for, checked before anything is installed
target_re='.*"target":{"arch":"\([a-z0-9_]*\)","device":"\([a-z]*\)","glibc":"\([0-9]*\.[0-9]*\)",'
target_re=$target_re'"platform_tags":\[[^]]*\],\("profile":"\([a-z]*\)",\)\{0,1\}"python":"\([0-9]*\.[0-9]*\)"}.*'
want_arch=$(sed -n "s/$target_re/\1/p" "$work/manifest.json")
want_device=$(sed -n "s/$target_re/\2/p" "$work/manifest.json")
want_glibc=$(sed -n "s/$target_re/\3/p" "$work/manifest.json")
profile=$(sed -n "s/$target_re/\5/p" "$work/manifest.json")  # what the host does; empty before profiles
want_python=$(sed -n "s/$target_re/\6/p" "$work/manifest.json")
[ -n "$want_python" ] \
    || die 20 "the manifest names no target (Python, glibc, CPU); rebuild with 'offline-ner bundle runtime'"
[ "$(uname -m)" = "$want_arch" ] || die 34 "this host's CPU is $(uname -m); the bundle's wheels are for $want_arch"
have_python=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2> /dev/null) \
    || die 34 "cannot run $python; the bundle needs Python $want_python (give --python /path/to/python$want_python)"
[ "$have_python" = "$want_python" ] \
    || die 34 "$python is Python $have_python; the bundle's wheels are for Python $want_python" \
        "(give --python python$want_python)"
have_glibc=$(getconf GNU_LIBC_VERSION 2> /dev/null | sed -n 's/^glibc \([0-9]*\.[0-9]*\).*/\1/p')
[ -n "$have_glibc" ] \
    || die 34 "this host has no glibc (getconf GNU_LIBC_VERSION); the bundle needs glibc $want_glibc or newer"
if [ "${have_glibc%.*}" -lt "${want_glibc%.*}" ] || { [ "${have_glibc%.*}" -eq "${want_glibc%.*}" ] \
    && [ "${have_glibc#*.}" -lt "${want_glibc#*.}" ]; }; then
    die 34 "this host has glibc $have_glibc; the bundle's wheels need glibc $want_glibc or newer"
fi
echo "install.sh: host matches the target: Python $have_python, glibc $have_glibc >= $want_glibc, $want_arch" \
    "(profile ${profile:-all}, $want_device)" >&2


# --- the one byte form, as the Python verifier checks it (docs/bundle-format.md, section 1): every header
# equals what the writer (python's tarfile) makes from the member's name, size and the manifest's created (so no
# other mode, owner, mtime or pax record), every padding is zeros, then the end marker and nothing after it ---
created=$(sed -n 's/^{"created":"\([^"]*\)".*/\1/p' "$work/manifest.json")
{ echo "21 offline-ner-bundle"; echo "$(wc -c < "$work/envelope.json" | tr -d ' ') envelope.json"
  grep -o '{"path":"[^"\\]*","sha256":"[0-9a-f]\{64\}","size":[0-9]*}' "$work/manifest.json" \
    | sed 's|{"path":"\([^"]*\)","sha256":"[0-9a-f]*","size":\([0-9]*\)}|\2 payload/\1|'; } > "$work/members"
byte_form='
import calendar, sys, tarfile, time
def die(code, message):
    sys.stderr.write("install.sh: %s\n" % message)
    sys.exit(code)
created = calendar.timegm(time.strptime(sys.argv[2], "%Y-%m-%dT%H:%M:%SZ"))
with open(sys.argv[1], "rb") as bundle:
    for line in sys.stdin:
        size, name = line.rstrip("\n").split(" ", 1)
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname = int(size), created, 0o644, 0, 0, "", ""
        want = info.tobuf(tarfile.PAX_FORMAT, "utf-8", "strict")
        start = bundle.tell()
        block = bundle.read(512)
        if block[156:157] == b"x":  # a pax header: only one path and one size record
            records, keys = bundle.read(int(block[124:136].strip(b" \0") or b"0", 8)), []
            while records:
                length, _, rest = records.partition(b" ")
                if not length.isdigit() or int(length) < 2:
                    die(20, "the pax header of %s is malformed" % name)
                keys.append(rest.partition(b"=")[0])
                records = records[int(length):]
            if [k for k in keys if k not in (b"path", b"size")] or len(set(keys)) != len(keys):
                die(30, "the pax header of %s sets %s; only one path and size are allowed" % (name, keys))
        bundle.seek(start)
        if bundle.read(len(want)) != want:
            die(20, "the tar header of %s at byte %d is not in the canonical form (mode, owner, mtime)" % (name, start))
        bundle.seek(int(size), 1)
        if bundle.read(-int(size) % 512).strip(b"\0"):
            die(20, "non-zero padding after %s: data hidden between members" % name)
    if bundle.read(1024) != bytes(1024):
        die(20, "the tar end-of-archive marker at byte %d is damaged" % (bundle.tell() - 1024))
    if bundle.read(1):
        die(29, "data follows the end-of-archive marker: it is not the bundle that was signed")
'
form=0; "$python" -I -c "$byte_form" "$bundle" "$created" < "$work/members" || form=$?
[ "$form" -eq 0 ] || exit "$form"
# --- end of the byte-form check ---

# 6. extract (only the checked regular files exist) and hash every file
mkdir "$work/x"
tar -xf "$bundle" -C "$work/x" --no-same-owner --no-same-permissions
(cd "$work/x" && sha256sum --check --strict --quiet "$work/SHA256SUMS") || die 27 "a payload file's sha256 differs"
echo "install.sh: $(wc -l < "$work/SHA256SUMS" | tr -d ' ') files match the signed manifest" >&2

# 7. install with no index: only the hash-pinned wheels in the bundle can be installed
if [ -n "$venv" ]; then
    made_venv=$venv  # removed by cleanup if anything below fails
    "$python" -m venv "$venv" || die 1 "$python -m venv $venv failed (Debian/Ubuntu: install python3-venv)"
    python="$venv/bin/python"
fi
for var in $(env | sed -n 's/^\(PIP_[A-Z_]*\)=.*/\1/p'); do unset "$var"; done
PIP_CONFIG_FILE=/dev/null "$python" -m pip install --isolated --no-index --no-cache-dir --disable-pip-version-check \
    --find-links "$work/x/payload/wheels" --require-hashes -r "$work/x/payload/requirements.lock" \
    || die 1 "pip could not install the wheels (its message is above)"
echo "install.sh: installed into $("$python" -c 'import sys; print(sys.prefix)')" >&2
