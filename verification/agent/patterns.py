"""Reference patterns made tolerant of OCR's look-alike letters, then resolved per alphabet.

A template's pattern (payments.method_templates) says, position by position, which alphabet a
reference uses. OCR confuses 0/O and 1/I/l. Each piece of the pattern is matched with its
look-alikes allowed and then repaired: in a digits-only piece an O is a 0 and an I/l is a 1; in
a letters-only piece a 0 is an O and a 1 an I; mixed pieces ([0-9A-Z]) cannot be repaired and
are taken as read. Only the simple regular expressions the templates use are understood:
literals, ``\\d``, character classes, ``{n}``, ``{n,m}``, ``?`` and top-level ``|``.
"""

import re
from dataclasses import dataclass
from functools import cache

_TO_DIGIT = str.maketrans(
    {"O": "0", "o": "0", "D": "0", "Q": "0", "I": "1", "l": "1", "|": "1", "i": "1", "L": "1"}
)
_TO_LETTER = str.maketrans({"0": "O", "1": "I"})
_TO_HEX = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1", "|": "1", "i": "1"})


@dataclass(frozen=True)
class _Piece:
    kind: str  # digit, letter, hex, mixed, literal
    literal: str
    minimum: int
    maximum: int

    def fuzzy(self) -> str:
        classes = {
            "digit": r"[0-9OoDQIl|iL]",
            "letter": r"[A-Z01]",
            "hex": r"[0-9A-FOoIl|i]",
            "mixed": r"[0-9A-Z]",
        }
        if self.kind == "literal":
            body = {"O": "[O0]", "I": "[I1l]", "0": "[0O]", "1": "[1Il]"}.get(
                self.literal, re.escape(self.literal)
            )
        else:
            body = classes[self.kind]
        quantifier = (
            ""
            if (self.minimum, self.maximum) == (1, 1)
            else f"{{{self.minimum}}}"
            if self.minimum == self.maximum
            else f"{{{self.minimum},{self.maximum}}}"
        )
        return f"({body}{quantifier})"

    def repair(self, text: str) -> str:
        if self.kind == "digit":
            return text.translate(_TO_DIGIT)
        if self.kind == "letter":
            return text.translate(_TO_LETTER)
        if self.kind == "hex":
            return text.translate(_TO_HEX).upper()
        if self.kind == "literal":
            return self.literal
        return text


def _class_kind(body: str) -> str:
    has_digits = "0-9" in body or "\\d" in body
    has_letters = "A-Z" in body
    if has_digits and has_letters:
        return "mixed"
    if has_letters:
        return "letter"
    if "A-F" in body and has_digits:
        return "hex"
    return "digit" if has_digits else "mixed"


def _parse(alternative: str) -> list[_Piece]:
    pieces: list[_Piece] = []
    position = 0
    while position < len(alternative):
        char = alternative[position]
        if alternative.startswith("\\d", position):
            kind, literal, position = "digit", "", position + 2
        elif char == "[":
            end = alternative.index("]", position)
            body = alternative[position + 1 : end]
            kind = "hex" if body in ("0-9A-F", "A-F0-9") else _class_kind(body)
            literal, position = "", end + 1
        else:
            kind, literal, position = "literal", char, position + 1
        minimum = maximum = 1
        if position < len(alternative) and alternative[position] == "{":
            end = alternative.index("}", position)
            bounds = alternative[position + 1 : end].split(",")
            minimum, maximum = int(bounds[0]), int(bounds[-1])
            position = end + 1
        elif position < len(alternative) and alternative[position] == "?":
            minimum, maximum, position = 0, 1, position + 1
        pieces.append(_Piece(kind, literal, minimum, maximum))
    return pieces


@dataclass(frozen=True)
class FuzzyPattern:
    alternatives: tuple[tuple[re.Pattern[str], tuple[_Piece, ...]], ...]
    strict: re.Pattern[str]

    def find(self, text: str) -> str | None:
        """Return the first reference in ``text`` (spaces already removed), repaired."""
        best: tuple[int, str] | None = None
        for fuzzy, pieces in self.alternatives:
            for match in fuzzy.finditer(text):
                repaired = "".join(
                    piece.repair(match.group(index + 1) or "") for index, piece in enumerate(pieces)
                )
                if self.strict.fullmatch(repaired) and (best is None or match.start() < best[0]):
                    best = (match.start(), repaired)
                break
        return best[1] if best else None


_LOOK_ALIKE_GROUPS = ("0OoDQ", "1Il|iL")


def doubled_glyph_variants(text: str) -> list[str]:
    """Return ``text`` with one of two adjacent look-alike glyphs removed, for each such pair.

    At small sizes OCR sometimes reads one round glyph as two ("B0" → "BO0"); dropping one of a
    look-alike pair and re-checking the strict pattern repairs it without inventing characters.
    """
    variants = []
    for index in range(len(text) - 1):
        pair = text[index : index + 2]
        if any(pair[0] in group and pair[1] in group for group in _LOOK_ALIKE_GROUPS):
            variants.append(text[:index] + text[index + 1 :])
            variants.append(text[: index + 1] + text[index + 2 :])
    return variants


@cache
def compile_fuzzy(pattern: str, *, hex_alphabet: bool = False) -> FuzzyPattern:
    """Compile a template's reference pattern into its OCR-tolerant form."""
    alternatives = []
    for alternative in pattern.split("|"):
        pieces = _parse(alternative)
        if hex_alphabet:
            pieces = [
                _Piece("hex", piece.literal, piece.minimum, piece.maximum)
                if piece.kind == "mixed"
                else piece
                for piece in pieces
            ]
        # Lookarounds keep a 10-digit reference from being read out of a longer number.
        fuzzy = "(?<![0-9])" + "".join(piece.fuzzy() for piece in pieces) + "(?![0-9])"
        alternatives.append((re.compile(fuzzy), tuple(pieces)))
    return FuzzyPattern(tuple(alternatives), re.compile(pattern))
