// The course player: plays a chapter and reports heartbeats; the server decides what is credited.
// Each heartbeat describes the stretch since the previous one, so a heartbeat is sent at every change of
// state (play, pause, seek, hidden, blur) with the flags that held during the stretch that just ended.
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("player-config").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const video = document.getElementById("video");
  const $ = (id) => document.getElementById(id);
  const TOLERANCE = 2;

  let sessionId = null;
  let interval = cfg.interval;
  let seq = 0;
  let active = false;
  let furthest = 0;            // verified by the server: playback may not seek past it (plus what was just watched)
  let watched = 0;             // furthest point reached by normal playback on this page
  let lastTime = 0;            // position at the last timeupdate, i.e. before a seek
  let stretch = null;          // flags that held since the last heartbeat
  let timer = null;
  let pending = [];            // heartbeats not yet acknowledged, oldest first
  let sending = false;
  let attentionTimer = null;
  let socket = null;

  const pageVisible = () => document.visibilityState === "visible";
  const pageFocused = () => document.hasFocus();

  function notice(text) {
    const el = $("notice");
    el.textContent = text;
    el.hidden = !text;
  }

  function setStatus(text, cls) {
    const el = $("status");
    el.textContent = text;
    el.className = cls ? "status-" + cls : "";
  }

  function env() {
    return {
      ua: navigator.userAgent, webdriver: navigator.webdriver === true,
      screen: screen.width + "x" + screen.height, lang: navigator.language,
      tz: Intl.DateTimeFormat().resolvedOptions().timeZone, touch: "ontouchstart" in window,
    };
  }

  function currentFlags() {
    return { playing: !video.paused && !video.ended, visible: pageVisible(), focused: pageFocused(), rate: video.playbackRate };
  }

  function storageKey() { return "tracker.pending." + sessionId; }

  function persist() {
    try { localStorage.setItem(storageKey(), JSON.stringify(pending)); } catch (e) { /* private mode: memory only */ }
  }

  // Close the current stretch: queue a heartbeat for it, then start a new stretch with the present state.
  function flush(position, overrides) {
    if (!active || !stretch) return;
    const beat = Object.assign({
      session_id: sessionId, seq: ++seq, position: Math.round(position * 1000) / 1000,
      rate: stretch.rate, playing: stretch.playing, visible: stretch.visible, focused: stretch.focused,
      client_time: Date.now() / 1000, env: env(),
    }, overrides || {});
    pending.push(beat);
    persist();
    stretch = currentFlags();
    send();
  }

  async function postJSON(url, body, keepalive) {
    const r = await fetch(url, {
      method: "POST", credentials: "same-origin", keepalive: !!keepalive,
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body || {}),
    });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) { const err = new Error((data.error && data.error.message) || r.status); err.status = r.status; throw err; }
    return data;
  }

  function sendOne(beat) {
    if (socket && socket.connected) {
      return new Promise((resolve, reject) => {
        socket.timeout(8000).emit("heartbeat", beat, (err, answer) => err ? reject(err) : resolve(answer));
      });
    }
    return postJSON("/api/v1/sessions/" + sessionId + "/heartbeats", beat);
  }

  // Send pending heartbeats in order; on failure keep them and try again later (reconnect or next tick).
  async function send() {
    if (sending) return;
    sending = true;
    try {
      while (pending.length) {
        const beat = pending[0];
        let answer;
        try {
          answer = await sendOne(beat);
        } catch (e) {
          if (e.status && e.status >= 400 && e.status < 500 && e.status !== 429) { pending.shift(); persist(); continue; }
          setStatus("网络中断，学习记录已暂存，恢复后自动补传", "hidden");
          break;
        }
        if (answer && answer.error) { pending.shift(); persist(); notice(answer.error.message); continue; }
        pending.shift();
        persist();
        onAnswer(beat, answer);
      }
    } finally {
      sending = false;
    }
  }

  const mins = (s) => (s / 60).toFixed(1);

  function onAnswer(beat, a) {
    furthest = Math.max(furthest, a.furthest);
    $("chapter-credited").textContent = mins(a.chapter_credited_seconds);
    $("chapter-progress").value = a.chapter_credited_seconds;
    $("session-credited").textContent = mins(a.session_credited_seconds);
    $("day-remaining").textContent = mins(a.day_remaining_seconds);
    const refused = a.reasons.filter((r) => r !== "clock_budget");
    if (!a.session_active) { stop("本次学习会话已结束"); return; }
    if (a.credited_seconds > 0 && !refused.length) setStatus("学习中，正在计时", "playing");
    else if (a.attention && refused.includes("check_blocked")) setStatus("请确认您在学习，确认后本段学时照常计入", "check_pending");
    else if (a.check && refused.includes("check_blocked")) setStatus("等待拍照核验，通过后本段学时照常计入", "check_pending");
    else if (refused.length) setStatus("未计时：" + refused.map((r) => cfg.reasons[r] || r).join("、"), video.paused ? "paused" : "hidden");
    // The server did not credit ground the player has passed: go back to the verified point.
    if (beat.position > a.furthest + TOLERANCE && refused.some((r) => ["position_jump", "beyond_furthest"].includes(r))) {
      watched = a.furthest;
      if (video.currentTime > a.furthest + TOLERANCE) {
        video.currentTime = a.furthest;
        notice("该段未计入有效学时，已回到已确认的学习位置");
      }
    }
    if (a.day_remaining_seconds <= 0) { video.pause(); notice("今日线上学习已达上限（8课时），请明天再学"); }
    if (a.attention) askAttention(a.attention);
    if (a.check) answerPhoto(a.check);
  }

  function askAttention(a) {
    if (!$("attention").hidden) return;
    let left = a.seconds_left;
    $("attention-seconds").textContent = left;
    $("attention").hidden = false;
    clearInterval(attentionTimer);
    attentionTimer = setInterval(() => {
      left -= 1;
      $("attention-seconds").textContent = Math.max(0, left);
      if (left <= 0) {
        clearInterval(attentionTimer);
        video.pause();
        notice("因未及时确认在学，播放已停止，这段时间不计学时。点击“我在学习”后可继续。");
      }
    }, 1000);
  }

  async function answerAttention() {
    clearInterval(attentionTimer);
    $("attention").hidden = true;
    try {
      const r = socket && socket.connected
        ? await new Promise((res, rej) => socket.timeout(8000).emit("attention", { session_id: sessionId }, (e, x) => e ? rej(e) : res(x)))
        : await postJSON("/api/v1/sessions/" + sessionId + "/attention", {});
      if (r && r.late) notice("确认已超时，之前一段时间不计学时，现在可以继续学习");
      else notice("");
    } catch (e) {
      notice("确认未能送达，请检查网络");
    }
  }

  // ---- Photo checks (签到, 过程拍照): the page answers them itself, and shows that it did ----------------
  const camera = window.TrackerCamera;
  const photo = { answered: new Set(), busy: false, queued: null, signedIn: false };

  function faceStatus(text, cls, enrolLink) {
    const el = $("face-status");
    el.textContent = text;
    el.className = "face-status " + (cls || "");
    if (enrolLink) {
      const a = document.createElement("a");
      a.href = cfg.enrol_url;
      a.textContent = "去登记人脸";
      el.append(" ", a);
    }
    $("face-box").hidden = false;
  }

  async function getJSON(url) {
    const r = await fetch(url, { credentials: "same-origin" });
    if (!r.ok) { const err = new Error(String(r.status)); err.status = r.status; throw err; }
    return r.json();
  }

  // Post the photo; a busy server (503) or a lost connection is retried until the check's deadline.
  async function postPhoto(check, blob, frames) {
    const until = Date.now() + Math.max(5, (check.seconds_left || 60) - 2) * 1000;
    for (let wait = 1000; ; wait = Math.min(wait * 2, 8000)) {
      try {
        const r = await camera.post("/api/v1/photo-checks/" + check.check_id, blob, {}, frames);
        if (r.status !== 503) return r;
      } catch (e) { /* network: try again */ }
      if (Date.now() + wait > until) return null;
      faceStatus("网络或服务器繁忙，正在重新提交核验照片…", "pending");
      await camera.sleep(wait);
    }
  }

  async function answerPhoto(check) {
    if (!camera || !check || !check.check_id || photo.answered.has(check.check_id) || !active) return;
    if (photo.busy) { photo.queued = check; return; }
    photo.busy = true;
    const what = photo.signedIn ? "拍照核验" : "人脸签到";
    try {
      faceStatus(photo.signedIn ? "正在拍照核验…" : "正在人脸签到…", "pending");
      let face = null;
      try { face = await getJSON("/api/v1/me/face"); } catch (e) { /* unknown: try anyway */ }
      if (face && !face.enrolled) {
        faceStatus("您还没有登记人脸，无法" + what + "，学习不计学时。", "failed", true);
        return;
      }
      let detail = {};
      try { detail = await getJSON("/api/v1/photo-checks/" + check.check_id); } catch (e) { /* answer anyway */ }
      if (detail.status && detail.status !== "pending") { photo.answered.add(check.check_id); return; }
      const cam = $("face-camera");
      try {
        await camera.open(cam);
      } catch (e) {
        faceStatus(e.message + "。核验通过前不计学时。", "failed");
        return;
      }
      await camera.sleep(photo.signedIn ? 300 : 800);  // let the camera's exposure settle
      let frames = [];
      if (detail.liveness) {
        faceStatus("活体检测：请看着镜头，自然地眨一眨眼…", "pending");
        frames = await camera.burst(cam, 16, 150);
      }
      const blob = await camera.capture(cam);
      const shot = $("face-shot");
      if (shot.src) URL.revokeObjectURL(shot.src);
      shot.src = URL.createObjectURL(blob);
      shot.hidden = false;
      faceStatus("已拍照核验，正在比对…", "pending");
      const r = await postPhoto(check, blob, frames);
      if (!r) { faceStatus("核验照片未能送达，请检查网络；稍后会自动重试", "failed"); return; }
      photo.answered.add(check.check_id);
      const d = r.data || {};
      if (r.ok && d.verdict === "pass") {
        faceStatus(photo.signedIn ? "已拍照核验：本人，通过" : "人脸签到成功（已拍照核验），开始计时", "ok");
        photo.signedIn = true;
      } else if (r.ok) {
        faceStatus("已拍照核验：" + what + "未通过，" + (d.message || d.reason) + "。约20秒后将自动重新拍照，通过后恢复计时。",
                   "failed", d.reason === "not_enrolled");
      } else if (r.status !== 409) {
        faceStatus(what + "失败：" + ((d.error && d.error.message) || r.status), "failed");
      }
    } catch (e) {
      faceStatus(what + "出错：" + e.message, "failed");
    } finally {
      photo.busy = false;
      const next = photo.queued;
      photo.queued = null;
      if (next) answerPhoto(next);
    }
  }

  function stop(message) {
    active = false;
    clearInterval(timer);
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
      stretch.playing = false;
    });
    video.addEventListener("seeked", () => {
      lastTime = video.currentTime;
      flush(video.currentTime, { playing: false });
    });
    video.addEventListener("play", () => {
      if (!active) { video.pause(); return; }
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

  function onAway() {
    flush(video.currentTime);
    if (!video.paused) video.pause();
  }

  function bindPage() {
    document.addEventListener("visibilitychange", () => {
      if (!pageVisible()) onAway(); else flush(video.currentTime);
    });
    window.addEventListener("blur", onAway);
    window.addEventListener("focus", () => flush(video.currentTime));
    window.addEventListener("online", send);
    window.addEventListener("pagehide", () => {
      if (!active) return;
      flush(video.currentTime);
      for (const beat of pending) {
        postJSON("/api/v1/sessions/" + sessionId + "/heartbeats", beat, true).catch(() => {});
      }
      postJSON("/api/v1/sessions/" + sessionId + "/end", {}, true).catch(() => {});
    });
    $("attention-ok").addEventListener("click", answerAttention);
  }

  function connectSocket() {
    if (typeof io === "undefined") return;
    socket = io("/learn", { transports: ["websocket", "polling"], withCredentials: true });
    socket.on("connect", () => {
      socket.emit("join", { session_id: sessionId });
      send();
    });
    socket.on("attention_check", (a) => askAttention(a));
    socket.on("photo_check", (c) => answerPhoto(c));
    socket.on("session_ended", (e) => {
      if (e.session_id !== sessionId) return;
      stop(e.reason === "replaced" ? "您已在其他设备或页面开始学习，本页面已停止计时" : "本次学习会话已结束");
    });
  }

  // Heartbeats left over from an earlier page of this browser are delivered before a new session starts.
  async function deliverLeftovers() {
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i);
      if (!key || !key.startsWith("tracker.pending.")) continue;
      const sid = key.slice("tracker.pending.".length);
      let beats = [];
      try { beats = JSON.parse(localStorage.getItem(key)) || []; } catch (e) { beats = []; }
      for (const beat of beats) {
        try { await postJSON("/api/v1/sessions/" + sid + "/heartbeats", beat); } catch (e) { if (!e.status) return; }
      }
      localStorage.removeItem(key);
    }
  }

  async function start() {
    bindVideo();
    bindPage();
    try { await deliverLeftovers(); } catch (e) { /* keep them for next time */ }
    let s;
    try {
      s = await postJSON("/api/v1/sessions", { chapter_id: cfg.chapter_id });
    } catch (e) {
      setStatus("无法开始学习：" + e.message, "ended");
      video.controls = false;
      return;
    }
    sessionId = s.session_id;
    interval = s.heartbeat_interval;
    furthest = watched = s.resume_position;
    active = true;
    stretch = currentFlags();
    $("chapter-credited").textContent = mins(s.resume_position);
    $("chapter-progress").value = s.resume_position;
    if (video.readyState >= 1 && furthest > 0) video.currentTime = furthest;
    setStatus("已连接，点击播放开始学习", "active");
    connectSocket();
    if (s.check) answerPhoto(s.check);  // sign-in (签到): nothing counts until it passes
    flush(video.currentTime);  // the session's first heartbeat: the baseline
    timer = setInterval(() => { flush(video.currentTime); }, interval * 1000);
    window.trackerPlayer = { get sessionId() { return sessionId; }, get pending() { return pending.length; },
                             get photosAnswered() { return photo.answered.size; }, get signedIn() { return photo.signedIn; } };
  }

  start();
})();
