#!/usr/bin/env bash
# Installs Debian's Chromium and its driver for tests/browser, only when either is missing, so
# `make test` installs them on a fresh machine and costs nothing once they are there.
# Debian's packages, not a browser download: the project's machines reach package registries only.
set -euo pipefail

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
	exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-browser: no apt-get here; install Chromium and chromedriver yourself" \
		"(/usr/bin/chromium, /usr/bin/chromedriver) or the browser tests cannot run." >&2
	# Under CI the browser test must run, so a machine that cannot install it fails here.
	[ "${CI:-}" = "true" ] && exit 1
	exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	sudo=(sudo)
fi
echo "install-browser: installing chromium and chromium-driver from Debian's packages" >&2
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# Without recommends (upower, udev, a notification daemon...): a headless test needs none of
# them, only a font with Arial's metrics so the screenshot's text is readable.
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	chromium chromium-driver fonts-liberation >/dev/null
test -x /usr/bin/chromium && test -x /usr/bin/chromedriver
