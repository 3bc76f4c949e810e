#!/usr/bin/env bash
# Set up diemcau on a fresh Debian 12 machine: system packages, then a venv with the project.
# Idempotent; needs root (or sudo) for apt.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  janus                                   # the district hub (demo, self-test, tests)
  pulseaudio pulseaudio-utils             # audio server with null devices (tests, demo)
  pipewire pipewire-bin libspa-0.2-modules wireplumber  # echo-cancel check, private daemon
  libportaudio2 libasound2-plugins        # sounddevice and ALSA's pulse device
  libopus0                                # Opus PLC/FEC on receive if PyAV's own is missing
  iproute2 util-linux                     # private network namespace (ip, unshare)
  openssl                                 # test certificates for the wss:// hub
  fonts-noto-core fonts-dejavu-core       # Vietnamese diacritics on screen
  espeak-ng flite sox                     # speech corpus for the voice evaluation
  libegl1 libgl1 libglib2.0-0 libfontconfig1 libdbus-1-3
  libxkbcommon0 libxkbcommon-x11-0 libxcb-cursor0   # Qt 6 (offscreen and on a display)
  dpkg-dev lintian systemd udev cage       # the .deb: build, check, install
  weston libwayland-client0 libwayland-cursor0 libwayland-egl1  # a real compositor in tests
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev,bench]"
