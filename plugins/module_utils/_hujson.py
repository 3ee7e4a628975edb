# Copyright: (c) 2026, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""HuJSON ("human JSON": JSON with comments and trailing commas) to plain JSON.

Private to the collection (the leading underscore): it may change in any release.

Tailscale and Headscale keep tailnet policies in HuJSON
(https://github.com/tailscale/hujson#readme). Comparing two policies means
comparing the data, so comments, whitespace and trailing commas are removed
here, the same way ``hujson.Standardize`` does: every removed character becomes
a space (newlines stay), so a JSON error's line and column point into the text
the user wrote.

This file runs on module targets, so it stays compatible with Python 3.8.
"""

from __future__ import annotations

import json


class HujsonError(ValueError):
    """Text that is not HuJSON; the message says where (line and column)."""


def _position(text, index):
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


def _blank(text):
    """TEXT with every character but newlines replaced by a space."""
    return "".join("\n" if c == "\n" else " " for c in text)


def _strip_comments(text):
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            end = _string_end(text, i)
            out.append(text[i:end])
            i = end
        elif text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            out.append(_blank(text[i:end]))
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                line, column = _position(text, i)
                raise HujsonError(
                    f"unterminated /* comment starting at line {line} column {column}"
                )
            out.append(_blank(text[i : end + 2]))
            i = end + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _string_end(text, start):
    """Index just after the string literal opening at START (escapes respected)."""
    i, n = start + 1, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            return i + 1
        if c == "\n":
            break
        i += 1
    line, column = _position(text, start)
    raise HujsonError(f"unterminated string starting at line {line} column {column}")


def _strip_trailing_commas(text):
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            i = _string_end(text, i)
            continue
        if c == ",":
            j = i + 1
            while j < n and text[j] in " \t\r\n":
                j += 1
            if j < n and text[j] in "}]":
                out[i] = " "
        i += 1
    return "".join(out)


def standardize(text):
    """TEXT (HuJSON) as standard JSON text, positions unchanged."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    return _strip_trailing_commas(_strip_comments(text))


def loads(text):
    """Parses HuJSON TEXT into Python data; raises HujsonError saying where it broke."""
    plain = standardize(text)
    try:
        return json.loads(plain)
    except ValueError as exc:
        line, column = getattr(exc, "lineno", None), getattr(exc, "colno", None)
        where = f" at line {line} column {column}" if line else ""
        reason = getattr(exc, "msg", str(exc))
        raise HujsonError(f"not valid HuJSON{where}: {reason}") from None


def canonical(data):
    """DATA as compact, key-sorted JSON: equal policies give equal strings."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))
