#!/usr/bin/env bash
# espeak-ng (Debian package espeak-ng) synthesises the utterances of the `spoken_digits`
# dataset. Installed when apt is available and we are root; the dataset gives a clear error
# (and its tests are skipped) when the program is missing.
set -u
if command -v espeak-ng >/dev/null 2>&1; then exit 0; fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null 2>&1 \
    || echo "note: could not install espeak-ng; the 'spoken_digits' dataset will be unavailable"
else
  echo "note: espeak-ng not found and apt-get is not usable; 'spoken_digits' dataset unavailable"
fi
