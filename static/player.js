// The course player: plays a chapter and reports heartbeats; the server decides what is credited.
// Each heartbeat describes the stretch since the previous one, so a heartbeat is sent at every change of
// state (play, pause, seek, hidden, blur) with the flags that held during the stretch that just ended.
// The heartbeat queue, photo checks and attention prompts are shared with the live room (learning.js).
//
// The player is on the learner's side around a check: while a photo check or an attention prompt is pending
// or has failed, the video pauses (it never plays on only to be rewound); after a pass it plays on from the
// verified point. Its own seeks (to the resume point, back to the verified point) are not the learner's and
// are neither reported as a jump nor explained as one. At the chapter's end it leads to the quiz.
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
  let resumeTo = null;         // the resume point, until the video has been put there (metadata may come late)
  let ownSeek = false;         // the seek in progress is the player's own, not the learner's
  let quietUpTo = 0;           // answers to heartbeats up to this seq describe the player's own seek: not shown
  let heldPlay = false;        // the learner was playing (or pressed play) when a check held the video
  let resumeMessage = null;    // what the status line says when play resumes after a passed check

  const core = L.create({
    flags: () => ({ playing: !video.paused && !video.ended, visible: pageVisible(), focused: pageFocused(), rate: video.playbackRate }),
    position: () => (resumeTo !== null ? resumeTo : video.currentTime),
    ended: () => video.ended,
    onAnswer,
    onHold,
    onAttentionExpired() {
      hold();
      notice("因未及时确认在学，播放已暂停，这段时间不计学时。点击“我在学习”后继续播放。");
    },
    reasons: cfg.reasons,
    enrolUrl: cfg.enrol_url,
  });
  const flush = (position, overrides) => core.flush(position, overrides);
  const clock = (s) => Math.floor(s / 60) + ":" + String(Math.floor(s % 60)).padStart(2, "0");
  const atEnd = () => video.ended || (video.duration > 0 && video.currentTime >= video.duration - 0.5);

  // ---- Checks hold the video -------------------------------------------------------------------------
  const HOLD_STATUS = {
    signin: ["请等待人脸签到完成，签到通过后即可播放", "check_pending"],
    photo: ["正在拍照核验，视频已暂停，通过后自动继续播放", "check_pending"],
    photo_failed: ["拍照核验未通过，视频已暂停；系统约20秒后自动重新拍照，通过后继续学习", "check_failed"],
    attention: ["请点击“我在学习”确认在学，确认后自动继续播放", "check_pending"],
    attention_failed: ["未及时确认在学，点击“我在学习”后继续播放", "check_failed"],
  };

  function hold() {
    if (!video.paused) { heldPlay = true; video.pause(); }
  }

  function onHold(kind) {
    if (kind) {
      hold();
      if (kind === "photo_failed") backToVerified();
      setStatus(...HOLD_STATUS[kind]);
      return;
    }
    // Passed: play on from the verified point (the video has waited there), with one message.
    notice("");
    if (atEnd()) { chapterDone(); return; }
    if (heldPlay) {
      heldPlay = false;
      resumeMessage = "核验通过，从 " + clock(video.currentTime) + " 继续学习，正在计时";
      video.play().catch(() => setStatus("核验通过，请点击播放继续学习", "active"));
    } else {
      setStatus(video.currentTime > 1 ? "核验通过，点击播放继续学习" : "核验通过，点击播放开始学习", "active");
    }
  }

  // After a failed check the ground played since it was asked is not credited: wait at the verified point, so
  // that the pass resumes there without a jump back.
  function backToVerified() {
    if (video.currentTime > furthest + TOLERANCE) {
      seekQuietly(furthest);
    }
  }

  function seekQuietly(t) {
    if (video.readyState < 1) { resumeTo = t; return; }
    ownSeek = true;
    watched = Math.min(watched, Math.max(furthest, t));
    video.currentTime = t;
  }

  // ---- The status line -------------------------------------------------------------------------------
  function onAnswer(beat, a) {
    furthest = Math.max(furthest, a.furthest);
    $("chapter-credited").textContent = mins(a.chapter_credited_seconds);
    $("chapter-progress").value = a.chapter_credited_seconds;
    $("session-credited").textContent = mins(a.session_credited_seconds);
    $("day-remaining").textContent = mins(a.day_remaining_seconds);
    if (!a.session_active) { stop("本次学习会话已结束"); return; }
    if (a.day_remaining_seconds <= 0) { video.pause(); notice("今日线上学习已达上限（8课时），请明天再学"); }
    const refused = a.reasons.filter((r) => r !== "clock_budget");
    if (beat.seq <= quietUpTo || core.hold) {
      // the player's own seek, or a check holds the video: its status line stands
      if (core.hold && (a.check || a.attention || refused.includes("check_blocked"))) setStatus(...HOLD_STATUS[core.hold]);
      return;
    }
    if (atEnd()) { chapterDone(); return; }
    // The server did not credit ground the player has passed (seeking ahead by other means): back to the verified point.
    if (beat.position > a.furthest + TOLERANCE && refused.some((r) => ["position_jump", "beyond_furthest"].includes(r)) &&
        video.currentTime > a.furthest + TOLERANCE) {
      watched = a.furthest;
      seekQuietly(a.furthest);
      notice("这段播放未计入有效学时（超出了已学位置），已回到已确认的学习位置 " + clock(a.furthest));
      return;
    }
    const playingNow = !video.paused && !video.ended;
    if (!playingNow && (beat.playing || a.credited_seconds > 0) &&
        !refused.some((r) => ["check_blocked", "hidden", "unfocused", "rate_too_high"].includes(r))) {
      // the answer is about a stretch that played before the pause: say what holds now
      setStatus(video.currentTime > 1 ? "已暂停，点击播放继续学习" : "点击播放开始学习", "paused");
    } else if (a.credited_seconds > 0 && !refused.length) setStatus("学习中，正在计时", "playing");
    else if (refused.includes("check_blocked")) core.explain(a, "学习中，正在计时", "check_pending");
    else if (refused.includes("chapter_complete")) setStatus("本章学时已学满，继续观看不再计时", "active");
    else if (refused.includes("rewatch")) setStatus("正在回看已计时的内容，回看部分不重复计时", "active");
    else if (refused.length === 1 && refused[0] === "baseline") { /* the session's first heartbeat: nothing to say */ }
    else if (!beat.playing) {
      // A stretch that did not play: say what holds now, not what held before.
      if (playingNow) setStatus("学习中，正在计时", "playing");
      else if (!pageVisible() || !pageFocused()) setStatus("页面不在前台，视频已暂停，不计时", "hidden");
      else setStatus(video.currentTime > 1 ? "已暂停，点击播放继续学习" : "点击播放开始学习", "paused");
    } else {
      core.explain(a, "学习中，正在计时", playingNow ? "hidden" : "paused");
    }
  }

  // ---- The chapter's end -----------------------------------------------------------------------------
  function chapterDone() {
    const credited = parseFloat($("chapter-progress").value) || 0;
    const full = credited >= cfg.seconds - TOLERANCE;
    setStatus(full ? "本章已学完，学时已计满" : "本章视频已播放完毕", full ? "playing" : "active");
    const done = $("chapter-done");
    $("chapter-done-text").textContent = full
      ? "本章已学完，有效学时已计满。可以参加本章测验，或继续学习下一章。"
      : "本章视频已播放完毕，本章已计入 " + mins(credited) + " / " + mins(cfg.seconds) +
        " 分钟。未计入的部分（如核验未通过时播放的内容）可拖回重新观看补足；学时计满后即可参加本章测验。";
    done.hidden = false;
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
      seekQuietly(Math.max(furthest, watched));
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
      if (ownSeek) return;
      if (!guardSeek()) return;
      // The stretch before the seek ends where playback was; the jump itself is never a playing stretch.
      flush(lastTime);
      core.amend({ playing: false });
    });
    video.addEventListener("seeked", () => {
      lastTime = video.currentTime;
      if (ownSeek) {
        ownSeek = false;
        // The player's own seek (resume point, verified point): the stretch before it closes where playback
        // was and the next starts here; the refusal of the jump back is not the learner's doing.
        const seq = flush(video.currentTime, { playing: false });
        if (seq) quietUpTo = seq;
        return;
      }
      flush(video.currentTime, { playing: false });
    });
    video.addEventListener("play", () => {
      if (!core.active) { video.pause(); return; }
      if (core.hold) {
        heldPlay = true;
        video.pause();
        setStatus(...HOLD_STATUS[core.hold]);
        return;
      }
      if (!pageVisible() || !pageFocused()) { video.pause(); notice("请将学习页面保持在前台"); return; }
      $("chapter-done").hidden = true;
      flush(video.currentTime);
      setStatus(resumeMessage || "学习中", "playing");
      resumeMessage = null;
    });
    video.addEventListener("pause", () => {
      if (video.ended) return;  // "ended" reports it
      flush(video.currentTime);
      if (!core.hold) setStatus("已暂停，点击播放继续学习", "paused");
    });
    video.addEventListener("ended", () => { flush(video.currentTime); chapterDone(); });
    video.addEventListener("ratechange", () => {
      if (video.playbackRate > 1) {
        video.playbackRate = 1;
        notice("不允许倍速播放");
      }
    });
    video.addEventListener("loadedmetadata", () => {
      if (resumeTo !== null) {
        const to = Math.min(resumeTo, Math.max(0, video.duration - 1));
        resumeTo = null;
        if (to > 0) {
          // The server already knows this position (the session's first heartbeat reported it): no jump to report.
          ownSeek = true;
          video.currentTime = to;
          lastTime = to;
          return;
        }
      }
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
    L.watermark($("watermark"), 20);
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
    const full = s.resume_position >= cfg.seconds - TOLERANCE;
    if (furthest > 0 && !full) {
      // Put the video at the resume point before the first heartbeat, which then reports it as where this
      // session starts: the player's own move is never reported as a jump.
      if (video.readyState >= 1) {
        ownSeek = true;
        video.currentTime = Math.min(furthest, Math.max(0, video.duration - 1));
        lastTime = video.currentTime;
      } else {
        resumeTo = furthest;
      }
    }
    setStatus(full ? "本章学时已计满，可以回看或参加本章测验" : furthest > 0 ? "从上次学到的 " + clock(furthest) + " 继续，点击播放" : "已连接，点击播放开始学习",
              "active");
    connectSocket();
    core.begin(s);
    window.trackerPlayer = core.probe;
  }

  start();
})();
