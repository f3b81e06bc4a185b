#!/usr/bin/env bash
# `npm test` runs this first: the --html page is tested in a real browser, Debian's chromium at
# /usr/bin/chromium (playwright-core never downloads one). Installs it when it is missing and this
# machine can (apt-get as root, or with sudo that asks no password); otherwise says how, and the
# browser test will fail naming the same command.
set -u
[ -x /usr/bin/chromium ] && exit 0
if command -v apt-get >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo="none"; fi
  fi
  if [ "$sudo" != "none" ]; then
    echo "vrange: installing Debian's chromium for the browser test (apt-get install -y chromium)" >&2
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 \
      && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2 && exit 0
  fi
fi
echo "vrange: /usr/bin/chromium is missing and could not be installed here; run: sudo apt-get install -y chromium" >&2
exit 0
