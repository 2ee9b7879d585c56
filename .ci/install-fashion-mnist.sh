#!/usr/bin/env bash
# Fashion-MNIST comes from Debian's dataset-fashion-mnist package (IDX files under
# /usr/share/datasets/fashion-mnist/). Installed when apt is available and we are root;
# the `fashion` dataset gives a clear error when the files are missing.
set -u
dir=/usr/share/datasets/fashion-mnist
if ls "$dir"/*-images-idx3-ubyte* >/dev/null 2>&1; then exit 0; fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 \
    || echo "note: could not install dataset-fashion-mnist; the 'fashion' dataset will be unavailable"
else
  echo "note: Fashion-MNIST not found under $dir and apt-get is not usable; 'fashion' dataset unavailable"
fi
