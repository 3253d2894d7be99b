#!/usr/bin/env bash
# Install the Melody Box on 64-bit Raspberry Pi OS (Bookworm: Python 3.11; Trixie: Python 3.13).
#
#   sudo bash device/pi/install.sh            # from a checkout of this repository (make install-pi)
#   bash device/pi/install.sh --dry-run       # print what it would do, change nothing
#
# What it does, each step only if not done yet (run it again any time):
#   apt packages; SPI on; a user in the gpio/spi/audio groups; a venv in PREFIX with the
#   device extra only (no TensorFlow) and lgpio for the GPIO pins; the shipped models;
#   /etc/melodybox/box.toml (kept if it exists); STATE_DIR/captures, the one place the box
#   writes; a systemd service that plays at boot, restarts on failure or a hung loop, runs
#   real-time; the web page on port 8080 for the whole network with a fresh token (STATE_DIR/web-token), its
#   address printed at the end (--no-web: off); on request (--read-only-root) a read-only root file system
#   with a RAM overlay.
# `make pi-check` runs it for real in arm64 Debian roots (device/pi/pi_check.sh).
set -euo pipefail

PREFIX=/opt/melodybox
CONFIG_DIR=/etc/melodybox
UNIT_DIR=/etc/systemd/system
STATE_DIR=/var/lib/melodybox
BOX_USER=melodybox
DRY_RUN=0
START=1
PRINT_UNIT=0
READ_ONLY_ROOT=0
WEB=1
WEB_PORT=8080
# lgpio from pip where apt has no python3-lgpio (plain Debian): PyPI's lgpio has aarch64 wheels up to
# Python 3.12 only (and a bogus empty 0.0.0.2 for the rest, hence the version floor); Adafruit's build
# of the same lgpio 0.2.2.0 covers 3.13.
LGPIO_PIP=("lgpio>=0.2.2" "adafruit-lgpio>=0.2.2")
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

usage() {
    cat <<USAGE
usage: install.sh [--dry-run] [--user NAME] [--prefix DIR] [--no-start] [--no-web] [--read-only-root] [--print-unit]
  --dry-run         print every command and file it would write; change nothing
  --user NAME       run the box as NAME (default: a system user 'melodybox'; e.g. --user \$SUDO_USER)
  --prefix DIR      where the venv and models go (default: /opt/melodybox)
  --no-start        install and enable the service, but do not (re)start it now
  --no-web          leave the web page off (by default it listens on port $WEB_PORT of every network the Pi
                    is on, changes guarded by a fresh token; see docs/network.md)
  --read-only-root  also make the root file system read-only with a RAM overlay (raspi-config), so a
                    power cut cannot corrupt the SD card; effective after a reboot. Off by default:
                    with it on, changes to /etc or /opt are lost at the next boot (see docs/pi.md)
  --print-unit      print the systemd unit this would install, and exit
USAGE
}

while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY_RUN=1 ;;
        --user) BOX_USER="$2"; shift ;;
        --prefix) PREFIX="$2"; shift ;;
        --no-start) START=0 ;;
        --no-web) WEB=0 ;;
        --read-only-root) READ_ONLY_ROOT=1 ;;
        --print-unit) PRINT_UNIT=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

CONFIG="$CONFIG_DIR/box.toml"
VENV="$PREFIX/venv"

say() { echo "==> $*"; }

# Run a command, or print it in a dry run.
run() {
    if [ "$DRY_RUN" = 1 ]; then
        echo "+ $*"
    else
        "$@"
    fi
}

# Write stdin to a file (mode 644), or show it in a dry run.
write_file() {
    local path="$1"
    if [ "$DRY_RUN" = 1 ]; then
        echo "+ write $path:"
        sed 's/^/    /'
    else
        local tmp
        tmp="$(mktemp)"
        cat >"$tmp"
        install -m 644 "$tmp" "$path"
        rm -f "$tmp"
    fi
}

render_unit() {
    sed -e "s|@USER@|$BOX_USER|g" -e "s|@PREFIX@|$PREFIX|g" -e "s|@CONFIG@|$CONFIG|g" \
        -e "s|@STATE_DIR@|$STATE_DIR|g" -e "s|@CONFIG_DIR@|$CONFIG_DIR|g" "$SRC/device/pi/melodybox.service"
}

if [ "$PRINT_UNIT" = 1 ]; then
    render_unit
    exit 0
fi

check_system() {
    if [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then
        echo "install.sh: run as root: sudo bash $0 (or --dry-run to see what it does)" >&2
        exit 2
    fi
    if [ "$READ_ONLY_ROOT" = 1 ] && ! command -v raspi-config >/dev/null; then
        echo "install.sh: --read-only-root needs raspi-config (Raspberry Pi OS); it is not on this system" >&2
        exit 2
    fi
    local arch
    arch="$(uname -m)"
    if [ "$arch" != aarch64 ]; then
        if [ "$DRY_RUN" = 0 ]; then
            echo "install.sh: this is $arch; the TFLite runtimes need 64-bit Raspberry Pi OS (aarch64)" >&2
            exit 2
        fi
        say "note: this is $arch, not aarch64; a real install needs 64-bit Raspberry Pi OS"
    fi
}

python_minor() {
    python3 -c 'import sys; print(sys.version_info[1])'
}

install_packages() {
    # python3-lgpio: gpiozero's pin factory (used through --system-site-packages); Raspberry Pi OS only.
    # libasound2-dev + build-essential: python-rtmidi builds from source where it has no wheel.
    local packages=(python3-venv python3-dev python3-pip libasound2-dev build-essential alsa-utils)
    packages+=(libportaudio2)  # PortAudio for sounddevice: the built-in voice, e.g. on the headphone jack
    if [ "$(python_minor)" -ge 13 ]; then
        packages+=(python3-rtmidi)  # no python-rtmidi wheel for 3.13 on aarch64: Debian's build
    fi
    local absent=() package
    for package in "${packages[@]}" python3-lgpio; do
        installed "$package" || absent+=("$package")
    done
    if [ ${#absent[@]} -eq 0 ]; then
        say "apt packages already installed"
        return
    fi
    run apt-get update
    if ! installed python3-lgpio && ! apt-cache show python3-lgpio >/dev/null 2>&1; then
        say "python3-lgpio is missing: it comes from Raspberry Pi OS's own apt repository, not this system's"
        say "  (plain Debian?). GPIO falls back to lgpio from pip, installed into the venv below."
        LGPIO_FROM_PIP=1
        absent=("${absent[@]/python3-lgpio}")
    fi
    local wanted=()
    for package in "${absent[@]}"; do
        [ -n "$package" ] && wanted+=("$package")
    done
    [ ${#wanted[@]} -gt 0 ] || return 0
    say "installing apt packages: ${wanted[*]}"
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${wanted[@]}"
}

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

# lgpio from pip (no python3-lgpio in apt): the first of LGPIO_PIP with a wheel here. If none has,
# say what the box does instead: gpiozero's native pin factory (Pi 1-4), or keyboard/MIDI-only.
install_lgpio_from_pip() {
    [ "${LGPIO_FROM_PIP:-0}" = 1 ] || return 0
    local spec
    for spec in "${LGPIO_PIP[@]}"; do
        say "installing $spec from pip (binary wheels only)"
        if run "$VENV/bin/pip" install --quiet --only-binary=:all: "$spec"; then
            return 0
        fi
    done
    say "WARNING: no lgpio wheel for this Python: GPIO controls use gpiozero's native pin factory"
    say "  (Pi 1-4; not a Pi 5), else the box runs without them (MIDI only; set controls.kind = none)."
}

enable_spi() {
    if [ -e /dev/spidev0.0 ]; then
        say "SPI already on"
    elif command -v raspi-config >/dev/null; then
        say "turning SPI on (the MCP3008 knob)"
        run raspi-config nonint do_spi 0
    else
        local boot_config=/boot/firmware/config.txt
        [ -e "$boot_config" ] || boot_config=/boot/config.txt
        if [ ! -e "$boot_config" ]; then
            say "no /boot/firmware/config.txt or /boot/config.txt: not a Raspberry Pi? SPI left alone"
        elif grep -qs '^dtparam=spi=on' "$boot_config"; then
            say "SPI is on in $boot_config (active after a reboot)"
        else
            say "turning SPI on in $boot_config (active after a reboot)"
            if [ "$DRY_RUN" = 1 ]; then echo "+ echo dtparam=spi=on >> $boot_config"; else echo "dtparam=spi=on" >>"$boot_config"; fi
        fi
    fi
}

setup_user() {
    if id "$BOX_USER" >/dev/null 2>&1; then
        say "user $BOX_USER exists"
    else
        say "creating system user $BOX_USER"
        run useradd --system --home-dir "$PREFIX" --no-create-home --shell /usr/sbin/nologin "$BOX_USER"
    fi
    local group
    for group in gpio spi audio; do
        if getent group "$group" >/dev/null; then
            if id -nG "$BOX_USER" 2>/dev/null | tr ' ' '\n' | grep -qx "$group"; then
                say "$BOX_USER is in group $group"
            else
                run usermod -aG "$group" "$BOX_USER"
            fi
        else
            say "no group $group on this system (skipped)"
        fi
    done
}

setup_venv() {
    run mkdir -p "$PREFIX/models"
    if [ -x "$VENV/bin/python" ]; then
        say "venv $VENV exists"
    else
        say "creating venv $VENV (with system site packages: python3-lgpio, python3-rtmidi)"
        run python3 -m venv --system-site-packages "$VENV"
    fi
    say "installing melodybox with the device extra (no TensorFlow)"
    run "$VENV/bin/pip" install --quiet --upgrade pip
    run "$VENV/bin/pip" install --quiet "$SRC[device]"
    install_lgpio_from_pip
    local model
    for model in "$SRC"/models/*.tflite; do
        [ -e "$model" ] || continue
        run install -m 644 "$model" "${model%.tflite}.json" "$PREFIX/models/"
    done
}

setup_config() {
    run mkdir -p "$CONFIG_DIR"
    if [ -e "$CONFIG" ]; then
        say "keeping your $CONFIG"
        if [ "$WEB" = 1 ] && ! grep -qs '^\[web\]' "$CONFIG"; then
            say "adding a [web] section to $CONFIG: the page on port $WEB_PORT"
            if [ "$DRY_RUN" = 1 ]; then
                echo "+ append to $CONFIG:"; web_section | sed 's/^/    /'
            else
                web_section >>"$CONFIG"
            fi
        fi
    else
        say "writing $CONFIG (edit it, then: sudo systemctl restart melodybox)"
        sed "s|/opt/melodybox|$PREFIX|g" "$SRC/device/pi/box.toml" | web_on | write_file "$CONFIG"
    fi
    # The web page rewrites box.toml (atomically: a new file beside it) and installs models: both the box's.
    run chown "$BOX_USER:$(box_group)" "$CONFIG_DIR" "$CONFIG" "$PREFIX/models"
}

# box.toml with the page on (its [web] listen line), unless --no-web.
web_on() {
    if [ "$WEB" = 1 ]; then
        sed "/^\[web\]/,/^\[/ s|^listen = \"\"|listen = \"0.0.0.0:$WEB_PORT\"|"
    else
        cat
    fi
}

web_section() {
    printf '\n[web]\n# The live page and JSON API (docs/network.md), added by install.sh.\nlisten = "0.0.0.0:%s"\n' "$WEB_PORT"
}

# A fresh token for the page (kept if there is one), readable by the box's user only; the box reads it from its
# state folder. Printed once, in the page's address, at the end.
setup_web_token() {
    [ "$WEB" = 1 ] || return 0
    local token_file="$STATE_DIR/web-token"
    if [ -s "$token_file" ]; then
        say "keeping the web page's token in $token_file"
        WEB_TOKEN="$(cat "$token_file")"
    elif [ "$DRY_RUN" = 1 ]; then
        echo "+ write $token_file (a fresh token from python3's secrets, mode 600, owner $BOX_USER)"
        WEB_TOKEN="TOKEN"
    else
        say "writing a fresh token for the web page to $token_file (mode 600)"
        WEB_TOKEN="$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"
        local tmp
        tmp="$(mktemp)"
        printf '%s\n' "$WEB_TOKEN" >"$tmp"
        install -m 600 -o "$BOX_USER" -g "$(box_group)" "$tmp" "$token_file"
        rm -f "$tmp"
    fi
}

# Where to open the page: the Pi's name on the local network (mDNS) and its addresses, the token in the
# address's #fragment (never sent over the network; the page keeps it in the browser).
say_web_address() {
    [ "$WEB" = 1 ] || return 0
    local name addresses address
    name="$(hostname 2>/dev/null || echo raspberrypi)"
    addresses="$(hostname -I 2>/dev/null || true)"
    say "the web page: open one of these on a phone or laptop on the same network (keep the address private:"
    say "  it holds the token that changes the box):"
    say "  http://melodybox.local:$WEB_PORT/#token=$WEB_TOKEN"
    say "  http://$name.local:$WEB_PORT/#token=$WEB_TOKEN"
    for address in $addresses; do
        case "$address" in *:*) continue ;; esac
        say "  http://$address:$WEB_PORT/#token=$WEB_TOKEN"
    done
}

# The box writes only here (MIDI-file fallback, captures); the unit's StateDirectory= makes the same.
setup_state_dir() {
    say "the box writes only to $STATE_DIR/captures (owned by $BOX_USER)"
    run install -d -m 755 -o "$BOX_USER" -g "$(box_group)" "$STATE_DIR" "$STATE_DIR/captures"
}

box_group() {
    if [ "$DRY_RUN" = 1 ] && ! id "$BOX_USER" >/dev/null 2>&1; then echo "$BOX_USER"; else id -gn "$BOX_USER"; fi
}

setup_service() {
    say "installing the systemd service melodybox"
    render_unit | write_file "$UNIT_DIR/melodybox.service"
    if ! command -v systemctl >/dev/null; then
        say "no systemctl here: the unit is written; enable it where systemd runs"
        return
    fi
    if ! systemd_running; then  # a chroot or an image being built: enable works offline, the rest waits for a boot
        run systemctl enable melodybox.service
        say "systemd is not running here (a chroot?): the service is enabled and starts at the next boot"
        return
    fi
    run systemctl daemon-reload
    run systemctl enable melodybox.service
    if [ "$START" = 1 ]; then
        run systemctl restart melodybox.service
        say "started: journalctl -u melodybox -f shows what it plays to; melodybox doctor checks the setup"
    fi
}

# systemd's own test for "booted with systemd" (sd_booted); SYSTEMD_RUN_DIR only for the tests.
systemd_running() {
    [ -d "${SYSTEMD_RUN_DIR:-/run/systemd/system}" ]
}

# Opt-in: a read-only root with a RAM overlay (raspi-config's overlay file system), after a reboot.
setup_read_only_root() {
    if [ "$READ_ONLY_ROOT" = 0 ]; then
        say "root file system left writable (a power cut can corrupt it; --read-only-root protects it)"
    elif grep -qs "boot=overlay" /proc/cmdline; then
        say "read-only root with an overlay already on"
    else
        say "turning on the read-only root with a RAM overlay (after a reboot; see docs/pi.md to undo it)"
        run raspi-config nonint do_overlayfs 0
    fi
}

check_system
[ "$DRY_RUN" = 1 ] && say "dry run: nothing is changed"
install_packages
enable_spi
setup_user
setup_venv
setup_config
setup_state_dir
setup_web_token
setup_service
setup_read_only_root
say "done. Check with: sudo -u $BOX_USER $VENV/bin/melodybox doctor --config $CONFIG"
say_web_address
