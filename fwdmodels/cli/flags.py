"""The one place where Python argument names become the command's flags.

Library errors and warnings name arguments as Python does, in backticks: "`dt` must be
positive; got -1 ms", "pass `force=True` to overwrite it". On the command line the same
message reads "--dt must be positive; got -1 ms", "pass --force to overwrite it": each
`` `name` `` whose name is the destination of an option of the command that ran becomes that
option's flag, and `` `name=value` `` becomes ``--flag value`` (``--flag`` alone for a switch
set to True). Names that are no option of the command (``kappa``, ``z``) stay as they are.
"""

from __future__ import annotations

import argparse
import ast
import re
import shlex

__all__ = ["flag_table", "to_flags", "command_parsers"]

_NAMED = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)(?:=([^`]*))?`")


def command_parsers(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list:
    """The parser and the sub-parsers that parsed ``args``, outermost first."""
    chain = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            chosen = action.choices.get(getattr(args, action.dest, None) or "")
            if chosen is not None:
                chain += command_parsers(chosen, args)
    return chain


def flag_table(parsers) -> dict:
    """``{dest: action}`` of every option (not positional) of ``parsers``."""
    table = {}
    for parser in parsers:
        for action in parser._actions:
            if any(s.startswith("--") for s in action.option_strings):
                table[action.dest] = action
    return table


def _flag(action) -> str:
    return next(s for s in action.option_strings if s.startswith("--"))


def _value_text(text: str) -> str:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    return shlex.quote(value) if isinstance(value, str) else str(value)


def to_flags(message: str, table: dict) -> str:
    """``message`` with the Python argument names of ``table`` written as flags."""
    def replace(match):
        name, value = match.group(1), match.group(2)
        action = table.get(name)
        if action is None:
            return match.group(0)
        if value is None:
            return _flag(action)
        if action.nargs == 0:               # a switch: --force for force=True
            return _flag(action) if value.strip() == str(action.const) else match.group(0)
        return f"{_flag(action)} {_value_text(value.strip())}"

    return _NAMED.sub(replace, str(message))
