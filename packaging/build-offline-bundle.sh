#!/usr/bin/env bash
# Build dist/diemcau-offline-<version>_<arch>/ (and a .tar of it): the diemcau .deb plus every
# Debian package it needs that a stock Debian 12 lacks, with install.sh and README.txt, to be
# installed from a USB stick on a room PC without network.
#
# "Stock" means the packages of priority required and important and what they depend on,
# which every Debian 12 install has, even the smallest netinst.  The packages to bring are what apt's own resolver
# installs for the .deb (no recommends) on a system holding only those: apt-get -s against a
# made-up dpkg status, from this machine's apt index (run apt-get update first).  Each .deb
# comes from the local apt cache when it is there with the right checksum, otherwise from
# the mirror (apt-get download).
#   BUNDLE_DOWNLOAD=0  list only: packages.txt with URIs and checksums, no dependency .debs
#   DEB=path           the diemcau .deb to bundle (default: build it with build-deb.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DEB=${DEB:-}
if [ -z "$DEB" ]; then
  DEB=$(bash packaging/build-deb.sh | tail -n 1)
fi
VERSION=$(dpkg-deb -f "$DEB" Version)
ARCH=$(dpkg-deb -f "$DEB" Architecture)
OUT=$ROOT/dist/diemcau-offline-${VERSION}_${ARCH}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
rm -rf "$OUT" "$OUT.tar"
mkdir -p "$OUT/debs"

# 1. The stock system: the packages of priority required or important in the index and
#    what apt installs with them, as a dpkg status file that says they are installed.
APT=(apt-get -s -q --no-install-recommends -o Dir::Cache="$WORK/cache" -o Debug::NoLocking=1)
mkdir -p "$WORK/cache"
: > "$WORK/empty"
installs() {  # the name=version of each package an apt-get -s plan installs
  awk '$1 == "Inst" {for (i = 3; i <= NF; i++) if ($i ~ /^\(/) {v = substr($i, 2); break}
                     print $2 "=" v}' | LC_ALL=C sort
}
apt-get indextargets --format '$(FILENAME)' 'Created-By: Packages' \
  | while read -r index; do /usr/lib/apt/apt-helper cat-file "$index"; done \
  | awk '/^Package:/ {p = $2} /^Priority: (required|important)$/ {print p}' \
  | LC_ALL=C sort -u > "$WORK/priority.txt"
[ -s "$WORK/priority.txt" ] || { echo "build-offline-bundle: no apt index (apt-get update)" >&2; exit 1; }
xargs "${APT[@]}" -o Dir::State::status="$WORK/empty" install < "$WORK/priority.txt" \
  | installs > "$WORK/stock.txt"
xargs apt-cache show < "$WORK/stock.txt" \
  | awk '/^Package:/ {print; print "Status: install ok installed"; next} {print}' \
  > "$WORK/status"

# 2. What apt installs for the .deb on such a system.
cp "$DEB" "$WORK/diemcau.deb"
"${APT[@]}" -o Dir::State::status="$WORK/status" install "$WORK/diemcau.deb" \
  | installs | grep -v '^diemcau=' > "$WORK/wanted.txt"

# 3. Where each comes from, with its checksum: packages.txt (name=version file size sha256 URI).
xargs apt-get download --print-uris < "$WORK/wanted.txt" \
  | tr -d "'" \
  | awk '{split($2, f, "_"); v = f[2]; gsub(/%3a/, ":", v); sub(/^SHA256:/, "", $4);
          print f[1] "=" v, $2, $3, $4, $1}' \
  | LC_ALL=C sort > "$OUT/packages.txt"
if [ "$(wc -l < "$OUT/packages.txt")" != "$(wc -l < "$WORK/wanted.txt")" ]; then
  echo "build-offline-bundle: apt knows no download for some of:" >&2
  cat "$WORK/wanted.txt" >&2
  exit 1
fi
cp "$WORK/stock.txt" "$OUT/stock-debian12.txt"
install -m 0644 "$DEB" "$OUT/"

# 4. The .debs: the local apt cache first, the mirror otherwise; checksums verified.
if [ "${BUNDLE_DOWNLOAD:-1}" != 0 ]; then
  while read -r name file _ sha _; do
    if [ -f "/var/cache/apt/archives/$file" ]; then
      cp "/var/cache/apt/archives/$file" "$OUT/debs/$file"
    fi
    if ! echo "$sha  $OUT/debs/$file" | sha256sum -c --status 2>/dev/null; then
      rm -f "$OUT/debs/$file"
      (cd "$OUT/debs" && apt-get download -q -o APT::Sandbox::User=root "$name" >/dev/null)
      echo "$sha  $OUT/debs/$file" | sha256sum -c --status \
        || { echo "build-offline-bundle: $file: missing or bad checksum" >&2; exit 1; }
    fi
  done < "$OUT/packages.txt"
fi

install -m 0755 packaging/offline/install.sh "$OUT/install.sh"
install -m 0644 packaging/offline/README.txt "$OUT/README.txt"
(cd "$OUT/debs" && sha256sum -- *.deb > ../SHA256SUMS 2>/dev/null || true)
tar -C "$(dirname "$OUT")" -cf "$OUT.tar" "$(basename "$OUT")"
echo "$OUT"
