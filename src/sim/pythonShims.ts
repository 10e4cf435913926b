// The Python side of the virtual Pico: modules written into MicroPython's file system under
// /proc/cpml (the last entry of sys.path) before a program or the REPL starts. They give the
// program what CircuitPython on a Pico gives it and MicroPython's WebAssembly build does not:
// cnn_helper (backed by the host engine), the Pico's heap in gc.mem_free(), time.monotonic_ns()
// on the simulated clock, a read-only drive, errno numbers as on the board, input() from the
// serial console, a minimal `supervisor`, and a clear ImportError for modules that drive hardware
// and for MicroPython's bridges to JavaScript (`js`, `jsffi`), which a board does not have.
//
// All of them reach the host through `_cpml_host`, which talks to the device file /dev/cpml
// (hostDevice.ts) in bytes: no JavaScript object is ever handed to Python. The host answers
// errors with codes ("E" + "ValueError:message") and these modules raise them. Their frames are
// dropped from tracebacks by consoleFilter.ts, so a traceback names the program's line as on the
// board.
import { errnoTableForPython } from './boardErrno.js';
import { SHIM_DIR } from './consoleFilter.js';
import { DEVICE_PATH } from './hostDevice.js';
import { CHIP, CP_DATE, CP_VERSION, BOARD_NAME } from './simProtocol.js';

/** Modules that only exist on hardware. `import board` raises ImportError with the reason. */
export const HARDWARE_MODULES = [
  'board', 'digitalio', 'analogio', 'busio', 'bitbangio', 'pwmio', 'pulseio', 'countio', 'rotaryio',
  'touchio', 'keypad', 'neopixel', 'neopixel_write', 'microcontroller', 'usb_cdc', 'usb_hid',
  'usb_midi', 'storage', 'terminalio', 'displayio', 'busdisplay', 'fourwire', 'framebufferio',
  'vectorio', 'paralleldisplaybus', 'rp2pio', 'audiobusio', 'audiocore', 'audiopwmio', 'audiomixer',
  'i2ctarget', 'alarm', 'watchdog', 'rtc', 'nvm', 'sdcardio', 'rgbmatrix', 'picodvi', 'imagecapture',
] as const;

const hardwareStub = (name: string) =>
  `raise ImportError("no module named '${name}' (the virtual Pico has no hardware pins; run code that uses ${name} on a real board)")\n`;

/** Python errno values of Emscripten's file system (WASI numbering) → the board's. */
const ERRNO_MAP = errnoTableForPython();

const HOST = `# The host, as bytes through the virtual board's device file (hostDevice.ts lists the ops).
_dev = open("${DEVICE_PATH}", "r+b")


def _ask(request):
    _dev.write(request)
    return _dev.read()


def monotonic_ns():
    return int.from_bytes(_ask(b"T"), "little")


def begin():
    _ask(b"B")


def end():
    _ask(b"E")


def sleep(seconds):
    import struct
    _ask(b"S" + struct.pack("<d", seconds))


def readline():
    reply = _ask(b"R")
    if reply[:1] == b"D":
        return None
    return reply[1:].decode()


def _u32(op):
    return int.from_bytes(_ask(op), "little")


def bytes_available():
    return _u32(b"A")


def heap_size():
    return _u32(b"H")


def model_bytes():
    return _u32(b"M")


def _raise(reply):
    kind, message = reply[1:].decode().split(":", 1)
    if kind == "OSError":
        raise OSError(int(message))
    raise {"ValueError": ValueError, "RuntimeError": RuntimeError, "MemoryError": MemoryError}.get(kind, RuntimeError)(message)


def load_model(path):
    reply = _ask(b"L" + path.encode())
    if reply[:1] != b"0":
        _raise(reply)


def perform_inference(data):
    reply = _ask(b"P" + data)
    if reply[:1] != b"0":
        _raise(reply)
    import struct
    return list(struct.unpack("<%df" % ((len(reply) - 1) // 4), reply[1:]))


def unload_model():
    _ask(b"U")


def reload():
    _ask(b"X")


def raw_source():
    return _ask(b"J")


def uncaught(name, traceback):
    _ask(b"Q" + name.encode() + b"\\0" + traceback.encode())
`;

const GC = `# gc as on the board: the Pico's heap, not the host's. (MicroPython's WebAssembly build only
# collects between runs, so it cannot tell a program's live objects from garbage: the virtual
# heap counts what cnn_helper holds.)
import gc as _real
import _cpml_host as _h
from gc import collect, disable, enable, isenabled, threshold


def mem_free():
    return _h.heap_size() - _h.model_bytes()


def mem_alloc():
    return _h.model_bytes()
`;

const CNN_HELPER = `# cnn_helper as the firmware's C module, run by the host engine (same results, same errors).
import _cpml_host as _h

SIMULATED = True


def load_model(path):
    # The virtual clock charges the whole call the RP2040's estimated time (_h.end).
    _h.begin()
    try:
        open(path, "rb").close()
        _h.load_model(path)
    finally:
        _h.end()


def perform_inference(input):
    data = bytes(memoryview(input))
    _h.begin()
    try:
        return _h.perform_inference(data)
    finally:
        _h.end()


def unload_model():
    _h.unload_model()
`;

const SUPERVISOR = `# The parts of CircuitPython's supervisor a program on the virtual Pico can use.
import _cpml_host as _h


class _Runtime:
    serial_connected = True
    usb_connected = True

    @property
    def serial_bytes_available(self):
        return _h.bytes_available()


runtime = _Runtime()


def ticks_ms():
    return (_h.monotonic_ns() // 1000000) & 0x3FFFFFFF


def reload():
    _h.reload()
    raise SystemExit
`;

const BOOT = `# Makes this MicroPython look like CircuitPython ${CP_VERSION} on a Pico; runs code.py.
import sys
sys.path[:] = ["", "/", ".frozen", "/lib", "/proc/cpml"]

import builtins
import os
import time
import _cpml_host as _h
import _cpml_gc

sys.modules["gc"] = _cpml_gc
# Built into the firmware: importing them costs a program no heap.
import cnn_helper
import supervisor


_monotonic_ns = _h.monotonic_ns


def _monotonic():
    return _monotonic_ns() / 1000000000


def _sleep(seconds):
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    _h.sleep(seconds)


time.monotonic_ns = _monotonic_ns
time.monotonic = _monotonic
time.sleep = _sleep

_ERRNO = ${ERRNO_MAP}
_real_open = builtins.open


def _system(path):
    # Only the virtual board's device files may be opened for writing (nothing else is kept).
    return isinstance(path, str) and path.startswith("/dev/")


def open(file, mode="r", *args, **kwargs):
    # CIRCUITPY is read-only to programs while a computer has it mounted over USB.
    if isinstance(mode, str) and ("w" in mode or "a" in mode or "x" in mode or "+" in mode) and not _system(file):
        raise OSError(30)
    try:
        return _real_open(file, mode, *args, **kwargs)
    except OSError as e:
        raise OSError(_ERRNO.get(e.errno, e.errno)) from None


builtins.open = open


def _mapped(function):
    def call(*args):
        try:
            return function(*args)
        except OSError as e:
            raise OSError(_ERRNO.get(e.errno, e.errno)) from None
    return call


def _read_only(*args):
    raise OSError(30)


for _name in ("listdir", "ilistdir", "stat", "statvfs", "chdir"):
    if hasattr(os, _name):
        setattr(os, _name, _mapped(getattr(os, _name)))
for _name in ("remove", "unlink", "rename", "mkdir", "rmdir"):
    if hasattr(os, _name):
        setattr(os, _name, _read_only)

try:
    from collections import namedtuple as _namedtuple
    _uname = _namedtuple("uname_result", ("sysname", "nodename", "release", "version", "machine"))(
        "${CHIP}", "${CHIP}", "${CP_VERSION}", "${CP_VERSION} on ${CP_DATE}", "${BOARD_NAME} with ${CHIP}")
    os.uname = lambda: _uname
except ImportError:
    pass


def input(prompt=""):
    if prompt:
        print(prompt, end="")
    line = _h.readline()
    if line is None:
        raise EOFError
    return line


builtins.input = input

# MicroPython's bridges to JavaScript do not exist on a board (and are cut on the host side anyway).
_HOST_BRIDGES = ("js", "jsffi")


def _guard(real):
    def __import__(name, *args, **kwargs):
        if name.split(".")[0] in _HOST_BRIDGES:
            raise ImportError("no module named '%s'" % name)
        return real(name, *args, **kwargs)
    return __import__


builtins.__import__ = _guard(builtins.__import__)
del _guard
for _name in _HOST_BRIDGES:
    sys.modules.pop(_name, None)


def run(path):
    import __main__
    scope = __main__.__dict__
    scope["__file__"] = path
    try:
        try:
            f = _real_open(path)
        except OSError as e:
            raise OSError(_ERRNO.get(e.errno, e.errno)) from None
        try:
            source = f.read()
        finally:
            f.close()
        code = compile(source, path, "exec")
        source = None
        exec(code, scope)
    except SystemExit:
        pass
    except BaseException as e:
        import io
        text = io.StringIO()
        sys.print_exception(e, text)
        text = text.getvalue()
        print(text, end="")
        _h.uncaught(type(e).__name__, text)


# The raw REPL's blocks (rawRepl.ts): compiled as the firmware compiles them ("<stdin>", file
# input) and run in the REPL's globals. The exception is printed after the stdout's end marker.
_raw_error = None


def raw_run():
    global _raw_error
    import __main__
    scope = __main__.__dict__
    scope["__file__"] = "<stdin>"
    try:
        code = compile(_h.raw_source(), "<stdin>", "exec")
        exec(code, scope)
    except BaseException as e:
        _raw_error = e


def raw_report():
    global _raw_error
    e = _raw_error
    _raw_error = None
    if e is None or isinstance(e, SystemExit):
        return
    import io
    text = io.StringIO()
    sys.print_exception(e, text)
    # Without this module's frames; an error raised before the block had a frame has no header.
    lines = [l for l in text.getvalue().split("\\n") if not l.startswith('  File "${SHIM_DIR}/')]
    if len(lines) > 1 and lines[0] == "Traceback (most recent call last):" and not lines[1].startswith("  File "):
        lines.pop(0)
    print("\\n".join(lines), end="")

`;

/** Files for /proc/cpml, by name. */
export function shimFiles(): Record<string, string> {
  const files: Record<string, string> = {
    '_cpml_boot.py': BOOT,
    '_cpml_gc.py': GC,
    '_cpml_host.py': HOST,
    'cnn_helper.py': CNN_HELPER,
    'supervisor.py': SUPERVISOR,
  };
  for (const name of HARDWARE_MODULES) files[`${name}.py`] = hardwareStub(name);
  return files;
}
