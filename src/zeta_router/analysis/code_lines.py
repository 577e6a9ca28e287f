"""Which lines of a text are code, by their shape alone (starts, ends, punctuation,
indentation), how much of it is a pasted table, and whether it holds a stack trace or a
compiler or tool error. Runs on every line of every prompt the
analyzers see, so it sticks to ``str`` methods and a single gated regex."""

from __future__ import annotations

import re

from zeta_router.analysis.matching import Literals

# Line starts that are code in practice. Starts that also open English sentences ("from the
# article", "let me know", "class has 30 students") count only with code punctuation on the line.
_CODE_STARTS = (
    "def ", "class ", "#include", "function ", "function(", "public ", "private ", "protected ",
    "static ", "fn ", "func ", "package ", "return ", "return;", "if (", "if(", "for (", "for(",
    "while (", "elif ", "else:", "else {", "try:", "try {", "except ", "except:", "catch ",
    "catch(", "SELECT ", "INSERT ", "UPDATE ", "CREATE ", "$ ", ">>> ", "<div", "<?", "}", "//",
    "#!", "async ", "await ", "print(", "console.", "std::", "println", "echo ", "sudo ", "pip ",
    "npm ", "git ", "docker ", "cd ", "mkdir ", "assert ", "import ", "from ", "const ", "let ",
    "var ", "@", "- name:", "- run:", "apiVersion:", "FROM ", "RUN ", "COPY ",
)  # fmt: skip
_PROSE_STARTS = ("import ", "from ", "const ", "let ", "var ", "@", "class ", "package ", "public ")


def _starts_by_first_char() -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    # Every line is tested against ~70 starts; keyed by the first character, a line meets at
    # most a handful (no start is a prefix of another, so no line has both kinds).
    groups: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    for start in _CODE_STARTS:
        code, prose = groups.get(start[0], ((), ()))
        if start in _PROSE_STARTS:
            groups[start[0]] = code, (*prose, start)
        else:
            groups[start[0]] = (*code, start), prose
    return groups


_STARTS_BY_FIRST_CHAR = _starts_by_first_char()
_IMPORT_WORDS = 6
# Only whether it matches anywhere is used. Each branch starts with a literal character (the
# call is ``\w\(`` written from its parenthesis; "=>" is covered by "="), which lets the engine
# skip to candidate characters instead of trying every branch at every position: 340 -> 125 ns
# a line.
_CODE_PUNCT = re.compile(r"=|;|\{|\}|\[|\]|->|::|\((?<=\w\()")
# Line ends only code has, and ends prose shares ("Hi team," is prose, "f(a," is code).
_CODE_ENDS = (";", "{", "}", "):", "];", "=>", "->")
_WEAK_ENDS = (")", "[", "(", ",", ":")
# Rows with cells (pipes or tabs) from this many lines up are a pasted table: data to read.
_TABLE_MIN_ROWS = 3


def is_code_line(raw: str, line: str) -> bool:
    """Whether one stripped, non-blank line looks like code rather than prose."""
    starts = _STARTS_BY_FIRST_CHAR.get(line[:1])
    if starts is not None:
        code_starts, prose_starts = starts
        if line.startswith(code_starts):
            return True
        if line.startswith(prose_starts):
            if _CODE_PUNCT.search(line) is not None:
                return True
            if line.startswith("@"):
                return " " not in line  # a bare decorator, not a mention
            # "from x import y", "import numpy as np": short and without sentence punctuation.
            return (
                line.startswith(("from ", "import "))
                and (" import " in line or line.startswith("import "))
                and line.count(" ") < _IMPORT_WORDS
                and not line.endswith((".", "?", "!"))
            )
    if line.endswith(_CODE_ENDS):
        return True
    # Indentation first: it decides most lines of pasted code.
    if raw.startswith(("    ", "\t")) or line.endswith(_WEAK_ENDS):
        # An assignment, the commonest such line, without a regex call.
        return "=" in line or _CODE_PUNCT.search(line) is not None
    return False


def count_code_lines(text: str) -> tuple[int, int, int]:
    """(code-like lines, non-blank lines, characters in table rows) by line shape."""
    code = total = table_chars = 0
    rows: list[tuple[str, str]] = []
    # Most texts, and most lines of the rest, have neither cell separator: a containment test
    # is a fifth of the cost of a count (12 vs 60 ns), and skipping both is cheaper still.
    pipes = "|" in text
    tabs = "\t" in text
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        total += 1
        if (pipes and "|" in line and line.count("|") >= 2) or (
            tabs and "\t" in line and line.count("\t") >= 2
        ):
            rows.append((raw, line))
            table_chars += len(line)
        elif is_code_line(raw, line):
            code += 1
    if len(rows) >= _TABLE_MIN_ROWS:
        return code, total, table_chars
    # Too few rows for a table: a shell pipeline or a markdown fragment, judged like any line.
    return code + sum(1 for raw, line in rows if is_code_line(raw, line)), total, 0


# Each alternative of the traceback pattern and, when it does not start with a literal, a gate:
# a pattern that does, which it cannot match without. One regex alternation re-tries every branch
# at every position (~40 ns a branch in Python's engine, 130 µs on a 3 kB sample); a pattern
# that starts with a literal is found by the engine's own scan for it, faster than a substring
# test (0.4-0.5 vs 0.5-1.6 µs on 1.3 kB of code). "Any branch matches" is exactly "the
# alternation matches".
_TRACEBACK_PARTS: tuple[tuple[str, str | None], ...] = (
    (r"Traceback \(most recent call last\)", None),
    (r"File \"[^\"\n]+\", line \d+", None),
    # Java/JS frames; the word boundary is checked after the literal so the engine can scan for
    # "at " rather than try every position (17 µs on 1.6 kB of prose with "that " in it).
    (r"at (?<=\bat )[\w$.<>/]+\(", None),
    (r"[A-Z]\w{0,40}(?:Error|Exception)(?::| at\b)", r"(?:Error|Exception)(?::| at)"),
    (r"panic: ", None),
    (r"Segmentation fault", None),
    (r"error\[E\d+\]", None),
    (r"npm ERR!", None),
    (r"undefined reference to", None),
    (r"cannot find symbol", None),
    (r"Uncaught \w+", None),
    (r"core dumped", None),
    (r":\d+:\d+: (?:error|warning)", None),
    (r"exit(?:ed with)? (?:code|status) [1-9]", None),
    (r"^fatal: ", "fatal: "),
    (r"^error: (?:failed to push|src refspec|pathspec|Your local changes)", "error: "),
    (r"! \[rejected\]", None),
)
_TRACEBACK_BRANCHES = tuple(
    (re.compile(p, re.MULTILINE), re.compile(gate) if gate else None)
    for p, gate in _TRACEBACK_PARTS
)
# Cheap gates: the traceback branches only run when one of these is present.
_TRACEBACK_MARKERS = Literals.of(
    "rror",
    "xception",
    "panic",
    "\tat ",
    "    at ",
    "dumped",
    "Segmentation",
    "undefined ref",
    "fatal: ",
)


def has_traceback(text: str) -> bool:
    if not _TRACEBACK_MARKERS.any_in(text):
        return False
    return any(
        (gate is None or gate.search(text) is not None) and rx.search(text) is not None
        for rx, gate in _TRACEBACK_BRANCHES
    )
