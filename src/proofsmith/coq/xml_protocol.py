"""Coq's XML protocol values (coqidetop `-main-channel stdfds`), encoded and decoded.

The wire format (Coq's ``ide/coqide/protocol/xmlprotocol.ml``) nests a handful of
element kinds::

    <unit/>  <bool val="true"/>  <int>3</int>  <string>..</string>  <list>..</list>
    <pair>A B</pair>  <option val="none"/>  <option val="some">A</option>
    <union val="in_l">A</union>  <state_id val="3"/>  <route_id val="0"/>
    <goals>..</goals>  <goal>..</goal>  <richpp>..</richpp>  <message>..</message>

Python values map onto them: None <-> unit, bool, int, str <-> string, list, tuple
<-> nested pairs, `Some(x)` / `NONE` <-> option, `Union` <-> union, `StateId` /
`RouteId`. `encode` writes a value; `decode` reads an element; `XmlStream` cuts the
byte stream coming back from coqidetop into top-level elements.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from .goals import Goal, Goals, Hypothesis


@dataclass(frozen=True)
class StateId:
    id: int


@dataclass(frozen=True)
class RouteId:
    id: int


@dataclass(frozen=True)
class Some:
    value: Any


class _NoneOption:
    def __repr__(self) -> str:
        return "NONE"


NONE = _NoneOption()  # the option `none` (Python's None is `unit`)


@dataclass(frozen=True)
class Union:
    side: str  # "in_l" or "in_r"
    value: Any


@dataclass(frozen=True)
class Loc:
    start: int  # byte offsets, relative to the `bp` given to Add (0 by default)
    stop: int


@dataclass(frozen=True)
class Message:
    level: str  # debug, info, notice, warning, error
    text: str
    loc: Loc | None = None


@dataclass(frozen=True)
class Feedback:
    state_id: int
    kind: str  # processed, processingin, message, ...
    message: Message | None = None


def encode(value: Any) -> str:
    """One Python value as Coq's XML."""
    if value is None:
        return "<unit/>"
    if isinstance(value, bool):
        return f'<bool val="{"true" if value else "false"}"/>'
    if isinstance(value, int):
        return f"<int>{value}</int>"
    if isinstance(value, str):
        return f"<string>{escape(value)}</string>"
    if isinstance(value, StateId):
        return f'<state_id val="{value.id}"/>'
    if isinstance(value, RouteId):
        return f'<route_id val="{value.id}"/>'
    if value is NONE:
        return '<option val="none"/>'
    if isinstance(value, Some):
        return f'<option val="some">{encode(value.value)}</option>'
    if isinstance(value, Union):
        return f"<union val={quoteattr(value.side)}>{encode(value.value)}</union>"
    if isinstance(value, list):
        return "<list>" + "".join(encode(v) for v in value) + "</list>"
    if isinstance(value, tuple):
        if len(value) != 2:  # (a, b, c) is (a, (b, c)) on the wire
            return encode((value[0], value[1:] if len(value) > 2 else value[1]))
        return f"<pair>{encode(value[0])}{encode(value[1])}</pair>"
    raise TypeError(f"cannot encode {type(value).__name__} as Coq XML")


def call(name: str, argument: Any) -> bytes:
    """A request: ``<call val="Name">argument</call>``."""
    return f"<call val={quoteattr(name)}>{encode(argument)}</call>".encode()


def richpp_text(elem: ET.Element) -> str:
    """The text Coq printed, tags (highlighting) dropped, layout kept."""
    return "".join(elem.itertext())


def decode(elem: ET.Element) -> Any:
    """One element as a Python value (goals, messages and feedback as dataclasses)."""
    tag, kids = elem.tag, list(elem)
    if tag == "unit":
        return None
    if tag == "bool":
        return elem.get("val") == "true"
    if tag == "int":
        return int(elem.text or "0")
    if tag == "string":
        return elem.text or ""
    if tag == "state_id":
        return StateId(int(elem.get("val", "0")))
    if tag == "route_id":
        return RouteId(int(elem.get("val", "0")))
    if tag == "list":
        return [decode(k) for k in kids]
    if tag == "pair":
        return (decode(kids[0]), decode(kids[1]))
    if tag == "option":
        return Some(decode(kids[0])) if elem.get("val") == "some" else NONE
    if tag == "union":
        return Union(elem.get("val", ""), decode(kids[0]))
    if tag == "richpp":
        return richpp_text(elem)
    if tag == "loc":
        return Loc(int(elem.get("start", "0")), int(elem.get("stop", "0")))
    if tag == "goal":
        return decode_goal(elem)
    if tag == "goals":
        fg, bg, shelved, given_up = (decode(k) for k in kids[:4])
        return Goals(
            foreground=tuple(fg),
            background=tuple(tuple(left) + tuple(right) for left, right in bg),
            shelved=tuple(shelved),
            given_up=tuple(given_up),
        )
    if tag == "message":
        return decode_message(elem)
    if tag == "feedback":
        return decode_feedback(elem)
    if tag in ("message_level", "feedback_content"):
        return elem.get("val")
    return elem  # anything else (status, coq_info, ...) is left for the caller


def decode_goal(elem: ET.Element) -> Goal:
    kids = list(elem)
    goal_id = decode(kids[0])
    hyps = tuple(Hypothesis.parse(richpp_text(h)) for h in kids[1])
    conclusion = richpp_text(kids[2])
    name = None
    if len(kids) > 3:  # 8.14+: the goal's name, when it has one
        opt = decode(kids[3])
        name = opt.value if isinstance(opt, Some) else None
    return Goal(hypotheses=hyps, conclusion=conclusion, id=goal_id, name=name)


def decode_message(elem: ET.Element) -> Message:
    level = loc = text = None
    for kid in elem:
        if kid.tag == "message_level":
            level = kid.get("val")
        elif kid.tag == "option" and len(kid):
            loc = decode(kid[0])
        elif kid.tag == "richpp":
            text = richpp_text(kid)
    return Message(level=level or "", text=text or "", loc=loc)


def decode_feedback(elem: ET.Element) -> Feedback:
    state_id, kind, message = 0, "", None
    for kid in elem:
        if kid.tag == "state_id":
            state_id = int(kid.get("val", "0"))
        elif kid.tag == "feedback_content":
            kind = kid.get("val", "")
            for sub in kid:
                if sub.tag == "message":
                    message = decode_message(sub)
    return Feedback(state_id=state_id, kind=kind, message=message)


# Coq writes HTML's &nbsp; (not an XML entity) for every space inside pretty-printed text.
_ENTITY_FIX = re.compile(rb"&nbsp;")


class XmlStream:
    """Cuts coqidetop's output into complete top-level elements as bytes arrive."""

    def __init__(self) -> None:
        self._parser = ET.XMLPullParser(events=("start", "end"))
        self._parser.feed(b"<coqstream>")
        self._depth = 0
        self._root: ET.Element | None = None
        self._pending = b""  # a tail that might be a cut-off entity

    def feed(self, data: bytes) -> Iterator[ET.Element]:
        data = self._pending + data
        amp = data.rfind(b"&")
        if amp != -1 and b";" not in data[amp:]:
            data, self._pending = data[:amp], data[amp:]
        else:
            self._pending = b""
        self._parser.feed(_ENTITY_FIX.sub(b" ", data))
        for event, elem in self._parser.read_events():
            if event == "start":
                self._depth += 1
                if self._root is None:
                    self._root = elem
            else:
                self._depth -= 1
                if self._depth == 1:
                    self._root.remove(elem)  # keep memory flat over a long session
                    yield elem
