#!/usr/bin/env bash
# Build dist/diemcau_<version>_<arch>.deb: dpkg-deb over a staged tree holding the kiosk in
# a venv under /opt/diemcau, built from Debian's own /usr/bin/python3 (never a developer's
# interpreter), the systemd unit, udev rules, the PipeWire echo-cancel drop-in, the hub's
# Janus templates and the maintainer scripts.
#   bash packaging/build-deb.sh [--deps]   (--deps: the cached dependency venv only)
#   DEB_COMPRESS=xz|gzip|zstd, DEB_LEVEL=1..9 (default gzip -1: quick; a release can take xz)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "build-deb: $PY is missing (apt-get install python3 python3-venv)" >&2; exit 1; }
VERSION=$("$PY" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
ARCH=$(dpkg --print-architecture)
STAGE=$ROOT/build/deb/diemcau_${VERSION}_${ARCH}
OUT=$ROOT/dist/diemcau_${VERSION}_${ARCH}.deb
VENV=/opt/diemcau

rm -rf "$STAGE"
mkdir -p "$STAGE/DEBIAN" "$ROOT/dist"

# The libraries: a venv built from Debian's python3, kept in build/deb/venv-<hash of
# pyproject.toml> so a rebuild with the same dependencies only reinstalls the application.
DEPS_HASH=$(sha256sum pyproject.toml | cut -c1-16)
DEPS=$ROOT/build/deb/venv-$DEPS_HASH
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
if [ ! -f "$DEPS/.complete" ]; then
  rm -rf "$ROOT"/build/deb/venv-*
  "$PY" -m venv "$DEPS"
  "$DEPS/bin/python" -m pip install -q --no-compile "$ROOT"
  touch "$DEPS/.complete"
fi
# --deps: only make sure the dependency venv is built (scripts/test.sh does this before it
# enters the test's network namespace, where no package index can be reached)
[ "${1:-}" = "--deps" ] && { echo "$DEPS"; exit 0; }
# The application at its final path inside the stage (hard links: quick), then the build
# folder's path removed from every file that names it (the scripts' #! lines).
mkdir -p "$(dirname "$STAGE$VENV")"
cp -al "$DEPS" "$STAGE$VENV"
rm -f "$STAGE$VENV/.complete"
"$STAGE$VENV/bin/python" -m pip install -q --no-compile --no-deps --force-reinstall "$ROOT"
"$STAGE$VENV/bin/python" -m pip uninstall -q -y pip setuptools >/dev/null 2>&1 || true
find "$STAGE$VENV" -name __pycache__ -prune -exec rm -rf {} +
grep -rlI --null -e "$DEPS" -e "$STAGE" "$STAGE$VENV" \
  | xargs -0 -r sed -i -e "s#$DEPS#$VENV#g" -e "s#$STAGE##g"
rm -f "$STAGE$VENV"/bin/[Aa]ctivate*
find "$STAGE$VENV" -name '*.so*' -type f -exec chmod 0644 {} +  # libraries are not programs
# Only the kiosk's own command: the libraries' developer tools (f2py, pyuic6, …) are not needed.
find "$STAGE$VENV/bin" -type f ! -name diemcau -delete
# Files the wheels mark executable that are neither ELF nor #! scripts (lintian:
# executable-not-elf-or-script) lose the bit.
"$PY" - "$STAGE$VENV" <<'PYEOF'
import os, stat, sys
for folder, _, names in os.walk(sys.argv[1]):
    for name in names:
        path = os.path.join(folder, name)
        mode = os.lstat(path).st_mode
        if stat.S_ISREG(mode) and mode & 0o111:
            with open(path, "rb") as head:
                start = head.read(4)
            if not (start.startswith(b"#!") or start == b"\x7fELF"):
                os.chmod(path, mode & ~0o111)
PYEOF

install -d "$STAGE/usr/bin"
ln -s "$VENV/bin/diemcau" "$STAGE/usr/bin/diemcau"
install -D -m 0644 packaging/systemd/diemcau.service "$STAGE/lib/systemd/system/diemcau.service"
install -D -m 0755 packaging/systemd/kiosk-session "$STAGE/usr/libexec/diemcau/kiosk-session"
install -D -m 0644 packaging/systemd/diemcau-tmpfiles.conf "$STAGE/usr/lib/tmpfiles.d/diemcau.conf"
install -D -m 0644 packaging/udev/70-diemcau.rules "$STAGE/lib/udev/rules.d/70-diemcau.rules"
install -D -m 0644 packaging/pipewire/60-diemcau-echo-cancel.conf \
  "$STAGE/usr/share/pipewire/pipewire.conf.d/60-diemcau-echo-cancel.conf"
install -D -m 0644 packaging/diemcau.toml.example "$STAGE/usr/share/diemcau/diemcau.toml.example"
for file in packaging/hub/*.jcfg.in packaging/hub/*.md; do
  [ -e "$file" ] && install -D -m 0644 "$file" "$STAGE/usr/share/diemcau/hub/$(basename "$file")"
done
DOC=$STAGE/usr/share/doc/diemcau
install -D -m 0644 packaging/debian/copyright "$DOC/copyright"
install -D -m 0644 README.md "$DOC/README.md"
printf 'diemcau (%s) stable; urgency=medium\n\n  * Release %s.\n\n -- diemcau maintainers <diemcau@example.vn>  %s\n' \
  "$VERSION" "$VERSION" "$(date -R -d @"${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")" \
  | gzip -9n > "$DOC/changelog.gz"
install -D -m 0644 packaging/debian/diemcau.1 "$STAGE/usr/share/man/man1/diemcau.1"
gzip -9n "$STAGE/usr/share/man/man1/diemcau.1"
install -D -m 0644 packaging/debian/lintian-overrides "$STAGE/usr/share/lintian/overrides/diemcau"

for script in postinst prerm postrm; do
  install -m 0755 "packaging/debian/$script" "$STAGE/DEBIAN/$script"
done
SIZE=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@SIZE@/$SIZE/" \
  packaging/debian/control.in > "$STAGE/DEBIAN/control"
(cd "$STAGE" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z \
  | xargs -0 md5sum > DEBIAN/md5sums)
chmod 0644 "$STAGE/DEBIAN/control" "$STAGE/DEBIAN/md5sums"

dpkg-deb --root-owner-group -Z"${DEB_COMPRESS:-gzip}" -z"${DEB_LEVEL:-1}" --build "$STAGE" "$OUT" >/dev/null
echo "$OUT"
