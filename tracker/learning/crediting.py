"""Credited learning time (有效学时): the rule for one stretch between two heartbeats, as pure functions.

Only server-side evidence counts. A stretch earns time only when the video played, visible and focused,
at a rate of at most 1.0, starting no later than the furthest verified point and advancing no faster than
the server's clock; the credit is new ground only (re-watching earns nothing), bounded by the session's
clock budget, the chapter's length and the day's cap. Every refusal has a reason code.
"""
import math
from dataclasses import dataclass, field
from datetime import datetime

from tracker.clock import CST

# Reason codes. A stretch with any of REFUSALS earns nothing; the others explain a reduced credit.
BASELINE = "baseline"  # first heartbeat of a session: nothing before it to measure
SESSION_INACTIVE = "session_inactive"  # ended, or replaced by a session on another device
GAP_TOO_LONG = "gap_too_long"  # silence longer than max_gap: no evidence for it
NOT_PLAYING = "not_playing"
HIDDEN = "hidden"
UNFOCUSED = "unfocused"
RATE_TOO_HIGH = "rate_too_high"
INVALID_POSITION = "invalid_position"
POSITION_BACKWARD = "position_backward"  # seeked back: allowed, earns nothing
BEYOND_FURTHEST = "beyond_furthest"  # stretch started past the verified point (skipped content)
POSITION_JUMP = "position_jump"  # advanced faster than the server's clock allows (fast-forward)
REWATCH = "rewatch"  # played, but only over ground already credited
CHECK_BLOCKED = "check_blocked"  # a check was missed or failed: no credit from the moment it was asked
CHAPTER_COMPLETE = "chapter_complete"
DAILY_CAP = "daily_cap"
CLOCK_BUDGET = "clock_budget"  # credit trimmed to the server time actually elapsed
OUT_OF_ORDER = "out_of_order"  # arrived after a later heartbeat of the same session
# Live lectures (直播): presence in the room is credited by the clock, inside the lecture's scheduled time.
NOT_LIVE = "not_live"  # the whole stretch lies before the lecture's start or after its end
LIVE_WINDOW = "live_window"  # credit trimmed to the lecture's scheduled time
LECTURE_COMPLETE = "lecture_complete"

REFUSALS = frozenset({
    BASELINE, SESSION_INACTIVE, GAP_TOO_LONG, NOT_PLAYING, HIDDEN, UNFOCUSED, RATE_TOO_HIGH, INVALID_POSITION,
    POSITION_BACKWARD, BEYOND_FURTHEST, POSITION_JUMP, REWATCH, OUT_OF_ORDER, NOT_LIVE,
})

REASON_LABELS = {
    BASELINE: "本次学习开始（首条记录，之前没有可计时段）", SESSION_INACTIVE: "会话已结束或已在其他设备登录", GAP_TOO_LONG: "心跳中断过久",
    NOT_PLAYING: "视频未播放", HIDDEN: "页面不可见", UNFOCUSED: "页面未处于焦点", RATE_TOO_HIGH: "倍速播放",
    INVALID_POSITION: "播放位置无效", POSITION_BACKWARD: "回看", BEYOND_FURTHEST: "超出已学位置",
    POSITION_JUMP: "快进或拖动", REWATCH: "重复观看已计时内容", CHECK_BLOCKED: "核验未通过或超时",
    CHAPTER_COMPLETE: "本章已学满", DAILY_CAP: "已达当日学时上限", CLOCK_BUDGET: "按服务器时间计",
    OUT_OF_ORDER: "心跳顺序错乱", NOT_LIVE: "不在直播时段", LIVE_WINDOW: "按直播时段计", LECTURE_COMPLETE: "本场直播已计满",
}


@dataclass(frozen=True)
class Limits:
    interval: float = 15.0
    max_gap: float = 60.0  # a few intervals: one lost heartbeat on a shaky phone link costs nothing
    tolerance: float = 2.0  # seconds of timing jitter forgiven when comparing a stretch's advance with the clock
    # How far the player may be ahead of the verified point: arrival-time jitter trims credit a little
    # (never beyond server time), which leaves the player that much ahead; content skipped is no more.
    lag_tolerance: float = 7.5
    max_rate: float = 1.0
    daily_cap: float = 8 * 45 * 60

    @classmethod
    def for_interval(cls, interval, daily_cap=8 * 45 * 60):
        # Arrival jitter on a phone link can shift two neighbouring heartbeats by a few seconds each way.
        slack = max(3.0, 0.5 * interval)
        return cls(interval=float(interval), max_gap=4.0 * interval, tolerance=slack, lag_tolerance=slack,
                   daily_cap=float(daily_cap))


@dataclass(frozen=True)
class Beat:
    """What a heartbeat claims about the stretch since the previous one; ts is the server's receive time."""

    ts: float
    position: float
    rate: float = 1.0
    playing: bool = True
    visible: bool = True
    focused: bool = True


@dataclass(frozen=True)
class State:
    """What the server knows before the heartbeat."""

    last_ts: float | None  # server time of the previous heartbeat; None for the first
    last_position: float
    anchor_ts: float | None  # server time up to which the clock budget is spent
    furthest: float  # verified point of the chapter == chapter credited seconds
    chapter_seconds: float
    day_credited: float
    active: bool = True
    blocked_since: float | None = None


@dataclass(frozen=True)
class Decision:
    credited: float
    reasons: tuple = field(default_factory=tuple)
    anchor_ts: float | None = None
    furthest: float = 0.0


def cst_day(ts):
    return datetime.fromtimestamp(ts, CST).date()


def _attendance_refusals(state, beat, limits):
    """What video and live presence share: a bounded gap, and the stream playing in a visible, focused page."""
    return [code for code, failed in ((GAP_TOO_LONG, beat.ts - state.last_ts > limits.max_gap),
                                      (NOT_PLAYING, not beat.playing), (HIDDEN, not beat.visible),
                                      (UNFOCUSED, not beat.focused)) if failed]


def credit_stretch(state: State, beat: Beat, limits: Limits) -> Decision:
    """Decide the credit for the stretch ending with `beat`. Never more than the server time elapsed,
    the new ground covered, the chapter's remaining length or the day's remaining allowance."""
    t, p = beat.ts, beat.position
    refusals = []
    if not state.active:
        refusals.append(SESSION_INACTIVE)
    if not (isinstance(p, (int, float)) and math.isfinite(p)) or p < 0 or p > state.chapter_seconds + limits.tolerance:
        refusals.append(INVALID_POSITION)
        p = state.last_position
    if state.last_ts is None:
        return Decision(0.0, tuple(refusals) + (BASELINE,), t, state.furthest)
    refusals += _attendance_refusals(state, beat, limits)
    if not (math.isfinite(beat.rate) and beat.rate <= limits.max_rate + 1e-6):
        refusals.append(RATE_TOO_HIGH)
    advance = p - state.last_position
    # Unspent budget carries over (a late heartbeat's time is earned by the next), never beyond max_gap.
    anchor = max(state.anchor_ts if state.anchor_ts is not None else state.last_ts, t - limits.max_gap)
    budget = max(0.0, t - anchor)
    if advance < -limits.tolerance:
        refusals.append(POSITION_BACKWARD)
    elif state.last_position > state.furthest + limits.lag_tolerance + max(0.0, state.last_ts - anchor):
        # Ahead of the verified point by more than jitter and the clock time not yet credited
        # (e.g. while a prompt was pending): ground was skipped.
        refusals.append(BEYOND_FURTHEST)
    elif advance > budget * limits.max_rate + limits.tolerance:
        refusals.append(POSITION_JUMP)
    if refusals:
        return Decision(0.0, tuple(refusals), t, state.furthest)

    reasons = []
    # Ground is measured from the verified point, so a stretch trimmed by clock jitter is caught up later.
    new_ground = max(0.0, p - state.furthest)
    if new_ground <= 0.0:
        if state.furthest >= state.chapter_seconds - limits.tolerance:
            return Decision(0.0, (CHAPTER_COMPLETE,), t, state.furthest)
        # Re-watching inside the credited part: fine to do, earns nothing.
        return Decision(0.0, (REWATCH,), t, state.furthest)
    credit = new_ground
    if credit > budget:
        credit, reasons = budget, reasons + [CLOCK_BUDGET]
    if state.blocked_since is not None:
        allowed = max(0.0, state.blocked_since - state.last_ts)
        if credit > allowed:
            credit, reasons = allowed, reasons + [CHECK_BLOCKED]
    room = max(0.0, state.chapter_seconds - state.furthest)
    if credit > room:
        credit, reasons = room, reasons + [CHAPTER_COMPLETE]
    day_room = max(0.0, limits.daily_cap - state.day_credited)
    if credit > day_room:
        credit, reasons = day_room, reasons + [DAILY_CAP]
    credit = max(0.0, credit)
    return Decision(credit, tuple(reasons), anchor + credit, state.furthest + credit)


def credit_presence(state: State, beat: Beat, limits: Limits, starts: float, ends: float) -> Decision:
    """Decide the credit for a stretch of presence in a live lecture's room (直播).

    The stream's position means nothing (a live edge, or a page from another platform), so the server's
    clock is the measure: the stretch counts when the stream played in a visible, focused page, for the part
    of it inside the lecture's scheduled time, under the same gap, check and daily-cap rules as video.
    `state.furthest` is the lecture time credited so far and `state.chapter_seconds` the lecture's length.
    """
    t = beat.ts
    refusals = [] if state.active else [SESSION_INACTIVE]
    if state.last_ts is None:
        return Decision(0.0, tuple(refusals) + (BASELINE,), t, state.furthest)
    refusals += _attendance_refusals(state, beat, limits)
    anchor = max(state.anchor_ts if state.anchor_ts is not None else state.last_ts, t - limits.max_gap)
    lo, hi = max(anchor, starts), min(t, ends)
    if not refusals and hi <= lo:
        refusals.append(NOT_LIVE)
    if refusals:
        return Decision(0.0, tuple(refusals), t, state.furthest)
    credit, reasons, new_anchor = hi - lo, [], t
    if lo > anchor or hi < t:
        reasons.append(LIVE_WINDOW)
    if state.blocked_since is not None and credit > max(0.0, state.blocked_since - lo):
        # Held, not lost, while a check is pending: the anchor stays where credit stopped, so a check that
        # passes in time lets the next heartbeat earn the held time (within max_gap), as for video.
        credit = max(0.0, state.blocked_since - lo)
        reasons.append(CHECK_BLOCKED)
        new_anchor = lo + credit
    room = max(0.0, state.chapter_seconds - state.furthest)
    if credit > room:
        credit, reasons = room, reasons + [LECTURE_COMPLETE]
    day_room = max(0.0, limits.daily_cap - state.day_credited)
    if credit > day_room:
        credit, reasons = day_room, reasons + [DAILY_CAP]
    return Decision(credit, tuple(reasons), new_anchor, state.furthest + credit)


def replay(beats, chapter_seconds, limits, furthest=0.0, day_credited=0.0, blocked_since=None):
    """Apply the rule to a whole heartbeat stream of one session, as the server does; yields decisions.

    Used by tests and by inspectors who recompute a session's credit from its sealed heartbeat log.
    """
    state = State(None, 0.0, None, furthest, float(chapter_seconds), day_credited, True, blocked_since)
    for beat in beats:
        d = credit_stretch(state, beat, limits)
        state = State(beat.ts, beat.position if math.isfinite(beat.position) else state.last_position, d.anchor_ts,
                      d.furthest, state.chapter_seconds, state.day_credited + d.credited, True, blocked_since)
        yield d
