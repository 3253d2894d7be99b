"""The box on the network: the web page and JSON API, OSC in and out, and mDNS, built from [web] and [osc].

`melodybox run` (runner.py), the benchmarks and the tests call ``open_remote`` with the assembled box, so
what is tested is what runs. It wires device/net's parts to the box from outside the loop: the loop's
controls are wrapped in NetControls (changes from the network over the knob, keys and CC, last moved
wins), the loop's on_step also feeds the live view and OSC out, MidiOut's recorder also tells OSC out
every note, and the model library hands new generators to the loop (``Loop.swap_generator``), loaded by
the assembly's own ``open_generator``. Nothing is opened when neither [web] nor [osc] is set. Port
numbers are said as listened on (port 0 picks a free one).
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from device.assembly import Box, Say, open_generator
from device.config import PLACES, changed_keys, controls_table, from_toml, load_config
from device.engine.declaration import Control, ControlError
from device.engine.generator import PrimerError
from device.net import mdns
from device.net.address import Address, listen_address, send_address
from device.net.api import Api
from device.net.auth import Guard, find_token, state_folder
from device.net.captures import Captures
from device.net.changes import Changes, NetControls
from device.net.configfile import ConfigFile, Edit
from device.net.library import Library
from device.net.live import Live
from device.net.osc import OscReceiver, OscSender
from device.net.server import HttpServer, ServerThread
from device.settings import Config


def chain(*callables: Callable | None) -> Callable:
    """One callable calling each of ``callables`` (None ones left out) with the same arguments, in order."""
    present = [call for call in callables if call is not None]

    def each(*args) -> None:
        for call in present:
            call(*args)

    return each


def config_checker(path: Path, table: Mapping[str, Control]) -> Callable[[str], Edit]:
    """The API's checker for a new box.toml: read and checked as at start (device/config.py), compared with the
    file as it was: the controls' start values apply now (checked against the running ranges), the rest at the
    next start."""
    current = [load_config(path)]

    def check(text: str) -> Edit:
        new = from_toml(text, path)
        edit = Edit(accept=lambda: current.__setitem__(0, new))
        for section, key in changed_keys(current[0], new):
            control = PLACES.get((section, key))
            value = getattr(getattr(new, section), key)
            try:
                if control is None:
                    raise ControlError("not a control")
                edit.now |= {control.name: table[control.name].check(value)}
                edit.now_keys.append(f"{section}.{key}")
            except ControlError:
                edit.next_start.append(f"{section}.{key}")
        return edit

    return check


class Remote:
    """The network parts of a running box; ``close()`` (idempotent) stops them in reverse order."""

    def __init__(self):
        self.web_port: int | None = None
        self.osc_port: int | None = None
        self.url = ""
        self.token = ""
        self.api: Api | None = None
        self.changes: Changes | None = None
        self.live: Live | None = None
        self.library: Library | None = None
        self.receiver: OscReceiver | None = None
        self.sender: OscSender | None = None
        self._closers: list[Callable[[], None]] = []

    def close(self) -> None:
        while self._closers:
            self._closers.pop()()

    def __enter__(self) -> Remote:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_remote(config: Config, config_path: str | None, box: Box, seed: int | None, say: Say,
                environ: Mapping[str, str] | None = None) -> Remote:
    """The web page and API, OSC in and out, and mDNS for ``box``, as [web] and [osc] say (nothing if unset).
    OSError naming the address if a port cannot be had; whatever was opened by then is closed again."""
    remote = Remote()
    web, osc = config.web, config.osc
    if not (web.listen or osc.listen or osc.send):
        return remote
    try:
        _open(remote, config, config_path, box, seed, say, environ)
    except BaseException:
        remote.close()
        raise
    return remote


def _open(remote: Remote, config: Config, config_path: str | None, box: Box, seed: int | None, say: Say,
          environ: Mapping[str, str] | None) -> None:
    loop, table = box.loop, controls_table(config)
    remote.changes = changes = Changes()
    remote.live = live = Live(config.music.bar_steps)
    controls, on_step = loop.controls, loop.on_step
    remote._closers.append(lambda: (setattr(loop, "controls", controls), setattr(loop, "on_step", on_step)))
    loop.controls = NetControls(controls, changes)
    loop.on_step = chain(on_step, live.on_step)
    if config.osc.send:
        target = send_address(config.osc.send)
        remote.sender = sender = OscSender(target)
        remote._closers.append(sender.close)
        box.midi_out.recorder = chain(box.midi_out.recorder, sender.note)
        loop.on_step = chain(on_step, live.on_step, sender.on_step)
        say(f"sending OSC to {target}: /melodybox/note pitch velocity, /melodybox/step n")
    advertised: dict[str, tuple[Address, int]] = {}
    if config.osc.listen:
        where = listen_address(config.osc.listen)
        remote.receiver = receiver = _bound(lambda: OscReceiver(where, table, changes, say), "--osc", where)
        remote._closers.append(receiver.close)
        remote.osc_port = receiver.port
        advertised["osc"] = (where, receiver.port)
        say(f"receiving OSC on {dataclasses.replace(where, port=receiver.port)}: /melodybox/<control> value, "
            "/melodybox/reset, /melodybox/pause, /melodybox/capture")
    if config.web.listen:
        advertised["web"] = _open_web(remote, config, config_path, box, seed, say, environ, table)
    advertiser = mdns.advertise(advertised.get("web"), advertised.get("osc"), say)
    if advertiser is not None:
        remote._closers.append(advertiser.close)


def _open_web(remote: Remote, config: Config, config_path: str | None, box: Box, seed: int | None, say: Say,
              environ: Mapping[str, str] | None, table: Mapping[str, Control]) -> tuple[Address, int]:
    where = listen_address(config.web.listen)
    remote.token, token_from = find_token(config.web.token, state_folder(environ))

    def load(path: Path) -> tuple[Any, Any]:
        return open_generator(dataclasses.replace(config, model=dataclasses.replace(config.model, path=str(path))),
                              seed)

    model_path = Path(config.model.path)
    remote.library = library = Library(model_path.parent, model_path, load, box.loop, remote.live,
                                       load_errors=(PrimerError,), say=say)
    remote._closers.append(library.close)
    path = Path(config_path) if config_path else None
    check = config_checker(path, table) if path else (lambda text: Edit())
    remote.api = api = Api(table, remote.changes, remote.live, Guard(remote.token), library,
                           Captures(box.loop.capture, remote.changes, remote.live),
                           ConfigFile(path, check, remote.changes))
    server = _bound(lambda: HttpServer(where, api.route, say), "--web", where)
    thread = ServerThread(server)
    remote._closers.append(thread.close)
    remote._closers.append(api.closing.set)  # first at close: the event streams end, then the server stops
    remote.web_port = thread.port
    host = socket.gethostname() if where.everywhere else f"[{where.host}]" if where.ipv6 else where.host
    remote.url = f"http://{host}:{thread.port}/"
    if not token_from:
        say(f"web page on {remote.url} (changes need the token you gave)")
    elif where.loopback:
        say(f"web page on {remote.url}#token={remote.token} (the token is {token_from})")
    else:
        say(f"web page on {remote.url}: changes need the token ({token_from}); open the page once as "
            f"{remote.url}#token=THE-TOKEN, then it is kept in that browser")
    return where, thread.port


def _bound(make: Callable[[], Any], flag: str, where: Address) -> Any:
    """``make()``, or an OSError that names the flag and the address it could not have."""
    try:
        return make()
    except OSError as error:
        raise OSError(f"{flag} {where}: cannot listen there ({error.strerror or error})") from None
