// The course player: plays a chapter and reports heartbeats; the server decides what is credited.
// Each heartbeat describes the stretch since the previous one, so a heartbeat is sent at every change of
// state (play, pause, seek, hidden, blur) with the flags that held during the stretch that just ended.
// The heartbeat queue, photo checks and attention prompts are shared with the live room (learning.js).
(function () {
  "use strict";
  const L = window.TrackerLearning;
  const cfg = JSON.parse(document.getElementById("player-config").textContent);
  const video = document.getElementById("video");
  const $ = (id) => document.getElementById(id);
  const { notice, setStatus, pageVisible, pageFocused, mins } = L;
  const TOLERANCE = 2;

  let furthest = 0;            // verified by the server: playback may not seek past it (plus what was just watched)
  let watched = 0;             // furthest point reached by normal playback on this page
  let lastTime = 0;            // position at the last timeupdate, i.e. before a seek

  const core = L.create({
    flags: () => ({ playing: !video.paused && !video.ended, visible: pageVisible(), focused: pageFocused(), rate: video.playbackRate }),
    position: () => video.currentTime,
    onAnswer,
    onAttentionExpired() {
      video.pause();
      notice("因未及时确认在学，播放已停止，这段时间不计学时。点击“我在学习”后可继续。");
    },
    reasons: cfg.reasons,
    enrolUrl: cfg.enrol_url,
  });
  const flush = (position, overrides) => core.flush(position, overrides);

  function onAnswer(beat, a) {
    furthest = Math.max(furthest, a.furthest);
    $("chapter-credited").textContent = mins(a.chapter_credited_seconds);
    $("chapter-progress").value = a.chapter_credited_seconds;
    $("session-credited").textContent = mins(a.session_credited_seconds);
    $("day-remaining").textContent = mins(a.day_remaining_seconds);
    if (!a.session_active) { stop("本次学习会话已结束"); return; }
    const refused = core.explain(a, "学习中，正在计时", video.paused ? "paused" : "hidden");
    // The server did not credit ground the player has passed: go back to the verified point.
    if (beat.position > a.furthest + TOLERANCE && refused.some((r) => ["position_jump", "beyond_furthest"].includes(r))) {
      watched = a.furthest;
      if (video.currentTime > a.furthest + TOLERANCE) {
        video.currentTime = a.furthest;
        notice("该段未计入有效学时，已回到已确认的学习位置");
      }
    }
    if (a.day_remaining_seconds <= 0) { video.pause(); notice("今日线上学习已达上限（8课时），请明天再学"); }
  }

  function stop(message) {
    core.halt();
    video.pause();
    video.controls = false;
    setStatus(message, "ended");
    notice(message);
  }

  function guardSeek() {
    const limit = Math.max(furthest, watched) + TOLERANCE;
    if (video.currentTime > limit) {
      video.currentTime = Math.max(furthest, watched);
      notice("不能拖动到尚未学习的位置");
      return false;
    }
    return true;
  }

  function bindVideo() {
    video.addEventListener("timeupdate", () => {
      if (!video.seeking && video.currentTime - lastTime >= 0 && video.currentTime - lastTime < 3) {
        watched = Math.max(watched, video.currentTime);
      }
      if (!video.seeking) lastTime = video.currentTime;
    });
    video.addEventListener("seeking", () => {
      if (!guardSeek()) return;
      // The stretch before the seek ends where playback was; the jump itself is never a playing stretch.
      flush(lastTime);
      core.amend({ playing: false });
    });
    video.addEventListener("seeked", () => {
      lastTime = video.currentTime;
      flush(video.currentTime, { playing: false });
    });
    video.addEventListener("play", () => {
      if (!core.active) { video.pause(); return; }
      if (!pageVisible() || !pageFocused()) { video.pause(); notice("请将学习页面保持在前台"); return; }
      flush(video.currentTime);
      setStatus("学习中", "playing");
    });
    video.addEventListener("pause", () => { flush(video.currentTime); setStatus("已暂停", "paused"); });
    video.addEventListener("ended", () => { flush(video.currentTime); setStatus("本章播放完毕", "paused"); });
    video.addEventListener("ratechange", () => {
      if (video.playbackRate > 1) {
        video.playbackRate = 1;
        notice("不允许倍速播放");
      }
    });
    video.addEventListener("loadedmetadata", () => {
      if (furthest > 0 && furthest < video.duration - 1) video.currentTime = furthest;
      lastTime = video.currentTime;
    });
  }

  function connectSocket() {
    if (typeof io === "undefined") return;
    const socket = io("/learn", { transports: ["websocket", "polling"], withCredentials: true });
    core.listen(socket, (sock) => {
      sock.emit("join", { session_id: core.sessionId }, (r) => { if (r && r.ok) core.entered(); });
      core.send();
    }, (reason) => stop(reason === "replaced" ? "您已在其他设备或页面开始学习，本页面已停止计时" : "本次学习会话已结束"));
  }

  async function start() {
    bindVideo();
    core.bindPage(() => {
      flush(video.currentTime);
      if (!video.paused) video.pause();
    });
    try { await L.deliverLeftovers(); } catch (e) { /* keep them for next time */ }
    let s;
    try {
      s = await L.postJSON("/api/v1/sessions", { chapter_id: cfg.chapter_id });
    } catch (e) {
      setStatus("无法开始学习：" + e.message, "ended");
      video.controls = false;
      return;
    }
    furthest = watched = s.resume_position;
    $("chapter-credited").textContent = mins(s.resume_position);
    $("chapter-progress").value = s.resume_position;
    if (video.readyState >= 1 && furthest > 0) video.currentTime = furthest;
    setStatus("已连接，点击播放开始学习", "active");
    connectSocket();
    core.begin(s);
    window.trackerPlayer = core.probe;
  }

  start();
})();
