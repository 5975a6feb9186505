#!/bin/sh
# dracut cmdline hook (initrds without systemd): /run is mounted and survives switch-root.
[ -x /usr/lib/kexec-measured/copy-sidecar ] && /usr/lib/kexec-measured/copy-sidecar
