"""Reading the score files of the official releases: CSV, text lists and ``.xlsx``.

(``.mat`` files are read by :mod:`bench.datasets.matfile`, in a worker process.)

Score files are untrusted input: every reader raises ``FileNotFoundError`` for a missing file
and turns any failure while parsing (bad encoding, broken quoting, a damaged zip, bad XML,
cell references out of range) into one ``ValueError`` ``"<dataset>: <file>: <reason>"``.
``.xlsx`` (SPAQ's annotations) is read with the standard library (an .xlsx is a zip of XML
parts): openpyxl is not a dependency and only the first sheet's cell values are needed. Zip
members are read with a size cap (a damaged or hostile archive can claim any size), and
Python's expat refuses entity-expansion bombs.
"""

from __future__ import annotations

import csv
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from xml.etree import ElementTree

_XLSX_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
#: Largest decompressed .xlsx part read (SPAQ's sheet, 11,125 rows, is about 1 MB).
MAX_XLSX_PART = 256 << 20
#: Longest reason quoted from a parser's own message.
MAX_REASON = 300


def require(path: Path, dataset: str) -> Path:
    """``path`` if it is a file, else ``FileNotFoundError`` naming the dataset."""
    if not path.is_file():
        what = "is not a file" if path.exists() else "not found"
        raise FileNotFoundError(f"{dataset}: {path} {what}")
    return path


@contextmanager
def parsing(path: Path, dataset: str, what: str) -> Iterator[None]:
    """Turn any failure inside the block into ``ValueError("<dataset>: <path>: ...")``.

    A corrupt file can make a parser fail anywhere (decoding, quoting, zip, XML, an index out
    of range); each is a read failure of that file, reported as one line.
    """
    try:
        yield
    except Exception as exc:
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:MAX_REASON]
        raise ValueError(f"{dataset}: {path}: cannot read as {what}: {reason}") from None


def to_float(value: object, where: str) -> float:
    """A score cell as float; ``ValueError`` naming ``where`` otherwise."""
    try:
        return float(str(value).strip())
    except ValueError:
        raise ValueError(f"{where}: score {str(value)[:40]!r} is not a number") from None


def read_csv(path: Path, dataset: str, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """Rows of a CSV with a header (BOM tolerated); ``columns`` must be in the header.

    Column names are matched exactly first, then case-insensitively (releases differ:
    ``MOS`` vs ``mos``); the returned dicts use the requested spelling. Cells beyond the
    header are ignored, missing cells read as ``""``.
    """
    require(path, dataset)
    with parsing(path, dataset, "CSV"), open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, [])]
        body = [row for row in reader if any(cell.strip() for cell in row)]
    lookup = {h.lower(): i for i, h in reversed(list(enumerate(header)))}
    index: dict[str, int] = {}
    for col in columns:
        found = header.index(col) if col in header else lookup.get(col.lower())
        if found is None:
            raise ValueError(f"{dataset}: {path}: no column '{col}' (header: {header[:20]})")
        index[col] = found
    return [
        {col: row[i].strip() if i < len(row) else "" for col, i in index.items()} for row in body
    ]


def read_lines(path: Path, dataset: str) -> list[list[str]]:
    """Whitespace-separated fields of each non-empty line."""
    require(path, dataset)
    with parsing(path, dataset, "text"), open(path, encoding="utf-8-sig") as f:
        return [line.split() for line in f if line.strip()]


def _column_index(ref: str) -> int:
    letters = re.match(r"[A-Z]{1,3}", ref)
    if letters is None:
        raise ValueError(f"bad cell reference '{ref[:20]}'")
    index = 0
    for ch in letters.group(0):
        index = index * 26 + (ord(ch) - 64)
    return index - 1


def _read_part(zf: zipfile.ZipFile, name: str) -> bytes:
    with zf.open(name) as member:
        data = member.read(MAX_XLSX_PART + 1)
    if len(data) > MAX_XLSX_PART:
        raise ValueError(f"part {name} is larger than {MAX_XLSX_PART >> 20} MB")
    return data


def read_xlsx(path: Path, dataset: str) -> list[list[str]]:
    """Cell values of the first worksheet of an ``.xlsx`` file, row by row, as strings."""
    require(path, dataset)
    with parsing(path, dataset, ".xlsx"):
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            shared: list[str] = []
            if "xl/sharedStrings.xml" in names:
                root = ElementTree.fromstring(_read_part(zf, "xl/sharedStrings.xml"))
                for si in root.iter(f"{_XLSX_NS}si"):
                    shared.append("".join(t.text or "" for t in si.iter(f"{_XLSX_NS}t")))
            sheets = sorted(n for n in names if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n))
            if not sheets:
                raise ValueError("no worksheet")
            first = min(sheets, key=lambda n: int(re.findall(r"\d+", n)[-1]))
            sheet = ElementTree.fromstring(_read_part(zf, first))
        return _sheet_rows(sheet, shared)


def _shared_string(shared: list[str], ref: str) -> str:
    index = int(ref)
    if not 0 <= index < len(shared):
        raise ValueError(f"shared string {index} of {len(shared)}")
    return shared[index]


def _sheet_rows(sheet: ElementTree.Element, shared: list[str]) -> list[list[str]]:
    rows: list[list[str]] = []
    for row in sheet.iter(f"{_XLSX_NS}row"):
        cells: dict[int, str] = {}
        for c in row.iter(f"{_XLSX_NS}c"):
            kind = c.get("t", "n")
            if kind == "inlineStr":
                value = "".join(t.text or "" for t in c.iter(f"{_XLSX_NS}t"))
            else:
                v = c.find(f"{_XLSX_NS}v")
                value = "" if v is None or v.text is None else v.text
                if kind == "s" and value:
                    value = _shared_string(shared, value)
            cells[_column_index(c.get("r", "A"))] = value
        if cells:
            rows.append([cells.get(i, "") for i in range(max(cells) + 1)])
    return rows
