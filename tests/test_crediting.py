"""The crediting rule over hand-built heartbeat streams: one test per reason, and properties."""
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.learning import crediting as c
from tracker.learning.crediting import Beat, Limits, State

L = Limits.for_interval(15)
T0 = 1_800_000_000.0


def honest(n, start=0.0, step=15.0, t0=T0, **flags):
    return [Beat(t0 + i * step, start + i * step, **flags) for i in range(n)]


def run(beats, seconds=600, **kw):
    return list(c.replay(beats, seconds, L, **kw))


def total(decisions):
    return sum(d.credited for d in decisions)


def test_honest_stream_earns_its_time():
    ds = run(honest(9))
    assert ds[0].reasons == (c.BASELINE,) and ds[0].credited == 0
    assert math.isclose(total(ds), 8 * 15)
    assert all(d.reasons == () for d in ds[1:])


def test_lost_heartbeat_costs_nothing():
    beats = honest(9)
    del beats[4]  # one heartbeat lost on a shaky link: the next one covers 30 s
    assert math.isclose(total(run(beats)), 8 * 15)


def test_buffered_heartbeats_resent_in_a_burst_keep_their_time():
    beats = honest(3)
    # offline for 40 s, then two buffered heartbeats and a fresh one arrive within a second
    t = beats[-1].ts + 40
    beats += [Beat(t, 45.0), Beat(t + 0.2, 60.0), Beat(t + 0.4, 70.0)]
    ds = run(beats)
    assert math.isclose(total(ds), 30 + 40, abs_tol=0.5)  # never more than server time elapsed
    assert c.POSITION_JUMP not in ds[3].reasons


def test_long_silence_earns_nothing():
    beats = honest(3) + [Beat(T0 + 30 + 300, 330.0)]
    ds = run(beats)
    assert c.GAP_TOO_LONG in ds[-1].reasons and ds[-1].credited == 0


def test_paused_stretch_earns_nothing():
    beats = honest(2) + [Beat(T0 + 30, 15.0, playing=False)]
    assert c.NOT_PLAYING in run(beats)[-1].reasons


def test_hidden_and_unfocused_earn_nothing():
    assert c.HIDDEN in run(honest(2) + [Beat(T0 + 30, 30.0, visible=False)])[-1].reasons
    assert c.UNFOCUSED in run(honest(2) + [Beat(T0 + 30, 30.0, focused=False)])[-1].reasons


def test_speed_up_earns_nothing():
    ds = run([Beat(T0 + i * 15, i * 30.0, rate=2.0) for i in range(5)])
    assert total(ds) == 0
    assert all(c.RATE_TOO_HIGH in d.reasons for d in ds[1:])


def test_fast_forward_at_normal_rate_is_a_jump():
    # a script that claims rate 1.0 but advances the position twice as fast as the server's clock
    ds = run([Beat(T0 + i * 15, i * 30.0) for i in range(5)])
    assert c.POSITION_JUMP in ds[1].reasons
    assert total(ds) <= 15 * 4


def test_seek_past_furthest_is_refused():
    beats = honest(3) + [Beat(T0 + 31, 200.0, playing=False), Beat(T0 + 46, 215.0)]
    ds = run(beats)
    assert c.BEYOND_FURTHEST in ds[-1].reasons and ds[-1].credited == 0


def test_backward_seek_and_rewatch_earn_nothing():
    beats = honest(5) + [Beat(T0 + 61, 10.0, playing=False), Beat(T0 + 76, 25.0)]
    ds = run(beats)
    assert c.POSITION_BACKWARD in ds[-2].reasons or c.NOT_PLAYING in ds[-2].reasons
    assert ds[-1].reasons == (c.REWATCH,) and ds[-1].credited == 0


def test_rewatch_then_new_ground_credits_only_new_ground():
    beats = honest(5)  # furthest 60
    beats += [Beat(T0 + 61, 50.0, playing=False), Beat(T0 + 76, 65.0)]
    ds = run(beats)
    assert math.isclose(ds[-1].credited, 5.0)


def test_duplicate_position_earns_nothing_twice():
    beats = honest(3) + [Beat(T0 + 45, 30.0)]
    assert run(beats)[-1].credited == 0


def test_invalid_position_is_refused():
    assert c.INVALID_POSITION in run(honest(2) + [Beat(T0 + 30, -5.0)])[-1].reasons
    assert c.INVALID_POSITION in run(honest(2) + [Beat(T0 + 30, 10_000.0)])[-1].reasons


def test_chapter_length_caps_credit():
    ds = run([Beat(T0 + i * 15, min(i * 15.0, 100.0)) for i in range(12)], seconds=100)
    assert math.isclose(total(ds), 100)
    assert any(c.CHAPTER_COMPLETE in d.reasons for d in ds)


def test_daily_cap_caps_credit():
    ds = run(honest(5), day_credited=L.daily_cap - 20)
    assert math.isclose(total(ds), 20)
    assert c.DAILY_CAP in ds[2].reasons


def test_check_block_stops_credit_from_the_moment_it_was_asked():
    ds = run(honest(6), blocked_since=T0 + 37)
    assert math.isclose(total(ds), 37)
    assert c.CHECK_BLOCKED in ds[3].reasons


def test_inactive_session_earns_nothing():
    state = State(T0, 0.0, T0, 0.0, 600.0, 0.0, active=False)
    d = c.credit_stretch(state, Beat(T0 + 15, 15.0), L)
    assert d.credited == 0 and c.SESSION_INACTIVE in d.reasons


def test_day_is_china_standard_time():
    from datetime import date, datetime, timezone

    ts = datetime(2026, 11, 21, 16, 30, tzinfo=timezone.utc).timestamp()  # 00:30 on the 22nd in Beijing
    assert c.cst_day(ts) == date(2026, 11, 22)


beat_st = st.builds(
    Beat,
    ts=st.floats(0, 120),
    position=st.one_of(st.floats(-50, 700), st.just(float("nan")), st.just(float("inf"))),
    rate=st.sampled_from([0.5, 1.0, 1.0, 1.0, 1.5, 2.0, 16.0]),
    playing=st.booleans(), visible=st.booleans(), focused=st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(gaps=st.lists(beat_st, min_size=1, max_size=60), seconds=st.integers(10, 600),
       day_credited=st.floats(0, L.daily_cap), furthest=st.floats(0, 600))
def test_credit_never_exceeds_wall_time_chapter_length_or_daily_cap(gaps, seconds, day_credited, furthest):
    # heartbeats arrive in server-time order with arbitrary gaps; everything they claim is arbitrary
    beats, t = [], T0
    for b in gaps:
        t += b.ts
        beats.append(Beat(t, b.position, b.rate, b.playing, b.visible, b.focused))
    furthest = min(furthest, seconds)
    ds = run(beats, seconds=seconds, furthest=furthest, day_credited=day_credited)
    credited = total(ds)
    assert all(d.credited >= 0 for d in ds)
    assert credited <= beats[-1].ts - beats[0].ts + 1e-6
    assert credited <= seconds - furthest + 1e-6
    assert credited <= L.daily_cap - day_credited + 1e-6


@settings(max_examples=200, deadline=None)
@given(n=st.integers(2, 40), jitter=st.lists(st.floats(-3, 3), min_size=40, max_size=40))
def test_honest_stream_with_network_jitter_loses_only_the_jitter(n, jitter):
    # arrival times wobble by up to 3 s; positions are what the player really played. What is lost is
    # at most the first heartbeat's lateness and the last one's earliness, never a share of every stretch.
    beats = [Beat(T0 + i * 15 + jitter[i], i * 15.0) for i in range(n)]
    beats.sort(key=lambda b: b.ts)
    credited = total(run(beats))
    assert credited >= (n - 1) * 15 - 2 * 3 - 1e-6
    assert credited <= beats[-1].ts - beats[0].ts + 1e-6
