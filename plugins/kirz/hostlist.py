"""Slurm host lists: ``gpu[001-004,010],cpu07`` <-> ``[gpu001, ..., gpu010, cpu07]``.

Follows Slurm's own rules (``scontrol show hostnames``): commas outside brackets separate
hosts, a bracket holds comma-separated numbers and ranges whose zero padding is kept, several
bracket groups in one name multiply (``r[1-2]n[1-2]`` -> r1n1, r1n2, r2n1, r2n2).
"""

from __future__ import annotations

import re
from itertools import product

_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")
MAX_HOSTS = 1_000_000


class HostListError(ValueError):
    pass


def _split_top(text: str) -> list[str]:
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "[":
            depth += 1
            if depth > 1:
                raise HostListError(f"nested '[' in host list {text!r}")
        elif ch == "]":
            depth -= 1
            if depth < 0:
                raise HostListError(f"unbalanced ']' in host list {text!r}")
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if depth != 0:
        raise HostListError(f"unbalanced '[' in host list {text!r}")
    parts.append("".join(cur))
    return parts


def _expand_ranges(body: str, whole: str) -> list[str]:
    out: list[str] = []
    for item in body.split(","):
        m = _RANGE.match(item.strip())
        if not m:
            raise HostListError(f"bad range {item!r} in host list {whole!r}")
        lo_s, hi_s = m.group(1), m.group(2)
        if hi_s is None:
            out.append(lo_s)
            continue
        lo, hi = int(lo_s), int(hi_s)
        if hi < lo:
            raise HostListError(f"descending range {item!r} in host list {whole!r}")
        if hi - lo >= MAX_HOSTS:
            raise HostListError(f"range {item!r} too large in host list {whole!r}")
        width = len(lo_s) if lo_s.startswith("0") or len(lo_s) == len(hi_s) else 0
        out.extend(str(i).zfill(width) for i in range(lo, hi + 1))
    return out


def expand(hostlist: str | None) -> list[str]:
    """Expand a Slurm host list into host names, in order, keeping duplicates out."""
    if hostlist is None:
        return []
    text = hostlist.strip()
    if text in ("", "None assigned", "(null)", "None"):
        return []
    hosts: list[str] = []
    seen: set[str] = set()
    for part in _split_top(text):
        part = part.strip()
        if not part:
            continue
        pieces = re.split(r"(\[[^\]]*\])", part)
        choices = []
        for piece in pieces:
            if piece.startswith("["):
                choices.append(_expand_ranges(piece[1:-1], text))
            elif piece:
                choices.append([piece])
        for combo in product(*choices):
            name = "".join(combo)
            if name not in seen:
                seen.add(name)
                hosts.append(name)
    return hosts


def compress(hosts: list[str]) -> str:
    """Compress host names into a Slurm host list (inverse of :func:`expand` for simple names)."""
    groups: dict[tuple[str, int], list[int]] = {}
    order: list[tuple[str, int] | str] = []
    for h in hosts:
        m = re.match(r"^(.*?)(\d+)$", h)
        if not m:
            order.append(h)
            continue
        key = (m.group(1), len(m.group(2)))
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(int(m.group(2)))
    out = []
    for key in order:
        if isinstance(key, str):
            out.append(key)
            continue
        prefix, width = key
        nums = sorted(set(groups[key]))
        ranges, start, prev = [], nums[0], nums[0]
        for n in nums[1:] + [None]:
            if n is not None and n == prev + 1:
                prev = n
                continue
            a, b = str(start).zfill(width), str(prev).zfill(width)
            ranges.append(a if start == prev else f"{a}-{b}")
            if n is not None:
                start = prev = n
        if len(nums) == 1:
            out.append(f"{prefix}{ranges[0]}")
        else:
            out.append(f"{prefix}[{','.join(ranges)}]")
    return ",".join(out)
