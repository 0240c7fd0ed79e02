"""Importers: the generic JSONL/CSV format, the Amazon 2018 Scientific catalog, the ReDial movie catalog,
the MG-ShopDial product lists."""

from __future__ import annotations

import ast
import csv
import gzip
import html
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from retrieval.items import CATEGORY_SEP, InvalidRow, Item, image_url, item_from_row, parse_price, plain_text

AMAZON_DIR = "amazon2018-industrial-scientific"
REDIAL_CATALOG = "redial/ievalm_eval/id2info.json.gz"
MAX_LINE = 1_000_000  # bytes; a longer catalog line is rejected rather than parsed

# Amazon's top-level departments under "Industrial & Scientific"; the dataset joins the path with spaces,
# so the department is recognised by prefix and the rest kept as the sub-category.
AMAZON_DEPARTMENTS = [
    "Abrasive & Finishing Products", "Additive Manufacturing Products", "Commercial Door Products",
    "Cutting Tools", "Fasteners", "Filtration", "Food Service Equipment & Supplies",
    "Hydraulics, Pneumatics & Plumbing", "Industrial Electrical", "Industrial Hardware",
    "Industrial Power & Hand Tools", "Janitorial & Sanitation Supplies", "Lab & Scientific Products",
    "Material Handling Products", "Occupational Health & Safety Products", "Packaging & Shipping Supplies",
    "Power Transmission Products", "Professional Dental Supplies", "Professional Medical Supplies",
    "Raw Materials", "Retail Store Fixtures & Equipment", "Robotics", "Science Education",
    "Tapes, Adhesives & Sealants", "Test, Measure & Inspect",
]


@dataclass(frozen=True)
class RowError:
    """A catalog row that was skipped: where it is and why."""

    line: int  # 1-based line in the file; 0 when the problem is not tied to one line
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}" if self.line > 0 else self.reason


class DuplicateId(RowError):
    """An id on more than one line of one file: the last row is kept (not a rejected row)."""

    def __init__(self, item_id: str, lines: list[int]):
        where = ", ".join(str(n) for n in lines[:-1]) + f" and {lines[-1]}"
        super().__init__(lines[-1], f"duplicate id {item_id[:80]!r} on lines {where}: the last row (line "
                                    f"{lines[-1]}) is kept")


def read_catalog_file(path: Path) -> Iterator[Item | RowError]:
    """Rows of a generic catalog file (.jsonl, .json, .csv, optionally .gz), each an Item or a RowError.

    A UTF-8 byte order mark is accepted. An id on several lines is one item, the last row's, reported once as
    a DuplicateId naming every line, so a re-ingest of the same file finds it unchanged."""
    path = Path(path)
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    kind = suffixes[-1] if suffixes else ""
    if kind not in (".jsonl", ".json", ".csv", ".ndjson"):
        raise ValueError(f"{path}: unknown catalog format; use .jsonl or .csv (see README, 'Your own catalog')")
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    rows: list[tuple[int, Item | RowError]] = []
    lines: dict[str, list[int]] = {}  # id -> the lines it is on
    with opener(path, "rt", encoding="utf-8-sig", errors="replace", newline="") as f:
        for line_no, row in (_csv_rows(f) if kind == ".csv" else _jsonl_rows(f)):
            rows.append((line_no, row))
            if isinstance(row, Item):
                lines.setdefault(row.item_id, []).append(line_no)
    for line_no, row in rows:  # file order; a repeated id comes once, at its last line
        if isinstance(row, Item) and len(lines[row.item_id]) > 1:
            if line_no != lines[row.item_id][-1]:
                continue
            yield DuplicateId(row.item_id, lines[row.item_id])
        yield row


def _jsonl_rows(f: io.TextIOBase) -> Iterator[tuple[int, Item | RowError]]:
    for line_no, line in enumerate(f, start=1):
        if not line.strip():
            continue
        if len(line) > MAX_LINE:
            yield line_no, RowError(line_no, f"line longer than {MAX_LINE} characters")
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            yield line_no, RowError(line_no, f"invalid JSON ({e.msg})")
            continue
        yield line_no, _to_item(line_no, row)


def _csv_rows(f: io.TextIOBase) -> Iterator[tuple[int, Item | RowError]]:
    csv.field_size_limit(MAX_LINE)
    reader = csv.DictReader(f)
    for row in reader:
        line_no = reader.line_num
        if None in row:
            yield line_no, RowError(line_no, "more fields than the header has columns")
            continue
        yield line_no, _to_item(line_no, row)


def _to_item(line_no: int, row: object) -> Item | RowError:
    try:
        return item_from_row(row)  # type: ignore[arg-type]
    except InvalidRow as e:
        return RowError(line_no, str(e))


# ---------------------------------------------------------------- Amazon 2018 Industrial & Scientific


def amazon_items(data_dir: Path) -> list[Item]:
    """The 4,385 Amazon Scientific items (ids are ASINs), with descriptions joined by title as SOURCE.md says."""
    root = Path(data_dir) / AMAZON_DIR
    descriptions = _amazon_descriptions(root / "minionerec_item_text" / "Industrial_and_Scientific.item.json.gz")
    items = []
    with gzip.open(root / "unisrec_scientific" / "Scientific.text.gz", "rt", encoding="utf-8") as f:
        next(f)  # RecBole header
        for line in f:
            asin, _, text = line.rstrip("\n").partition("\t")
            title, category, brand = _split_amazon_text(text)
            desc = descriptions.get(_norm(title)) or _prefix_lookup(descriptions, _norm(title))
            items.append(Item(item_id=asin, title=title, category=category, brand=brand, description=desc))
    return items


def amazon_index_to_asin(data_dir: Path) -> list[str]:
    """ASIN of each integer item index used in the *.inter files."""
    path = Path(data_dir) / AMAZON_DIR / "unisrec_scientific" / "Scientific.item2index.gz"
    pairs = [line.split("\t") for line in gzip.open(path, "rt").read().splitlines() if line]
    asins = [""] * len(pairs)
    for asin, index in pairs:
        asins[int(index)] = asin
    return asins


def _split_amazon_text(text: str) -> tuple[str, str, str | None]:
    """'title. Industrial & Scientific <path>. brand.' -> (title, category path, brand)."""
    text = text.strip()
    marker = ". Industrial & Scientific"
    at = text.find(marker)
    if at < 0:  # no category: 'title. brand.' where the brand may be missing
        head, _, brand = text.rstrip(".").rpartition(". ")
        return (head or brand).strip(), "", (brand.strip() if head else None)
    title = text[:at].strip()
    rest = text[at + 2:].rstrip().rstrip(".")
    path, _, brand = rest.rpartition(". ")
    if not path:
        path, brand = rest, ""
    sub = path[len("Industrial & Scientific"):].strip()
    levels = ["Industrial & Scientific"]
    for dept in AMAZON_DEPARTMENTS:
        if sub.startswith(dept):
            levels.append(dept)
            sub = sub[len(dept):].strip()
            break
    if sub:
        levels.append(sub)
    return title, CATEGORY_SEP.join(levels), (brand.strip() or None)


def _amazon_descriptions(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    with gzip.open(path, "rt", encoding="utf-8") as f:
        raw = json.load(f)
    out = {}
    for row in raw.values():
        desc = row.get("description") or ""
        try:
            parts = ast.literal_eval(desc) if desc.startswith("[") else [desc]
        except (ValueError, SyntaxError):
            parts = [desc]
        text = plain_text(" ".join(" ".join(str(p).split()) for p in parts if p))  # 3 hold markup (<ulu>)
        if text and row.get("title"):
            out[_norm(row["title"])] = text
    return out


def _prefix_lookup(descriptions: dict[str, str], norm_title: str) -> str:
    # MiniOneRec titles are sometimes a prefix of the UniSRec title (SOURCE.md, "Joining the two sources").
    words = norm_title.split()
    for n in range(len(words) - 1, max(len(words) - 6, 2), -1):
        hit = descriptions.get(" ".join(words[:n]))
        if hit:
            return hit
    return ""


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


# ---------------------------------------------------------------- ReDial movies


MOVIELENS_DIR = "movielens-latest-small"
MOVIELENS_PREFIX = "ml"  # ids of MovieLens movies ReDial lacks: "ml<movieId>"


def movie_items(data_dir: Path) -> list[Item]:
    """The movie catalog: the 6,583 ReDial movies, then the MovieLens movies ReDial lacks (linked by IMDb id).

    ReDial ids stay as they are (the '@<id>' of the dialogues); a MovieLens movie is "ml<movieId>" with its title,
    year, genres and IMDb id (MovieLens has no plots or people). Without the MovieLens folder: ReDial only.
    """
    items = redial_items(data_dir)
    ml = Path(data_dir) / MOVIELENS_DIR
    if not (ml / "movies.csv.gz").exists():
        return items
    have = {it.attributes.get("imdb_id") for it in items} - {None, ""}
    with gzip.open(ml / "links.csv.gz", "rt", encoding="utf-8", newline="") as f:
        imdb = {row["movieId"]: f"tt{row['imdbId'].strip()}" for row in csv.DictReader(f) if row.get("imdbId")}
    with gzip.open(ml / "movies.csv.gz", "rt", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            link = imdb.get(row["movieId"], "")
            if not link or link in have:
                continue
            have.add(link)
            genres = [g.strip() for g in row.get("genres", "").split("|")
                      if g.strip() and g.strip() != "(no genres listed)"]
            genres = ["Family" if g == "Children" else g for g in genres]
            title = " ".join(row["title"].split())
            year = re.search(r"\((\d{4})\)\s*$", title)
            attrs = {"genre": ", ".join(genres), "year": year.group(1) if year else "", "imdb_id": link}
            items.append(Item(item_id=f"{MOVIELENS_PREFIX}{row['movieId']}", title=title,
                              category=CATEGORY_SEP.join(["Movies", genres[0] if genres else "Other"]),
                              attributes={k: v for k, v in attrs.items() if v}))
    return items


def redial_items(data_dir: Path) -> list[Item]:
    """The 6,583 ReDial movies (ids are ReDial movie ids, as in '@<id>' mentions) as catalog items."""
    with gzip.open(Path(data_dir) / REDIAL_CATALOG, "rt", encoding="utf-8") as f:
        raw = json.load(f)
    items = []
    for movie_id, info in raw.items():
        genres = [g.strip().title() for g in info.get("genre") or [] if g.strip()]
        name = " ".join(str(info.get("name", movie_id)).split())
        year = re.search(r"\((\d{4})\)\s*$", name)
        attrs = {
            "genre": ", ".join(genres),
            "director": ", ".join(info.get("director") or []),
            "stars": ", ".join(info.get("star") or []),
            "writer": ", ".join(info.get("writer") or []),
            "year": year.group(1) if year else "",
            "imdb_id": info.get("imdb_id") or "",
        }
        items.append(Item(
            item_id=str(movie_id), title=name,
            category=CATEGORY_SEP.join(["Movies", genres[0] if genres else "Other"]),
            description=" ".join(str(info.get("plot") or "").split()),
            attributes={k: v for k, v in attrs.items() if v},
        ))
    return items


# ---------------------------------------------------------------- MG-ShopDial product lists

SHOPDIAL_DIR = "mg-shopdial/catalog_items"
# file stem -> (id slug, top category); the four small lists the wizards saw (SOURCE.md in mg-shopdial)
SHOPDIAL_FILES = {
    "Books": ("books", "Books"),
    "Cellphones_and_Accessories": ("cellphones", "Cellphones & Accessories"),
    "Officeproducts": ("office", "Office Products"),
    "SportsandOutdoors": ("sports", "Sports & Outdoors"),
}
# Brands as the product names write them; an item gets one only when its name contains it as a word (the
# records have no brand field; one office item states "Brand: <name>" in its description, read separately).
SHOPDIAL_BRANDS = (
    "Amazon Basics", "Speedy Inks", "Sensyne", "ULANZI", "Sony", "DJI", "EIVOTOR", "TONOR", "SAMSUNG",
    "Google", "OnePlus", "Dunwell", "MeetRGB", "Hammermill", "HP", "Lin.Pen", "VITOLER", "Nike", "adidas",
    "PUMA", "ASICS", "YONEX", "KEVENZ", "Senston", "Philonext", "Botas", "CCM", "Winnwell", "STX",
)
# Book records end in "Genre: a, b / Publisher: x; edition (date) / Hardcover: 384 pages / Reading age: 13+ years"
_BOOK_FIELD = re.compile(r"^(Genre|Publisher|Hardcover|Paperback|Reading age)\s*:\s*(.+)$")


def shopdial_items(data_dir: Path) -> list[Item]:
    """The 57 MG-ShopDial items; ids "shopdial-<books|cellphones|office|sports>-<NN>", NN = 1-based file position."""
    root = Path(data_dir) / SHOPDIAL_DIR
    items = []
    for stem, (slug, top) in SHOPDIAL_FILES.items():
        rows = json.loads((root / f"{stem}_items.json").read_text(encoding="utf-8"))
        for n, row in enumerate(rows, start=1):
            items.append(_shopdial_item(f"shopdial-{slug}-{n:02d}", top, row))
    return items


def _shopdial_item(item_id: str, top: str, row: dict) -> Item:
    name = _shop_text(row.get("name"))
    short, long = _shop_text(row.get("short_description")), _shop_text(row.get("product_description"))
    attrs: dict[str, str] = {}
    rating = _shop_text(row.get("rating"))
    if rating:  # two records give "4.8" where the rest give "4.8/5"; the scale is the same
        attrs["rating"] = rating if "/" in rating else f"{rating}/5"
    category, brand = top, None
    if top == "Books":
        title, sep, author = name.rpartition(" by ")
        if sep and title and author:
            attrs["author"] = author
        attrs.update(_book_fields(long))
        genre = attrs.get("genre", "").split(",")[0].strip()
        category = CATEGORY_SEP.join([top, genre]) if genre else top
    else:
        brand = _shop_brand(name, f"{short} {long}")
    return Item(item_id=item_id, title=name, category=category, brand=brand,
                price=parse_price(row.get("price")),
                description=" ".join(p for p in (short, long) if p), attributes=attrs,
                image=image_url(row.get("images")))


def _book_fields(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in text.split(" / "):
        m = _BOOK_FIELD.match(part.strip())
        if not m:
            continue
        key, value = m.group(1), m.group(2).strip()
        if key == "Genre":
            out["genre"] = value
        elif key == "Reading age":
            out["reading_age"] = value
        elif key == "Publisher":
            date = re.search(r"\(([^()]*\d{4})\)\s*$", value)
            out["publisher"] = re.split(r"[;(]", value)[0].strip()
            if date:
                out["publication_date"] = date.group(1).strip()
        else:  # Hardcover / Paperback: "<n> pages"
            out["format"] = key
            pages = re.fullmatch(r"(\d+)\s+pages", value)
            if pages:
                out["pages"] = pages.group(1)
    return out


def _shop_brand(name: str, description: str) -> str | None:
    stated = re.search(r"\bBrand:\s*([A-Za-z][\w.&-]*)", description)
    if stated:
        return stated.group(1)
    for brand in SHOPDIAL_BRANDS:
        if re.search(rf"(?<![\w.]){re.escape(brand)}(?![\w.])", name):
            return brand
    return None


def _shop_text(value: object) -> str:
    """Whitespace-collapsed text without HTML entities, direction marks or stray control characters."""
    if value is None:
        return ""
    text = html.unescape(str(value))
    text = re.sub(r"[\u200b-\u200f\u202a-\u202e\ufeff\x00-\x08\x0b-\x1f\x7f-\x9f]", " ", text)
    return " ".join(text.split())
