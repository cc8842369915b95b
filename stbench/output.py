"""The one output layer: every table renders here, every file is written here.

A command builds `Table`s (rows plus the columns a person sees, with units in their
headers) and hands them to `emit`, which prints them or writes them to `--out` in one of
`FORMATS`. The human formats (``table``: rich; ``markdown``) show the chosen columns,
formatted; the machine formats (``csv``, ``json``) carry every field of every row under
its stable key, numbers unformatted. Every file stbench writes goes through `write_set`
(`write_atomic` for one file): the output rule (`checked_target`) refuses a path ending in
'/', a symlink loop, a folder, a results store, and any file the running command reads
(`reads`); then every file of the output is written to a temporary file in its folder,
fsync'd, and all are renamed into place together, mode 0644 (a failed rename puts back the
files already replaced); a symlink's target is written and the link kept; a device or
FIFO (/dev/stdout) is written into, never replaced; any failure is one ValueError line
naming the option, the old files as they were.

Rich is imported inside functions: `import stbench.cli` stays light.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import math
import os
import re
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMATS = ("table", "markdown", "csv", "json")
# file name extension -> the format it implies
SUFFIXES = {".txt": "table", ".md": "markdown", ".markdown": "markdown", ".csv": "csv"}
SUFFIXES |= {".json": "json"}
FILE_MODE = 0o644
# Width of a table printed into a file or a pipe: wide enough that no cell is folded.
UNFOLDED_WIDTH = 100_000

__all__ = [
    "FORMATS",
    "Column",
    "Table",
    "check_writable",
    "checked_target",
    "command_scope",
    "emit",
    "reads",
    "render",
    "resolve_format",
    "write_atomic",
    "write_set",
]


def plain(value: Any) -> Any:
    """A JSON-ready Python value: numpy/pandas scalars unwrapped, NaN/NA/NaT as None."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # a numpy scalar
        with contextlib.suppress(TypeError, ValueError):
            return plain(value.item())
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def cell_text(value: Any, scale: float = 1.0, digits: int | None = None) -> str:
    (
        """One cell as people read it: '-' when missing; numbers scaled and rounded (a nonzero
    number too small for the digits keeps two significant ones: 0.0027, not 0.00)."""
        ""
    )
    value = plain(value)
    if value is None:
        return "-"
    if isinstance(value, (bool, str)):
        return str(value)
    if isinstance(value, (int, float)):
        if scale != 1.0 or digits is not None:
            v, d = value / scale, 2 if digits is None else digits
            if v and abs(v) < 0.5 * 10**-d:  # would read 0.00: two significant digits
                return f"{v:.2g}"
            return f"{v:,.{d}f}"
        return str(round(value, 4)) if isinstance(value, float) else str(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return str(value)


@dataclass(frozen=True)
class Column:
    """One column people see: the row key, its header (with the unit) and how to show it."""

    key: str
    header: str = ""
    scale: float = 1.0
    digits: int | None = None
    get: Callable[[Mapping[str, Any]], Any] | None = None
    justify: str | None = None

    @property
    def title(self) -> str:
        """The header shown in tables: the unit-bearing header, else the key."""
        return self.header or self.key

    def value(self, row: Mapping[str, Any]) -> Any:
        """The raw value of this column in a row."""
        return self.get(row) if self.get else row.get(self.key)

    def text(self, row: Mapping[str, Any]) -> str:
        """The cell text of this column in a row."""
        return cell_text(self.value(row), self.scale, self.digits)


def _rows(rows: Any) -> list[dict[str, Any]]:
    """Rows as a list of dicts (a pandas DataFrame is accepted)."""
    if hasattr(rows, "to_dict") and hasattr(rows, "columns"):
        return [{str(k): v for k, v in r.items()} for r in rows.to_dict("records")]
    return [dict(r) for r in rows]


@dataclass
class Table:
    """Rows with a title, the columns people see, notes under the table and row styles.

    `first` names the fields CSV/JSON put first (the others follow in row order).
    """

    rows: Any
    columns: Sequence[Column | str] | None = None
    title: str = ""
    notes: Sequence[str] = ()
    styles: Sequence[str | None] | None = None
    transpose: bool = False
    first: Sequence[str] = ()
    records: list[dict[str, Any]] = field(init=False, repr=False)
    shown: list[Column] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.records = _rows(self.rows)
        cols = self.columns
        if cols is None:
            cols = list(dict.fromkeys(k for r in self.records for k in r))
        self.shown = [c if isinstance(c, Column) else Column(str(c)) for c in cols]


def _tables(tables: Table | Iterable[Table]) -> list[Table]:
    return [tables] if isinstance(tables, Table) else list(tables)


def _check_format(fmt: str, option: str = "--format") -> str:
    if fmt not in FORMATS:
        raise ValueError(f"{option}: got {fmt!r}; allowed: {', '.join(FORMATS)}")
    return fmt


def resolve_format(
    fmt: str | None, out: str | os.PathLike[str] | None = None, default: str = "table"
) -> str:
    """The output format from --format and --out's extension (they must agree)."""
    if fmt is not None:
        _check_format(fmt)
    if out is None:
        return fmt or default
    suffix = Path(out).suffix.lower()
    if not suffix:
        return fmt or default
    implied = SUFFIXES.get(suffix)
    if implied is None:
        allowed = ", ".join(SUFFIXES)
        raise ValueError(f"--out: got extension {suffix!r}; allowed: {allowed} (or none)")
    if fmt is not None and fmt != implied:
        raise ValueError(
            f"--out: {str(out)!r} names a {implied} file; allowed with --format {fmt}: "
            f"{', '.join(s for s, f in SUFFIXES.items() if f == fmt)} or no extension"
        )
    return implied


# ------------------------------------------------------------------ rendering


def _machine_rows(tables: list[Table]) -> list[dict[str, Any]]:
    """Every row of every table, the fields each table names `first` leading."""
    out = []
    for t in tables:
        for r in t.records:
            lead = {k: r[k] for k in t.first if k in r}
            out.append(lead | {k: v for k, v in r.items() if k not in lead})
    return out


def _csv(tables: list[Table]) -> str:
    records = _machine_rows(tables)
    keys = list(dict.fromkeys(k for r in records for k in r))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    w.writeheader()
    for r in records:
        w.writerow({k: _csv_cell(v) for k, v in r.items()})
    return buf.getvalue()


# Text a spreadsheet would run as a formula: prefixed with ' in CSV output (OWASP's advice).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    value = plain(value)
    if isinstance(value, (dict, list)):
        value = json.dumps(value, default=str)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value  # numbers stay numbers: only text is guarded
    return "" if value is None else value


def _json(tables: list[Table]) -> str:
    records = [plain(r) for r in _machine_rows(tables)]
    return json.dumps(records, indent=1, default=str) + "\n"


def _grid(t: Table) -> tuple[list[str], list[list[str]]]:
    """Headers and cell texts of a table (one column per row when transposed)."""
    cols = t.shown
    if not t.transpose:
        return [c.title for c in cols], [[c.text(r) for c in cols] for r in t.records]
    first = cols[0]
    headers = [first.title, *(first.text(r) for r in t.records)]
    return headers, [[c.title, *(c.text(r) for r in t.records)] for c in cols[1:]]


def _markdown(tables: list[Table]) -> str:
    parts = []
    for t in tables:
        headers, body = _grid(t)

        def line(cells: list[str]) -> str:
            return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"

        text = "\n".join([line(headers), "|" + "---|" * len(headers), *map(line, body)]) + "\n"
        if t.title:
            text = f"{t.title}\n\n{text}"
        if t.notes:
            text += "\n" + "".join(f"{n}\n" for n in t.notes)
        parts.append(text)
    return "\n".join(parts)


def _numeric(t: Table, col: Column) -> bool:
    values = [plain(col.value(r)) for r in t.records]
    seen = [v for v in values if v is not None]
    return bool(seen) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in seen)


PADDING = 2  # a rich cell's padding, left + right
FOLD = 10  # a word with a letter longer than this may fold over lines; numbers never do


def _words(text: str) -> list[str]:
    return text.split() or [""]


def _floor(word: str) -> int:
    """The narrowest a column may be for `word`: whole for a number, else FOLD at most."""
    from rich.cells import cell_len

    n = cell_len(word)
    return n if re.search(r"\d", word) and not re.search(r"[^\W\d_]", word) else min(n, FOLD)


def _fitted_widths(headers: list[str], body: list[list[str]], width: int) -> list[int] | None:
    """Column widths (without padding) within `width` columns that show every number whole
    (headers and text wrap at spaces; only long words with letters may fold): None when the
    table fits as it is, [] when even its narrowest form does not (show it as blocks)."""
    from rich.cells import cell_len

    columns = list(zip(headers, *body, strict=True)) if headers else []
    longest = [max(cell_len(ln) for c in col for ln in c.splitlines() or [""]) for col in columns]
    room = width - (len(columns) + 1) - PADDING * len(columns)  # borders and padding
    if sum(longest) <= room:
        return None
    widths = [max(_floor(w) for c in col for w in _words(c)) for col in columns]
    if sum(widths) > room:
        return []
    whole = [max(cell_len(w) for c in col for w in _words(c)) for col in columns]
    for i in sorted(range(len(columns)), key=lambda i: whole[i] - widths[i]):  # cheapest first
        widths[i] = min(whole[i], widths[i] + room - sum(widths))
    spare, slack = room - sum(widths), [b - a for a, b in zip(widths, longest, strict=True)]
    if spare > 0 and sum(slack):
        total = sum(slack)
        widths = [a + spare * d // total for a, d in zip(widths, slack, strict=True)]
    return widths


def _wrap(text: str, width: int) -> str:
    """`text` in lines of at most `width` cells, broken at spaces and, in a longer word,
    after `_`, `-`, `/` or `.` (never mid-word unless one part alone is longer)."""
    from rich.cells import cell_len

    out = []
    for paragraph in text.splitlines() or [""]:
        lines: list[str] = []
        for word in paragraph.split(" "):
            parts = [word] if cell_len(word) <= width else re.findall(r"[^_/.-]*[_/.-]?", word)
            for j, part in enumerate(p for p in parts if p):
                sep = " " if j == 0 else ""
                if lines and cell_len(lines[-1] + sep + part) <= width:
                    lines[-1] += sep + part
                else:
                    lines.append(part)
        out.extend(lines or [""])
    return "\n".join(out)


def rich_table(t: Table, width: int | None = None) -> Any:
    """The table as a rich Table (cells are plain text, never markup). With `width`: sized
    so that no word of a cell or a header is broken (headers and text wrap at spaces); None
    when even that does not fit (see `vertical_blocks`)."""
    from rich.table import Table as RichTable
    from rich.text import Text

    headers, body = _grid(t)
    widths = _fitted_widths(headers, body, width) if width is not None else None
    if widths == []:
        return None
    out = RichTable()
    for i, header in enumerate(headers):
        if t.transpose:
            justify = "left" if i == 0 else "right"
        else:
            col = t.shown[i]
            justify = col.justify or ("right" if _numeric(t, col) else "left")
        fixed = widths[i] if widths else None
        header = _wrap(header, fixed) if fixed else header
        out.add_column(Text(header), justify=justify, width=fixed, overflow="fold")
    styles = t.styles if t.styles is not None and not t.transpose else [None] * len(body)
    for cells, style in zip(body, styles, strict=True):
        if widths:
            cells = [_wrap(c, w) for c, w in zip(cells, widths, strict=True)]
        out.add_row(*(Text(c) for c in cells), style=style)
    return out


def vertical_blocks(t: Table) -> list[Any]:
    """The table for a terminal too narrow for its columns: one block per row of
    `header: value` lines (values whole; a line wraps at spaces)."""
    from rich.text import Text

    headers, body = _grid(t)
    styles = t.styles if t.styles is not None and not t.transpose else [None] * len(body)
    blocks = []
    for cells, style in zip(body, styles, strict=True):
        block = Text(style=style or "")
        for j, (h, c) in enumerate(zip(headers, cells, strict=True)):
            block.append(("\n" if j else "") + f"{h}: ", style="bold")
            block.append(c)
        blocks.append(block)
    return blocks


def _print_tables(console: Any, tables: list[Table]) -> None:
    from rich.text import Text

    for i, t in enumerate(tables):
        if i:
            console.print()
        if t.title:
            console.print(Text(t.title, style="bold"))
        table = rich_table(t, console.width)
        if table is not None:
            console.print(table)
        else:
            for j, block in enumerate(vertical_blocks(t)):
                if j:
                    console.print()
                console.print(block)
        for n in t.notes:
            console.print(Text(n, style="dim"))


def _text_console(stream: Any) -> Any:
    from rich.console import Console

    return Console(file=stream, width=UNFOLDED_WIDTH, color_system=None, force_terminal=False)


def render(tables: Table | Iterable[Table], fmt: str = "table") -> str:
    """The tables as text in one of FORMATS (CSV/JSON: the rows of all tables, every field)."""
    items = _tables(tables)
    _check_format(fmt)
    if fmt == "json":
        return _json(items)
    if fmt == "csv":
        return _csv(items)
    if fmt == "markdown":
        return _markdown(items)
    buf = io.StringIO()
    _print_tables(_text_console(buf), items)
    return buf.getvalue()


def stdout_console() -> Any:
    """A stdout console: the terminal's width on a terminal, unfolded when piped."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else _text_console(sys.stdout)


def emit(
    tables: Table | Iterable[Table],
    fmt: str = "table",
    *,
    out: str | os.PathLike[str] | None = None,
    option: str = "--out",
) -> None:
    """Print the tables to stdout (rich on a terminal), or write them to `out` atomically."""
    items = _tables(tables)
    if out is not None:
        write_atomic(out, render(items, fmt), option=option)
    elif _check_format(fmt) == "table":
        _print_tables(stdout_console(), items)
    else:
        sys.stdout.write(render(items, fmt))
        sys.stdout.flush()


# ------------------------------------------------------------------ writing

SQLITE_MAGIC = b"SQLite format 3\x00"
_reading: list[dict[tuple[Any, ...], str]] = []  # one dict per running command: file -> role


@contextlib.contextmanager
def command_scope() -> Iterator[None]:
    """One command's run: the files it `reads` are refused as outputs until it ends."""
    _reading.append({})
    try:
        yield
    finally:
        _reading.pop()


def reads(path: str | os.PathLike[str], role: str) -> None:
    """Note that the running command reads `path` (as `role`): no output may replace it."""
    if _reading:
        for ident in _identities(Path(path)):
            _reading[-1].setdefault(ident, role)


def _identities(path: Path) -> list[tuple[Any, ...]]:
    """How a file is recognised: its resolved path and, when it exists, its inode."""
    try:
        real = path.resolve()
    except (OSError, RuntimeError):  # a symlink loop is no file anyone reads
        return []
    out: list[tuple[Any, ...]] = [("path", str(real))]
    with contextlib.suppress(OSError):
        st = real.stat()
        if stat.S_ISREG(st.st_mode):
            out.append(("inode", st.st_dev, st.st_ino))
    return out


def _read_by(path: Path) -> str | None:
    """The role in which the running command reads `path`, or None."""
    for ident in _identities(path):
        for scope in _reading:
            if ident in scope:
                return scope[ident]
    return None


def _is_store(path: Path) -> bool:
    """Whether `path` is an existing SQLite file (a results store)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def checked_target(path: str | os.PathLike[str], *, option: str = "--out") -> Path:
    """The file a write to `path` replaces, or one line naming `option` if the rule refuses it."""
    text = os.fspath(path)
    if text.endswith(("/", os.sep)) or (os.altsep and text.endswith(os.altsep)):
        raise ValueError(f"{option}: got {text!r}; allowed: a file path (not ending in '/')")
    given = Path(text)
    try:
        given.resolve()
    except (OSError, RuntimeError):
        raise ValueError(f"{option}: got {text!r} (a symlink loop); allowed: a file path") from None
    target = _target(given)
    if target.is_dir():
        raise _is_folder_error(path, option)
    role = _read_by(given)
    if role is not None:
        raise ValueError(
            f"{option}: got {text!r}, which this command reads ({role}); allowed: a file "
            "the command does not read"
        )
    if target.is_file() and _is_store(target):
        raise ValueError(
            f"{option}: got {text!r}, a results store (SQLite); allowed: a file that is not "
            "a store (`stbench export` writes a store's rows elsewhere)"
        )
    return target


def _target(path: Path) -> Path:
    """The file a write goes to: a symlink's target (the link itself stays)."""
    return path.resolve() if path.is_symlink() else path


def _is_folder_error(path: str | os.PathLike[str], option: str) -> ValueError:
    return ValueError(f"{option}: {str(path)!r} is a directory; allowed: a file path")


def _make_parent(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # a regular file stands where a folder is needed
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR)) from None


def _cannot(path: str | os.PathLike[str], option: str, exc: OSError) -> ValueError:
    return ValueError(f"{option}: cannot write {str(path)!r}: {exc.strerror or exc}")


def write_atomic(path: str | os.PathLike[str], data: str | bytes, *, option: str = "--out") -> Path:
    """Write a whole file or nothing (see `write_set`, of which this is the one-file case)."""
    return write_set({path: data}, option=option)[0]


def write_set(
    files: Mapping[str | os.PathLike[str], str | bytes], *, option: str = "--out"
) -> list[Path]:
    """stbench's one writer: every file of one output replaced together, or none (see top)."""
    given = [Path(p) for p in files]
    targets = [checked_target(p, option=option) for p in files]  # as typed: a '/' counts
    if len({str(t.absolute()) for t in targets}) < len(targets):
        raise ValueError(f"{option}: got one file twice in one output; allowed: distinct files")
    payloads = [d.encode("utf-8") if isinstance(d, str) else d for d in files.values()]
    staged: list[tuple[str, Path]] = []
    devices: list[tuple[Path, bytes]] = []
    current = given[0] if given else ""
    try:
        for path, target, payload in zip(given, targets, payloads, strict=True):
            current = path
            if target.exists() and not target.is_file():
                devices.append((target, payload))
                continue
            _make_parent(target.parent)
            staged.append((_stage(target, payload), target))
        current = given[0] if given else ""
        _replace_all(staged)
        staged = []
        for target, payload in devices:
            with open(target, "wb") as fh:
                fh.write(payload)
    except OSError as exc:
        raise _cannot(current, option, exc) from None
    finally:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return given


def _stage(target: Path, payload: bytes) -> str:
    """A temporary file beside `target` holding `payload`, synced, mode 0644."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def _replace_all(staged: list[tuple[str, Path]]) -> None:
    """Rename every staged file into place; on a failure, put the replaced files back."""
    done: list[tuple[str | None, Path]] = []  # (backup of the old file or None, target)
    try:
        for tmp, target in staged:
            backup = None
            if target.exists():
                backup = f"{tmp}.old"
                try:
                    os.link(target, backup)
                except OSError:  # no hard links here: replaced without a way back
                    backup = None
            done.append((backup, target))
            os.replace(tmp, target)
    except BaseException:
        for backup, target in reversed(done):
            with contextlib.suppress(OSError):
                if backup is not None:
                    os.replace(backup, target)
                elif target.exists():
                    os.unlink(target)
        raise
    finally:
        for backup, _ in done:
            if backup is not None:
                with contextlib.suppress(OSError):
                    os.unlink(backup)
    for folder in dict.fromkeys(t.parent for _, t in staged):
        _sync_folder(folder)


def _sync_folder(folder: Path) -> None:
    """Make the rename durable (best effort: not every file system allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def check_writable(path: str | os.PathLike[str], *, option: str = "--out") -> Path:
    """Fail before long work when `path` cannot be written or the rule refuses it."""
    given = Path(path)
    target = checked_target(path, option=option)
    try:
        if target.exists():
            if not os.access(target, os.W_OK):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
            if not target.is_file():
                return given
        _make_parent(target.parent)
        with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.check."):
            pass
    except OSError as exc:
        raise _cannot(path, option, exc) from None
    return given
