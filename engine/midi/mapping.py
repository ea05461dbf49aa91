"""The MIDI mapping file (TOML): which knob, pad or key drives which engine control.

    mapping = load_mapping("my_controller.toml")      # or load_mapping(DEFAULT_MAPPING)
    for b in mapping.bindings: print(b.describe())     # "cc 1 (omni) -> budget 0..1 linear"

A file holds presets (prompt texts that pads and program changes recall) and bindings:

    version = 1
    [defaults]                  # optional: what a binding gets unless it says otherwise
    channel = "omni"            # "omni", a channel 1..16, or a list of them
    [[preset]]
    prompt = "a slow chorale for strings"               # or prompts = [["text", 0.7], ...]
    [[binding]]
    control = "budget"          # budget guidance weight seed variation preset play pause reset
    cc = 1                      # the source: cc = N, note = N or program = N | "any"
    range = [0.0, 1.0]          # value at the knob's minimum and maximum (may be reversed)
    curve = "linear"            # linear | exp | log (engine.midi.curves)

Every key is checked; an error names the file, the line and the key, says what is wrong and
what would be right (MappingError). engine/midi/default_mapping.toml documents every key and
is what the engine uses when no file is given; docs/midi.md has the tables.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from engine.midi.curves import CURVES, DEFAULT_SHAPE

DEFAULT_MAPPING = Path(__file__).resolve().parent / "default_mapping.toml"
VERSION = 1
MAX_PROMPTS = 8  # prompts in a blend (the engine's limit)
MAX_PROMPT_CHARS = 1000

SCALARS = ("budget", "guidance", "weight", "seed", "variation")  # driven by a CC's position
TRIGGERS = ("preset", "play", "pause", "reset")  # fired by a note-on, a CC press, a program
CONTROLS = SCALARS + TRIGGERS
MODES = ("absolute", "relative-twos", "relative-offset", "relative-sign")
TAKEOVERS = ("pickup", "jump")
# control -> (lowest, highest allowed value, default range); the engine validates the same
LIMITS: dict[str, tuple[float, float, tuple[float, float]]] = {
    "budget": (0.0, 1.0, (0.0, 1.0)),
    "guidance": (0.0, 20.0, (1.0, 7.0)),
    "weight": (0.0, 1.0, (0.0, 1.0)),
    "seed": (0.0, 2.0**31 - 1, (0.0, 127.0)),
    "variation": (0.0, 1.0, (0.0, 1.0)),
}
BINDING_KEYS = ("control", "cc", "note", "program", "channel", "index", "preset", "mode", "bits",
                "range", "curve", "shape", "step", "takeover", "feedback")
DEFAULT_KEYS = ("channel", "takeover", "feedback", "curve")


class MappingError(ValueError):
    """A mapping file that cannot be used; the message says where and what to do."""


@dataclass(frozen=True)
class Preset:
    prompts: tuple[tuple[str, float], ...]  # (text, weight), 1..MAX_PROMPTS entries
    name: str = ""


@dataclass(frozen=True)
class Binding:
    control: str  # one of CONTROLS
    source: str  # "cc" | "note" | "program"
    number: int | None  # CC / note / program number; None = any program
    channels: frozenset[int] | None = None  # 0-based; None = omni
    index: int | None = None  # weight: prompt 1..8; preset: preset 1..N (None: program + 1)
    mode: str = "absolute"  # one of MODES (CC scalars)
    bits: int = 7  # 14: CC n + CC n+32 (absolute CC 0..31)
    range: tuple[float, float] = (0.0, 1.0)  # value at position 0 and at position 1
    curve: str = "linear"
    shape: float = DEFAULT_SHAPE
    step: float = 0.01  # relative encoders: fraction of the range per tick
    takeover: str = "pickup"  # absolute knobs: "pickup" waits for the knob to reach the value
    feedback: bool = True  # send value changes back to the controller (needs an output port)
    line: int | None = None  # line of its [[binding]] header, for messages

    @property
    def target(self) -> tuple[str, int | None]:
        """What it drives: ("budget", None), ("weight", 2), ("preset", 3), ("play", None)."""
        return (self.control, self.index if self.control in ("weight", "preset") else None)

    @property
    def source_key(self) -> tuple[str, int | None]:
        return (self.source, self.number)

    @property
    def relative(self) -> bool:
        return self.mode != "absolute"

    @property
    def is_integer(self) -> bool:
        return self.control == "seed"

    def listens(self, channel: int) -> bool:
        return self.channels is None or channel in self.channels

    def describe(self) -> str:
        src = f"{self.source} {'any' if self.number is None else self.number}"
        if self.bits == 14:
            src += f"+{self.number + 32} (14-bit)"
        chans = "omni" if self.channels is None else "ch " + ",".join(
            str(c + 1) for c in sorted(self.channels))
        dst = self.control + (f" {self.index}" if self.target[1] is not None else "")
        if self.control in SCALARS:
            lo, hi = self.range
            dst += f" {lo:g}..{hi:g} {self.curve}"
            if self.relative:
                dst += f" ({self.mode}, step {self.step:g})"
        return f"{src} ({chans}) -> {dst}"


@dataclass(frozen=True)
class Mapping:
    presets: tuple[Preset, ...]
    bindings: tuple[Binding, ...]
    path: Path | None = None
    text: str = ""  # the file as read (MIDI learn edits it in place, comments kept)
    lines: dict[tuple, int] = field(default_factory=dict, repr=False)  # see locate_keys
    headers: tuple[int, ...] = ()  # lines of every [table] and [[table]] header

    def fourteen_bit(self) -> frozenset[int]:
        return frozenset(b.number for b in self.bindings if b.bits == 14)


def load_mapping(path: str | Path = DEFAULT_MAPPING) -> Mapping:
    """Read and check a mapping file; MappingError (line and key) if it is not usable."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MappingError(f"{path}: no such mapping file; start from "
                           f"{DEFAULT_MAPPING} (copy it and edit)") from None
    except (OSError, UnicodeDecodeError) as error:
        raise MappingError(f"{path}: cannot read the mapping file: {error}") from None
    return parse_mapping(text, path)


def parse_mapping(text: str, path: Path | None = None) -> Mapping:
    """Check mapping text (see the module docstring); `path` only names it in messages."""
    name = str(path) if path is not None else "<mapping>"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        m = re.search(r"at line (\d+)", str(error))
        lines = text.splitlines()
        shown = ""
        if m and 1 <= int(m.group(1)) <= len(lines):
            shown = f": {lines[int(m.group(1)) - 1].strip()!r}"
        raise MappingError(f"{name}: not valid TOML: {error}{shown}") from None
    lines, headers = locate_keys(text)
    return _Checker(name, lines).mapping(data, text, path, headers)


def locate_keys(text: str) -> tuple[dict[tuple, int], tuple[int, ...]]:
    """Line numbers (1-based) of tables and keys: ("binding", 2) is the third [[binding]]
    header, ("binding", 2, "curve") its curve key, ("defaults", "channel"), ("version",);
    and the lines of all table headers."""
    lines: dict[tuple, int] = {}
    headers: list[int] = []
    table: tuple = ()
    counts: dict[str, int] = {}
    header = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.-]+)\s*\]\]?")
    key = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")
    for number, line in enumerate(text.splitlines(), start=1):
        if m := header.match(line):
            name = m.group(2)
            if m.group(1) == "[[":
                counts[name] = counts.get(name, -1) + 1
                table = (name, counts[name])
            else:
                table = (name,)
            lines.setdefault(table, number)
            headers.append(number)
        elif m := key.match(line):
            lines.setdefault((*table, m.group(1)), number)
    return lines, tuple(headers)


class _Checker:
    def __init__(self, name: str, lines: dict[tuple, int]) -> None:
        self.name, self.lines = name, lines

    def fail(self, where: tuple, what: str) -> MappingError:
        line = self.lines.get(where) or self.lines.get(where[:-1]) or self.lines.get(where[:2])
        at = f", line {line}" if line else ""
        table = where[0] if len(where) and isinstance(where[0], str) else ""
        if len(where) >= 2 and isinstance(where[1], int):
            label = f"[[{table}]] #{where[1] + 1}" + (f" key '{where[2]}'" if len(where) > 2
                                                       else "")
        elif len(where) == 2:
            label = f"[{table}] key '{where[1]}'"
        else:
            label = f"key '{table}'"
        return MappingError(f"{self.name}{at}: {label}: {what}")

    def mapping(self, data: dict, text: str, path: Path | None,
                headers: tuple[int, ...]) -> Mapping:
        known = ("version", "defaults", "preset", "binding")
        for k in data:
            if k not in known:
                raise self.fail((k,), f"unknown key; a mapping file has {', '.join(known)}")
        if data.get("version", VERSION) != VERSION:
            raise self.fail(("version",), f"version {data['version']!r} is not supported; "
                                          f"this engine reads version {VERSION}")
        defaults = self.defaults(data.get("defaults", {}))
        presets = self.presets(data.get("preset", []))
        raw = data.get("binding", [])
        if not isinstance(raw, list):
            raise self.fail(("binding",), "write each binding as a [[binding]] table")
        bindings = tuple(self.binding(i, b, defaults, len(presets)) for i, b in enumerate(raw))
        self.no_overlaps(bindings)
        return Mapping(presets, bindings, path, text, self.lines, headers)

    def defaults(self, d: object) -> dict:
        if not isinstance(d, dict):
            raise self.fail(("defaults",), "must be a table: [defaults]")
        for k in d:
            if k not in DEFAULT_KEYS:
                raise self.fail(("defaults", k), f"unknown key; [defaults] may set "
                                                 f"{', '.join(DEFAULT_KEYS)}")
        out = {}
        if "channel" in d:
            out["channels"] = self.channels(("defaults", "channel"), d["channel"])
        if "takeover" in d:
            out["takeover"] = self.choice(("defaults", "takeover"), d["takeover"], TAKEOVERS)
        if "curve" in d:
            out["curve"] = self.choice(("defaults", "curve"), d["curve"], CURVES)
        if "feedback" in d:
            out["feedback"] = self.boolean(("defaults", "feedback"), d["feedback"])
        return out

    def presets(self, raw: object) -> tuple[Preset, ...]:
        if not isinstance(raw, list):
            raise self.fail(("preset",), "write each preset as a [[preset]] table")
        out = []
        for i, p in enumerate(raw):
            where = ("preset", i)
            for k in p:
                if k not in ("name", "prompt", "prompts"):
                    raise self.fail((*where, k), "unknown key; a preset has name and prompt "
                                                 "(one text) or prompts ([[text, weight], ...])")
            if ("prompt" in p) == ("prompts" in p):
                raise self.fail(where, "give exactly one of prompt = \"text\" or "
                                       "prompts = [[\"text\", weight], ...]")
            if "prompt" in p:
                prompts = ((self.text((*where, "prompt"), p["prompt"]), 1.0),)
            else:
                prompts = self.prompt_list((*where, "prompts"), p["prompts"])
            name = p.get("name", "")
            if not isinstance(name, str):
                raise self.fail((*where, "name"), "must be a string")
            out.append(Preset(prompts, name))
        return tuple(out)

    def text(self, where: tuple, v: object) -> str:
        if not isinstance(v, str) or not v.strip():
            raise self.fail(where, f"must be a non-empty string, got {v!r}")
        if len(v) > MAX_PROMPT_CHARS:
            raise self.fail(where, f"is {len(v)} characters; at most {MAX_PROMPT_CHARS}")
        return v

    def prompt_list(self, where: tuple, v: object) -> tuple[tuple[str, float], ...]:
        shape = 'a list of ["text", weight] pairs'
        if not isinstance(v, list) or not 1 <= len(v) <= MAX_PROMPTS:
            raise self.fail(where, f"must be {shape}, 1 to {MAX_PROMPTS} of them")
        out = []
        for pair in v:
            if not (isinstance(pair, list) and len(pair) == 2 and self.is_number(pair[1])):
                raise self.fail(where, f"must be {shape}; got {pair!r}")
            if not 0.0 <= pair[1] <= 1.0:
                raise self.fail(where, f"weight {pair[1]} is outside 0..1")
            out.append((self.text(where, pair[0]), float(pair[1])))
        if sum(w for _, w in out) <= 0:
            raise self.fail(where, "at least one weight must be above 0")
        return tuple(out)

    @staticmethod
    def is_number(v: object) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)

    def integer(self, where: tuple, v: object, lo: int, hi: int) -> int:
        if v is None:
            raise self.fail(where, f"is missing: give a whole number {lo}..{hi}")
        if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
            raise self.fail(where, f"must be a whole number {lo}..{hi}, got {v!r}")
        return v

    def number(self, where: tuple, v: object, lo: float, hi: float) -> float:
        if not self.is_number(v) or not lo <= v <= hi:
            raise self.fail(where, f"must be a number in {lo:g}..{hi:g}, got {v!r}")
        return float(v)

    def choice(self, where: tuple, v: object, options: tuple[str, ...]) -> str:
        if v not in options:
            raise self.fail(where, f"{v!r} is not allowed; use one of {', '.join(options)}")
        return v

    def boolean(self, where: tuple, v: object) -> bool:
        if not isinstance(v, bool):
            raise self.fail(where, f"must be true or false, got {v!r}")
        return v

    def channels(self, where: tuple, v: object) -> frozenset[int] | None:
        if v == "omni":
            return None
        values = v if isinstance(v, list) and v else [v]
        if not all(isinstance(c, int) and not isinstance(c, bool) and 1 <= c <= 16
                   for c in values):
            raise self.fail(where, f'must be "omni", a channel 1..16 or a list of them, '
                                   f"got {v!r}")
        return frozenset(c - 1 for c in values)

    def binding(self, i: int, b: dict, defaults: dict, n_presets: int) -> Binding:
        at = ("binding", i)
        for k in b:
            if k not in BINDING_KEYS:
                raise self.fail((*at, k), f"unknown key; a binding may have "
                                          f"{', '.join(BINDING_KEYS)}")
        if "control" not in b:
            raise self.fail(at, f"needs control = one of {', '.join(CONTROLS)}")
        control = self.choice((*at, "control"), b["control"], CONTROLS)
        sources = [k for k in ("cc", "note", "program") if k in b]
        if len(sources) != 1:
            raise self.fail(at, "needs exactly one source: cc = N, note = N or program = N")
        source = sources[0]
        kw: dict = {"control": control, "source": source, "line": self.lines.get(at), **defaults}
        if source == "program" and b["program"] == "any":
            kw["number"] = None
        else:
            kw["number"] = self.integer((*at, source), b[source], 0, 127)
        if "channel" in b:
            kw["channels"] = self.channels((*at, "channel"), b["channel"])
        if "feedback" in b:
            kw["feedback"] = self.boolean((*at, "feedback"), b["feedback"])
        if control in SCALARS:
            self.scalar(at, b, kw)
        else:
            self.trigger(at, b, kw, n_presets)
        return Binding(**kw)

    def scalar(self, at: tuple, b: dict, kw: dict) -> None:
        control = kw["control"]
        if kw["source"] != "cc":
            raise self.fail((*at, kw["source"]), f"{control} follows a knob or fader: use cc = N")
        for k in ("preset",):
            if k in b:
                raise self.fail((*at, k), f"only preset bindings take '{k}'")
        if control == "weight":
            kw["index"] = self.integer((*at, "index"), b.get("index"), 1, MAX_PROMPTS)
        elif "index" in b:
            raise self.fail((*at, "index"), "only weight bindings take index (prompt 1..8)")
        lo, hi, default = LIMITS[control]
        if "range" in b:
            r = b["range"]
            if not (isinstance(r, list) and len(r) == 2):
                raise self.fail((*at, "range"), f"must be [low, high], got {r!r}")
            kw["range"] = (self.number((*at, "range"), r[0], lo, hi),
                           self.number((*at, "range"), r[1], lo, hi))
            if kw["range"][0] == kw["range"][1]:
                raise self.fail((*at, "range"), "low and high must differ")
        else:
            kw["range"] = default
        if "curve" in b:
            kw["curve"] = self.choice((*at, "curve"), b["curve"], CURVES)
        if "shape" in b:
            kw["shape"] = self.number((*at, "shape"), b["shape"], 0.1, 20.0)
        if "mode" in b:
            kw["mode"] = self.choice((*at, "mode"), b["mode"], MODES)
        if "takeover" in b:
            kw["takeover"] = self.choice((*at, "takeover"), b["takeover"], TAKEOVERS)
        if "step" in b:
            if kw.get("mode", "absolute") == "absolute":
                raise self.fail((*at, "step"), "only relative encoders take step; set mode")
            kw["step"] = self.number((*at, "step"), b["step"], 1e-6, 1.0)
        if "bits" in b:
            kw["bits"] = self.integer((*at, "bits"), b["bits"], 7, 14)
            if kw["bits"] not in (7, 14):
                raise self.fail((*at, "bits"), "must be 7 or 14")
            if kw["bits"] == 14 and kw["number"] > 31:
                raise self.fail((*at, "bits"), "a 14-bit pair is CC n + CC n+32 with n 0..31")
            if kw["bits"] == 14 and kw.get("mode", "absolute") != "absolute":
                raise self.fail((*at, "bits"), "relative encoders send 7-bit steps; "
                                               "drop bits or set mode = \"absolute\"")

    def trigger(self, at: tuple, b: dict, kw: dict, n_presets: int) -> None:
        control, source = kw["control"], kw["source"]
        for k in ("index", "range", "curve", "shape", "mode", "bits", "step", "takeover"):
            if k in b:
                raise self.fail((*at, k), f"{control} is a button: '{k}' does not apply")
        kw.pop("takeover", None)
        kw.pop("curve", None)
        if source == "program" and control != "preset":
            raise self.fail((*at, "program"), "program changes select presets only")
        if control != "preset":
            if "preset" in b:
                raise self.fail((*at, "preset"), "only preset bindings take preset")
            return
        if n_presets == 0:
            raise self.fail((*at, "control"), "no [[preset]] tables in this file to recall")
        if source == "program" and kw["number"] is None:
            if "preset" in b:
                raise self.fail((*at, "preset"), 'program = "any" recalls preset program + 1; '
                                                 "drop preset or give a program number")
            return
        kw["index"] = self.integer((*at, "preset"), b.get("preset"), 1, n_presets)

    def no_overlaps(self, bindings: tuple[Binding, ...]) -> None:
        seen: list[tuple[str, int | None, frozenset[int] | None, Binding]] = []
        for b in bindings:
            keys = [(b.source, b.number)]
            if b.bits == 14:
                keys.append(("cc", b.number + 32))
            for source, number in keys:
                for s2, n2, ch2, other in seen:
                    same = s2 == source and (n2 == number or source == "program"
                                             and None in (n2, number))
                    # a 14-bit pair claims its two numbers on every channel (the parser
                    # pairs them by number)
                    overlap = (b.channels is None or ch2 is None or bool(b.channels & ch2)
                               or b.bits == 14 or other.bits == 14)
                    if same and overlap:
                        i = bindings.index(b)
                        raise self.fail(("binding", i, source), (
                            f"{source} {number if number is not None else 'any'} is already "
                            f"bound by the binding at line {other.line} ({other.describe()}); "
                            "give one of them another number or channel"))
                seen.append((source, number, b.channels, b))


def binding_to_toml(b: Binding) -> str:
    """A [[binding]] table that parses back to `b` (MIDI learn appends these)."""
    out = ["[[binding]]", f'control = "{b.control}"']
    out.append(f"{b.source} = " + ('"any"' if b.number is None else str(b.number)))
    if b.channels is not None:
        out.append("channel = " + str(sorted(c + 1 for c in b.channels)))
    if b.control == "weight":
        out.append(f"index = {b.index}")
    if b.control == "preset" and b.index is not None:
        out.append(f"preset = {b.index}")
    if b.control in SCALARS:
        out.append(f"range = [{b.range[0]!r}, {b.range[1]!r}]")
        out.append(f'curve = "{b.curve}"')
        if b.mode != "absolute":
            out += [f'mode = "{b.mode}"', f"step = {b.step!r}"]
        if b.bits == 14:
            out.append("bits = 14")
        out.append(f'takeover = "{b.takeover}"')
    out.append(f"feedback = {'true' if b.feedback else 'false'}")
    return "\n".join(out) + "\n"
