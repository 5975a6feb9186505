#!/bin/bash
# dracut module (installed as /usr/lib/dracut/modules.d/90kexec-measured/): copies the kexec-measured
# sidecar from /.extra/kexec-measured/ to /run/kexec-measured/ early in the initrd. With dracut's
# systemd module the copy runs as kexec-measured-sidecar.service, otherwise as a cmdline hook.

check() {
    return 0
}

depends() {
    return 0
}

install() {
    inst_simple "${KEXEC_MEASURED_LIBDIR:-/usr/lib/kexec-measured}/copy-sidecar" /usr/lib/kexec-measured/copy-sidecar
    if dracut_module_included "systemd"; then
        inst_simple "${KEXEC_MEASURED_UNITDIR:-/usr/lib/systemd/system}/kexec-measured-sidecar.service" \
            "$systemdsystemunitdir/kexec-measured-sidecar.service"
        $SYSTEMCTL -q --root "$initdir" enable kexec-measured-sidecar.service
    else
        inst_hook cmdline 00 "$moddir/kexec-measured-sidecar.sh"
    fi
}
