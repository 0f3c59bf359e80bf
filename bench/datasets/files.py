"""Reading the score files of the official releases: CSV, text lists, MATLAB ``.mat``, ``.xlsx``.

Every reader raises ``FileNotFoundError`` / ``ValueError`` with a one-line message naming the
file. ``.xlsx`` (SPAQ's annotations) is read with the standard library (an .xlsx is a zip of
XML parts): openpyxl is not a dependency and only the first sheet's cell values are needed.
"""

from __future__ import annotations

import csv
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import numpy as np

_XLSX_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def require(path: Path, dataset: str) -> Path:
    """``path`` if it is a file, else ``FileNotFoundError`` naming the dataset."""
    if not path.is_file():
        raise FileNotFoundError(f"{dataset}: {path} not found")
    return path


def to_float(value: object, where: str) -> float:
    """A score cell as float; ``ValueError`` naming ``where`` otherwise."""
    try:
        return float(str(value).strip())
    except ValueError:
        raise ValueError(f"{where}: score '{value}' is not a number") from None


def read_csv(path: Path, dataset: str, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """Rows of a CSV with a header (BOM tolerated); ``columns`` must be in the header.

    Column names are matched exactly first, then case-insensitively (releases differ:
    ``MOS`` vs ``mos``); the returned dicts use the requested spelling.
    """
    require(path, dataset)
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in (reader.fieldnames or [])]
        lookup = {h.lower(): h for h in header}
        names: dict[str, str] = {}
        for col in columns:
            found = col if col in header else lookup.get(col.lower())
            if found is None:
                raise ValueError(f"{dataset}: {path} has no column '{col}' (header: {header})")
            names[col] = found
        rows = []
        for row in reader:
            row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
            if not any(row.values()):
                continue
            rows.append({col: row.get(src, "") for col, src in names.items()})
    return rows


def read_lines(path: Path, dataset: str) -> list[list[str]]:
    """Whitespace-separated fields of each non-empty line."""
    require(path, dataset)
    with open(path, encoding="utf-8-sig") as f:
        return [line.split() for line in f if line.strip()]


def read_mat(path: Path, dataset: str, variable: str) -> np.ndarray:
    """One variable of a MATLAB ``.mat`` file (v5, what the LIVE releases ship)."""
    from scipy.io import loadmat

    require(path, dataset)
    try:
        data = loadmat(path)
    except (ValueError, OSError, NotImplementedError) as exc:
        raise ValueError(f"{dataset}: cannot read {path}: {exc}") from None
    if variable not in data:
        found = sorted(k for k in data if not k.startswith("__"))
        raise ValueError(f"{dataset}: {path} has no variable '{variable}' (found: {found})")
    return data[variable]


def mat_strings(array: np.ndarray) -> list[str]:
    """A MATLAB cell array of strings (any shape) as a flat list of Python strings."""
    out = []
    for item in np.asarray(array, dtype=object).ravel():
        while isinstance(item, np.ndarray):
            item = item.ravel()[0] if item.size else ""
        out.append(str(item))
    return out


def _column_index(ref: str) -> int:
    letters = re.match(r"[A-Z]+", ref)
    if letters is None:
        raise ValueError(f"bad cell reference '{ref}'")
    index = 0
    for ch in letters.group(0):
        index = index * 26 + (ord(ch) - 64)
    return index - 1


def read_xlsx(path: Path, dataset: str) -> list[list[str]]:
    """Cell values of the first worksheet of an ``.xlsx`` file, row by row, as strings."""
    require(path, dataset)
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            shared: list[str] = []
            if "xl/sharedStrings.xml" in names:
                root = ElementTree.fromstring(zf.read("xl/sharedStrings.xml"))
                for si in root.iter(f"{_XLSX_NS}si"):
                    shared.append("".join(t.text or "" for t in si.iter(f"{_XLSX_NS}t")))
            sheets = sorted(n for n in names if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n))
            if not sheets:
                raise ValueError("no worksheet")
            first = min(sheets, key=lambda n: int(re.findall(r"\d+", n)[-1]))
            sheet = ElementTree.fromstring(zf.read(first))
    except (zipfile.BadZipFile, ElementTree.ParseError, KeyError, ValueError) as exc:
        raise ValueError(f"{dataset}: cannot read {path} as .xlsx: {exc}") from None
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
                    value = shared[int(value)]
            cells[_column_index(c.get("r", "A"))] = value
        if cells:
            rows.append([cells.get(i, "") for i in range(max(cells) + 1)])
    return rows
