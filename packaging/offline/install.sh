#!/bin/sh
# Install diemcau and the Debian packages it needs from this folder, with no network.
# Run as root from the folder (a USB stick): sh install.sh
set -eu
cd "$(dirname "$0")"
[ "$(id -u)" -eq 0 ] || { echo "install.sh: run it as root (sudo sh install.sh)" >&2; exit 1; }
if [ -s SHA256SUMS ]; then
    (cd debs && sha256sum -c --quiet ../SHA256SUMS) || { echo "install.sh: a file is damaged; copy the folder again" >&2; exit 1; }
fi
# apt installs local files in the right order and never downloads (--no-download); the
# dependencies are then marked as installed automatically, as apt would have done.
set -- ./debs/*.deb
[ -e "$1" ] || set --
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-download --no-install-recommends \
    "$@" ./diemcau_*.deb
if [ "$#" -gt 0 ]; then
    for deb in "$@"; do dpkg-deb -f "$deb" Package; done | xargs -r apt-mark auto >/dev/null
fi
echo "diemcau is installed: edit /etc/diemcau/diemcau.toml, then reboot (or: systemctl start diemcau)"
