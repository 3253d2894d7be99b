#!/usr/bin/env bash
# `make pi-check`: the Pi install, verified on arm64. For each Debian release (Bookworm: Python 3.11,
# Trixie: Python 3.13) it builds an arm64 root file system with debootstrap, runs it under
# qemu-user-static through binfmt_misc, and in a fresh copy of it:
#   1. runs device/pi/install.sh for real (--no-start: starting systemd is the one thing skipped),
#   2. `systemd-analyze verify` on the installed unit, with that release's systemd,
#   3. as the service user: `melodybox doctor`, `melodybox generate`, and `melodybox run --steps N`
#      into a MIDI file under the state directory; both MIDI files must hold notes.
# Needs root, debootstrap, qemu-user-static and binfmt-support (apt-get install them), and the network.
# The debootstrapped roots are cached in WORK/cache (build/ is gitignored), so a second run skips that
# step (~10 min a release); so are apt's .debs and pip's downloads. Emulated timings say nothing about a
# Pi's speed. Environment: PI_CHECK_DISTROS ("bookworm trixie"), PI_CHECK_DIR (build/pi-check),
# PI_CHECK_MIRROR, PI_CHECK_STEPS (64), PI_CHECK_REUSE (1: the root the last check left, not a fresh
# copy: install.sh is meant to run again on an installed system), PI_CHECK_COMMIT (HEAD: what is checked is what is committed,
# not a working tree others may be halfway through editing). Exit status: 0 if every release passed, else 1.
set -euo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORK="${PI_CHECK_DIR:-$SRC/build/pi-check}"
DISTROS="${PI_CHECK_DISTROS:-bookworm trixie}"
MIRROR="${PI_CHECK_MIRROR:-http://deb.debian.org/debian}"
STEPS="${PI_CHECK_STEPS:-64}"
COMMIT="$(git -C "$SRC" rev-parse "${PI_CHECK_COMMIT:-HEAD}")"
CONFIG=/etc/melodybox/box.toml
VENV=/opt/melodybox/venv
CAPTURES=/var/lib/melodybox/captures
MOUNTED=()

say() { echo "==> $*"; }
fail() { echo "pi-check: $*" >&2; exit 2; }

check_host() {
    [ "$(id -u)" = 0 ] || fail "run as root (debootstrap, chroot and mounts need it): sudo make pi-check"
    local tool
    for tool in debootstrap update-binfmts chroot; do
        command -v "$tool" >/dev/null || fail "$tool is missing: apt-get install debootstrap qemu-user-static binfmt-support"
    done
    if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || fail "cannot mount binfmt_misc here"
    fi
    [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64 ||
        fail "cannot register qemu-aarch64 with binfmt_misc: arm64 emulation is not possible on this machine"
    grep -q '^flags:.*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 ||
        fail "qemu-aarch64 is registered without the F flag: it will not run inside a chroot"
}

# The cached debootstrapped root of a release (built once; .partial until debootstrap succeeds).
base_root() {
    local distro="$1" cache="$WORK/cache/$1"
    if [ -d "$cache" ]; then
        say "$distro: cached arm64 root $cache"
        return
    fi
    say "$distro: debootstrap of an arm64 root (about 10 minutes under emulation)"
    mkdir -p "$WORK/cache"
    rm -rf "$cache.partial"
    debootstrap --arch=arm64 --variant=minbase --include=python3,ca-certificates,systemd \
        "$distro" "$cache.partial" "$MIRROR" >"$WORK/$distro.debootstrap.log" 2>&1 ||
        fail "$distro: debootstrap failed; see $WORK/$distro.debootstrap.log"
    mv "$cache.partial" "$cache"
}

bind() {
    mkdir -p "$2"
    mount --bind "$1" "$2"
    MOUNTED+=("$2")
}

unmount_all() {
    local i
    for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
        umount "${MOUNTED[$i]}" 2>/dev/null || umount -l "${MOUNTED[$i]}"
    done
    MOUNTED=()
}
trap unmount_all EXIT

# A fresh copy of the cached root, with /proc, /dev, /sys, DNS, the host's CA bundle for pip, the
# package caches, and the committed tree (PI_CHECK_COMMIT, default HEAD) in /usr/src/melodybox.
fresh_root() {
    local distro="$1" root="$WORK/$1"
    if grep -q " $root/" /proc/mounts; then fail "$root still has mounts: unmount them first"; fi
    if [ "${PI_CHECK_REUSE:-0}" = 1 ] && [ -d "$root" ]; then
        say "$distro: reusing $root as the last check left it (install.sh runs again on it)"
        rm -rf "$root/usr/src/melodybox"
    else
        rm -rf "$root"
        cp -a "$WORK/cache/$distro" "$root"
    fi
    bind /proc "$root/proc"
    bind /dev "$root/dev"
    bind /dev/pts "$root/dev/pts"
    # Not /sys: the host's x86 /sys makes TFLite's arm cpuinfo crash (SIGSEGV) under emulation. Without it,
    # TFLite prints "Error in cpuinfo: failed to parse ... /sys/devices/system/cpu/possible" and runs.
    mkdir -p "$WORK/cache/$distro-apt" "$WORK/cache/$distro-pip"
    bind "$WORK/cache/$distro-apt" "$root/var/cache/apt/archives"
    bind "$WORK/cache/$distro-pip" "$root/root/.cache/pip"
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
    printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\nretries = 10\ntimeout = 60\n' >"$root/etc/pip.conf"
    mkdir -p "$root/usr/src/melodybox"
    git -C "$SRC" archive --format=tar "$COMMIT" | tar -C "$root/usr/src/melodybox" -xf -
}

in_root() { chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
as_box() { in_root runuser -u melodybox -- env HOME=/var/lib/melodybox "$@"; }

# Run one named stage, timing it; its output goes to the release's log.
stage() {
    local name="$1" start status
    shift
    start=$(date +%s)
    echo "--- $name: $*" >>"$LOG"
    if "$@" >>"$LOG" 2>&1; then status=ok; else status="FAILED ($?)"; fi
    STAGES+=("$name $status $(($(date +%s) - start)) s")
    say "$DISTRO: $name $status in $(($(date +%s) - start)) s"
    [ "$status" = ok ]
}

# A MIDI file with at least one note, read with the installed mido.
has_notes() {
    as_box "$VENV/bin/python" -c "import mido, sys
notes = sum(m.type == 'note_on' and m.velocity > 0 for m in mido.MidiFile(sys.argv[1]))
print(sys.argv[1], notes, 'notes')
sys.exit(notes == 0)" "$1"
}

check_release() {
    DISTRO="$1" ROOT="$WORK/$1" LOG="$WORK/$1.log" STAGES=()
    : >"$LOG"
    local start
    start=$(date +%s)
    base_root "$DISTRO"
    fresh_root "$DISTRO"
    [ "$(in_root uname -m)" = aarch64 ] || fail "$DISTRO: the root does not run as aarch64"
    echo "$DISTRO: $(in_root python3 --version), melodybox at $COMMIT" >>"$LOG"
    local ok=1
    # Once more if it fails: it is meant to be run again (a dropped connection to PyPI happened here).
    stage install in_root bash /usr/src/melodybox/device/pi/install.sh --no-start ||
        stage install-again in_root bash /usr/src/melodybox/device/pi/install.sh --no-start || ok=0
    if [ "$ok" = 1 ]; then
        stage unit-verify in_root systemd-analyze verify /etc/systemd/system/melodybox.service || ok=0
        stage doctor as_box "$VENV/bin/melodybox" doctor --config "$CONFIG" || ok=0
        stage generate as_box "$VENV/bin/melodybox" generate --config "$CONFIG" --seed 1 --bars 2 \
            -o "$CAPTURES/generate.mid" || ok=0
        stage generate-notes has_notes "$CAPTURES/generate.mid" || ok=0
        stage run in_root runuser -u melodybox -- sh -c "cd $CAPTURES && exec $VENV/bin/melodybox run \
            --config $CONFIG --seed 1 --steps $STEPS --midi-file $CAPTURES/run.mid </dev/null" || ok=0
        stage run-notes has_notes "$CAPTURES/run.mid" || ok=0
    fi
    unmount_all
    local result=PASS
    [ "$ok" = 1 ] || result=FAIL
    RESULTS+=("$DISTRO ($(grep -m1 -o 'Python [0-9.]*' "$LOG")): $result in $(($(date +%s) - start)) s; ${STAGES[*]/%/;}")
    [ "$ok" = 1 ]
}

check_host
RESULTS=()
all_ok=1
for distro in $DISTROS; do
    check_release "$distro" || all_ok=0
done
echo
say "pi-check of $COMMIT (logs in $WORK/<release>.log):"
printf '  %s\n' "${RESULTS[@]}"
[ "$all_ok" = 1 ]
