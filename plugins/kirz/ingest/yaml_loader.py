"""The YAML loader of the YAML sources (inventory, certificate ledger): impossible dates such as
``2026-02-30`` are YAML errors that carry their line, like every other error of the file."""

from __future__ import annotations

import yaml


class DateCheckingLoader(yaml.SafeLoader):
    """SafeLoader whose invalid dates raise a ConstructorError at the node's mark."""

    def construct_yaml_timestamp(self, node):
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value!r} is not a valid date ({exc})", node.start_mark
            ) from None


DateCheckingLoader.add_constructor("tag:yaml.org,2002:timestamp", DateCheckingLoader.construct_yaml_timestamp)


def yaml_error(path, fmt: str, exc: yaml.YAMLError):
    """The FormatError for a file that is not valid YAML, with its line where YAML gives one."""
    from kirz.ingest.base import FormatError

    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        return FormatError(path, f"{fmt}: not valid YAML: {exc.problem or exc.context}", mark.line + 1 if mark else None)
    return FormatError(path, f"{fmt}: not valid YAML: {exc}")
