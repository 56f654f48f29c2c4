#!/usr/bin/env bash
# The Debian packages the packaging tests use, installed when missing: buildah and
# debootstrap build the controller image (tools/image.sh), runc runs it (crun, which
# buildah pulls in, refuses hybrid cgroups), zsh and fish check the completion scripts.
# CI runs this (`make system-packages`, as root); on a developer's machine those tests
# skip until it has run.
set -euo pipefail
PACKAGES=(buildah debootstrap runc zsh fish)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "[system-packages] present: ${PACKAGES[*]}"
  exit 0
fi
[[ $(id -u) == 0 ]] || { echo "system-packages: run as root to install ${missing[*]}" >&2; exit 1; }
echo "[system-packages] installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
