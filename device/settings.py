"""The box's settings: one frozen dataclass per section of the TOML file, with its defaults.

device/config.py reads a file into these and checks every value; the flags of `melodybox run` and
`generate` override them (device/cli.py). The musical controls' section ``[music]`` (and the
temperature's ``initial``) is made from the control declaration (device/engine/declaration.py); the
GPIO, knob and CC sections live with the controls they set up (device/controls/), the collapse guard's
with the guard. The shipped example is device/pi/box.toml.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, make_dataclass

from device.controls.cc import CcConfig
from device.controls.gpio import ControlsConfig, KnobsConfig
from device.core import contract
from device.core.timegrid import DEFAULT_BAR_STEPS
from device.engine.declaration import BY_NAME, CONTROLS, TEMPERATURE_HIGH, TEMPERATURE_LOW
from device.engine.guard import GuardSettings
from device.engine.sampling import DEFAULT_TAIL_CUT
from device.play.takes import END_BARS as TAKE_END_BARS

DEFAULT_VIRTUAL = "Melody Box"  # the virtual output opened when no MIDI device is plugged in
DEFAULT_VIRTUAL_INPUT = "Melody Box In"  # the virtual input opened to follow a clock when no input is configured
RECORDING_STEM = "melodybox"  # what plays is written to a new melodybox-YYYYmmdd-HHMMSS.mid where nothing sounds
DEFAULT_MIDI_FILE = f"{RECORDING_STEM}-YYYYmmdd-HHMMSS.mid"  # that name's pattern, as --help shows it
RUNTIME_NAMES = ("", "ai-edge-litert", "tflite-runtime")
SHIPPED_MODEL = str(contract.SHIPPED_MODEL)  # the model shipped with the box, found from any folder


@dataclass(frozen=True)
class MidiConfig:
    """Where the notes go: one of port (a fragment of an output port's name), virtual (a new port
    with this name) or midi_file (a .mid written as it plays); all empty: chosen at start."""

    port: str = ""
    virtual: str = ""
    midi_file: str = ""
    channel: int = 1  # 1..16, as printed on synths
    velocity: int = 100  # 1..127
    input: str = ""  # a fragment of an input port's name (a drum machine's clock, a keyboard); "" none
    virtual_input: str = ""  # or: open a virtual input with this name for other programs to play into
    input_channel: int = 0  # 1..16, or 0 = omni (every channel)


@dataclass(frozen=True)
class TempoConfig:
    bpm: float = 120.0  # quarter notes per minute, 20..400


CLOCK_MODES = ("internal", "lead", "follow", "link")
CLOCK_LOSS = ("stop", "continue")


@dataclass(frozen=True)
class ClockConfig:
    """Where the tempo comes from: the box's own clock (internal), the same and MIDI clock sent on the
    output (lead), MIDI clock arriving at the input (follow), or an Ableton Link session (link: needs
    the aalink package). ``on_clock_loss``: what follow does when
    pulses stop for 0.5 s while running: stop (silence, wait) or continue (free-run at the last tempo)."""

    mode: str = "internal"
    on_clock_loss: str = "stop"


PLAY_MODES = ("solo", "answer")


@dataclass(frozen=True)
class PlayConfig:
    """What the box plays: on its own (solo), or answers a player's call on the MIDI input (answer; see
    device/play/answer.py). The call ends after ``call_end_bars`` bars of silence or at ``max_call_bars`` bars,
    which also bounds the answer; ``thru`` echoes the player's notes to the output (answer mode)."""

    mode: str = "solo"
    call_end_bars: int = 1
    max_call_bars: int = 8
    thru: bool = False


@dataclass(frozen=True)
class ModelConfig:
    path: str = SHIPPED_MODEL  # the .tflite; its .json contract sits beside it
    runtime: str = ""  # "" picks the first installed of ai-edge-litert, tflite-runtime
    num_threads: int = 1


@dataclass(frozen=True)
class PrimerConfig:
    """Tokens fed to the model after a reset, before it plays: a list, or the first steps of a MIDI file."""

    tokens: tuple[int, ...] = ()
    midi_file: str = ""
    max_steps: int = 64  # steps read from midi_file


@dataclass(frozen=True)
class TemperatureConfig:
    """The knob maps 0..1 to low..high (1.0 in the middle); the box starts at ``initial``."""

    low: float = TEMPERATURE_LOW
    high: float = TEMPERATURE_HIGH
    initial: float = BY_NAME["temperature"].default
    tail_cut: float = DEFAULT_TAIL_CUT  # a choice under this share of the likeliest one's chance never plays


@dataclass(frozen=True)
class CaptureConfig:
    """Capture (device/play/capture.py): the last ``bars`` bars written as a MIDI file in ``folder``. And the
    player's takes (device/play/takes.py): what is played on the MIDI input, a MIDI file per take in
    ``input_folder`` ("" keeps none), a take ending after ``take_end_bars`` bars without a key down."""

    folder: str = "captures"  # relative to the working directory (the config file's folder in a file)
    bars: int = 4  # 1..64
    input_folder: str = ""  # --record-input
    take_end_bars: int = TAKE_END_BARS  # 1..16


@dataclass(frozen=True)
class HarmonyConfig:
    """The chords the melody keeps to (how closely: the harmony control, [music] harmony): a progression
    (``chords``, e.g. "Am F C G": a chord per bar of the transport, cycled; "" none), or the chords a player
    holds on the MIDI input (``follow``), heard on ``channel`` (1..16; 0 = every channel). device/harmony/."""

    chords: str = ""
    follow: bool = False
    channel: int = 0


@dataclass(frozen=True)
class WebConfig:
    """The web page and JSON API (device/net/, docs/network.md). ``listen``: [HOST:]PORT, "" off; the host is
    127.0.0.1 (this machine only) unless given, e.g. "0.0.0.0:8080" for the whole network. ``token``: what
    writes need; "" takes MELODYBOX_WEB_TOKEN, else the one in the state folder, else a new one kept there."""

    listen: str = ""
    token: str = ""


@dataclass(frozen=True)
class OscConfig:
    """OSC (device/net/osc.py): ``listen`` [HOST:]PORT receives /melodybox/<control> and the buttons ("" off);
    ``send`` HOST:PORT gets /melodybox/note and /melodybox/step ("" off)."""

    listen: str = ""
    send: str = ""


MusicConfig = make_dataclass(
    "MusicConfig",
    [(control.place[1], type(control.default), control.default) for control in CONTROLS if control.section == "music"]
    + [("bar_steps", int, DEFAULT_BAR_STEPS)],
    frozen=True,
)
MusicConfig.__module__ = __name__
MusicConfig.__doc__ = """The musical controls at start, one per declared control (controls may change them while
playing; the defaults play what the model says), and ``bar_steps``: 16th steps per bar, 16 for 4/4, 12 for 3/4."""


@dataclass(frozen=True)
class Config:
    midi: MidiConfig = field(default_factory=MidiConfig)
    tempo: TempoConfig = field(default_factory=TempoConfig)
    clock: ClockConfig = field(default_factory=ClockConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    primer: PrimerConfig = field(default_factory=PrimerConfig)
    temperature: TemperatureConfig = field(default_factory=TemperatureConfig)
    controls: ControlsConfig = field(default_factory=ControlsConfig)
    music: MusicConfig = field(default_factory=MusicConfig)
    play: PlayConfig = field(default_factory=PlayConfig)
    guard: GuardSettings = field(default_factory=GuardSettings)
    knobs: KnobsConfig = field(default_factory=KnobsConfig)
    cc: CcConfig = field(default_factory=CcConfig)
    capture: CaptureConfig = field(default_factory=CaptureConfig)
    web: WebConfig = field(default_factory=WebConfig)
    osc: OscConfig = field(default_factory=OscConfig)
    harmony: HarmonyConfig = field(default_factory=HarmonyConfig)


SECTIONS = {f.name: f.default_factory for f in fields(Config)}
PATH_KEYS = {("midi", "midi_file"), ("model", "path"), ("primer", "midi_file"), ("capture", "folder"),
             ("capture", "input_folder")}


