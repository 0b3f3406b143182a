#!/usr/bin/env bash
# Installs every Debian package that building, running and testing FraudGuard needs.
# Idempotent: packages already present are left alone. Needs root (or sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libsimdjson-dev libyaml-cpp-dev libsqlite3-dev sqlite3 libssl-dev libcli11-dev
  libxgboost-dev libgtest-dev libgmock-dev libbenchmark-dev
  clang-format clang-tidy
  curl wrk nginx-light prometheus prometheus-alertmanager
  chromium nodejs python3
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
else
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Debian's nodejs comes without npm (other builds of nodejs bring their own).
if ! command -v npm >/dev/null 2>&1; then
  echo "setup: installing npm"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm
fi

bash "$(dirname "$0")/setup-browser-tests.sh"
echo "setup: done"
