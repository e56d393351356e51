"""The JSON export format (`companion export --format json`) as pydantic models: what
`companion import` accepts. Every field is checked with the same rules and words as a
hand-written check would give, and each problem is named by where it is in the file
(ratings[3].value), so one bad value never becomes a traceback or half an import.

Fields an export carries that an import does not read (a rating's id, a session's
ratings_count, which is recounted) are ignored."""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from datetime import datetime, timezone
from typing import Annotated, Any, Callable, Optional

from pydantic import (BaseModel, ConfigDict, Field, PlainValidator, ValidationError,
                      ValidationInfo, field_validator, model_validator)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

# Imported times must fall in this span: nobody rated pain with this companion before 2000,
# and a time far ahead is a typo or a wrong clock (a day of slack for time zones and clocks).
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
SLACK_S = 86_400.0
INT_MAX = 2 ** 63 - 1  # what SQLite can store in an INTEGER
# The validation context key for the latest plausible time (Unix seconds).
LATEST = "latest"


def problem(message: str) -> PydanticCustomError:
    """A validation error whose message is exactly `message` (a template would read braces
    in a shown value as placeholders)."""
    return PydanticCustomError("export", "{problem}", {"problem": message})


def show(v: Any) -> str:
    """A value from the file for a message: JSON, ASCII only, at most about 60 characters."""
    try:
        shown = json.dumps(v)
    except (RecursionError, ValueError, TypeError):
        shown = f"a {kind(v)}"
    return shown if len(shown) <= 60 else shown[:57] + "..."


def kind(v: Any) -> str:
    """What JSON calls the type of `v`."""
    return {dict: "object", list: "list", str: "string", bool: "true/false", int: "number",
            float: "number", type(None): "null"}.get(type(v), type(v).__name__)


# Field checks. PlainValidator: pydantic does no coercion of its own ("6" stays text, true
# is no number), so these see the value exactly as the file has it.
def _whole(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise problem(f"must be a whole number, not {show(v)}")
    if not -INT_MAX <= v <= INT_MAX:
        raise problem(f"is too large to store (at most {INT_MAX}), not {show(v)}")
    return v


def _count(v: Any) -> int:
    if _whole(v) < 0:
        raise problem(f"must not be negative, not {v}")
    return int(v)


def _pain(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 10:
        raise problem(f"must be a pain rating, a whole number from 0 to 10, not {show(v)}")
    return v


def _text(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise problem(f"must be a non-empty string, not {show(v)}")
    try:
        v.encode("utf-8")
    except UnicodeEncodeError as e:  # JSON can spell half a UTF-16 pair: "\ud800"
        raise problem(f"is not valid text: it holds {show(v[e.start])}, half of a UTF-16 "
                      "surrogate pair") from None
    return v


def _moment(v: Any, info: ValidationInfo) -> float:
    """An ISO 8601 time with its offset, as Unix seconds, from 2000 to the context's
    `latest` (default: a day from now)."""
    try:
        moment = datetime.fromisoformat(v) if isinstance(v, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise problem("must be a time with its UTC offset like 2023-11-14T22:13:20+00:00, "
                      f"not {show(v)}")
    try:
        at = moment.timestamp()
    except (OverflowError, ValueError):  # 0001-01-01T00:00:00+14:00 is in year 0 in UTC
        at = -math.inf
    context = info.context if isinstance(info.context, dict) else {}
    latest = float(context.get(LATEST, time.time() + SLACK_S))
    if not EARLIEST.timestamp() <= at <= latest:
        until = datetime.fromtimestamp(latest, timezone.utc).isoformat(timespec="seconds")
        raise problem(f"must be a time from {EARLIEST:%Y-%m-%d} to a day from now ({until}), "
                      f"not {show(v)}")
    return at


Whole = Annotated[int, PlainValidator(_whole)]
Count = Annotated[int, PlainValidator(_count)]
Pain = Annotated[int, PlainValidator(_pain)]
Text = Annotated[str, PlainValidator(_text)]
Moment = Annotated[float, PlainValidator(_moment)]


class ExportedSession(BaseModel):
    """One session of an export. Its id only ties the file's ratings to it: an import gives
    it the log's next id, or finds the session the log already holds."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: Whole
    """The session's id in the log it was exported from; unique within the file."""
    routine: Text
    """The routine's name, e.g. "neck"."""
    started_at: Moment
    """When it started (ISO 8601 with offset in the file, Unix seconds here)."""
    ended_at: Optional[Moment] = None
    """When it ended, not before started_at; null while it was still running."""
    end_reason: Optional[Text] = None
    """Why it ended: "completed", "stopped", "interrupted"...; null while running."""
    steps_started: Count = 0
    """How many steps were started."""
    steps_skipped: Count = 0
    """How many steps were skipped."""

    @field_validator("ended_at")
    @classmethod
    def _not_before_start(cls, v: Optional[float], info: ValidationInfo) -> Optional[float]:
        started = info.data.get("started_at")  # absent when started_at itself is wrong
        if v is not None and started is not None and v < started:
            raise problem("before started_at")
        return v


class ExportedRating(BaseModel):
    """One pain rating of an export, tied to a session of the same file."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    session_id: Whole
    """The id of its session in this file."""
    at: Moment = Field(alias="time")
    """When it was given ("time" in the file, ISO 8601 with offset; Unix seconds here)."""
    value: Pain
    """The rating: a whole number from 0 (no pain) to 10."""
    routine: Optional[Text] = None
    """The routine's name; its session's routine when left out."""
    step_index: Optional[Whole] = None
    """The step's place in the routine, from 0."""
    step: Optional[Text] = None
    """The step's label, e.g. "hold upper trapezius"."""
    area: Optional[Text] = None
    """The body area the step works on, e.g. "neck"."""


class Export(BaseModel):
    """A whole export: sessions and the ratings that point at them. Checked whole before
    anything is written, so an import is all or nothing."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    sessions: list[ExportedSession]
    """Every session of the file, each id once."""
    ratings: list[ExportedRating]
    """Every rating of the file, each pointing at a session of the file."""

    @model_validator(mode="wrap")
    @classmethod
    def _links_hold(cls, data: Any, handler: Callable[[Any], "Export"]) -> "Export":
        """Ids that tie ratings to sessions, each problem at its place in the file, after
        any problems with the fields: checked also when some field is wrong, so one look
        at the file's problems shows them all."""
        try:
            export: Optional[Export] = handler(data)
            errors: list[InitErrorDetails] = []
        except ValidationError as e:
            export, errors = None, [_again(err) for err in e.errors()]
        errors += _link_errors(data)
        if errors or export is None:
            raise ValidationError.from_exception_data(cls.__name__, errors)
        return export


def _link_errors(data: Any) -> list[InitErrorDetails]:
    """Session ids used twice, and ratings that point at no session of the file. Read from
    the file as it is, so only ids that are whole numbers count; when some session's id is
    not, a rating's session cannot be known, and no rating is said to have none."""
    if not isinstance(data, dict) or not isinstance(data.get("sessions"), list) \
            or not isinstance(data.get("ratings"), list):
        return []  # a whole-file problem, said by the field checks
    ids = [s.get("id") if isinstance(s, dict) else None for s in data["sessions"]]
    good = Counter(i for i in ids if _is(_whole, i))
    errors = [_at(("sessions", n, "id"), i, f"{i} is used by more than one session")
              for n, i in enumerate(ids) if _is(_whole, i) and good[i] > 1]
    if sum(good.values()) == len(ids):
        for n, r in enumerate(data["ratings"]):
            sid = r.get("session_id") if isinstance(r, dict) else None
            if _is(_whole, sid) and sid not in good:
                errors.append(_at(("ratings", n, "session_id"), sid,
                                  f"no session {sid} in the file"))
    return errors


def _is(check: Callable[[Any], Any], v: Any) -> bool:
    try:
        check(v)
    except PydanticCustomError:
        return False
    return True


def _again(err: ErrorDetails) -> InitErrorDetails:
    """A reported error as one to raise again, beside the link errors."""
    if err["type"] == "export":
        return _at(err["loc"], err["input"], err["msg"])
    return InitErrorDetails(type=err["type"], loc=err["loc"], input=err["input"],
                            ctx=err.get("ctx", {}))


def _at(loc: tuple[str | int, ...], value: Any, message: str) -> InitErrorDetails:
    return InitErrorDetails(type=problem(message), loc=loc, input=value)
