// The live room (直播间): plays the lecture's stream and reports presence. The server credits clock time
// inside the lecture's schedule while the stream plays in a visible, focused page; the heartbeat queue,
// photo checks and attention prompts are the chapter player's (learning.js).
(function () {
  "use strict";
  const L = window.TrackerLearning;
  const cfg = JSON.parse(document.getElementById("live-config").textContent);
  const $ = (id) => document.getElementById(id);
  const { notice, setStatus, pageVisible, pageFocused, mins } = L;
  const video = $("stream-video");   // "video" and "hls"
  const frame = $("stream-frame");   // "embed": another platform's player page
  const GRACE = 2000;                // ms after the end before the last heartbeat, so it covers the whole lecture

  let startsAt = null, endsAt = null;  // local clock estimates from the server's "starts/ends in" seconds
  let streaming = false;             // the stream is attached (from the start until the end)
  let leaving = false;
  let countdownTimer = null, endTimer = null, hls = null;

  const playing = () => streaming && (frame ? !frame.hidden : !video.paused && !video.ended);
  const core = L.create({
    // For a frame, "playing" is that it is shown: what plays inside another site's page cannot be seen.
    flags: () => ({ playing: playing(), visible: pageVisible(),
                    focused: pageFocused() || (!!frame && document.activeElement === frame),
                    rate: video ? video.playbackRate : 1 }),
    position: () => (video && streaming ? video.currentTime : 0),
    onAnswer,
    onAttentionExpired() {
      if (video) video.pause();
      notice("因未及时确认在场，这段时间不计学时。点击“我在学习”后可继续。");
    },
    reasons: cfg.reasons,
    enrolUrl: cfg.enrol_url,
  });
  const flush = () => core.flush(core.active && video && streaming ? video.currentTime : 0);

  function onAnswer(beat, a) {
    $("lecture-credited").textContent = mins(a.lecture_credited_seconds);
    $("lecture-progress").value = a.lecture_credited_seconds;
    $("session-credited").textContent = mins(a.session_credited_seconds);
    $("day-remaining").textContent = mins(a.day_remaining_seconds);
    if (!a.session_active) { stop("本次直播会话已结束"); return; }
    setEnd(a.ends_in_seconds);
    if (a.ends_in_seconds <= 0) { stop("直播已结束"); return; }
    if (!streaming && a.reasons.includes("not_live")) { setStatus("直播尚未开始，开播后开始计时", "active"); return; }
    // The answer is about a stretch before the stream played; it plays now and the next heartbeat counts.
    if (!beat.playing && playing() && !a.check && !a.attention) { setStatus("直播中", "playing"); return; }
    core.explain(a, "在场计时中", playing() ? "hidden" : "paused");
  }

  function setEnd(secondsLeft) {
    endsAt = Date.now() + secondsLeft * 1000;
    clearTimeout(endTimer);
    // The heartbeat just after the end closes the last stretch; its answer (ends in 0) ends the room.
    if (core.active) endTimer = setTimeout(flush, Math.max(0, endsAt - Date.now()) + GRACE);
  }

  // ---- The stream ---------------------------------------------------------------------------------
  function attachStream() {
    if (streaming) return;
    flush();  // the waiting ends here: the stretch before the start never played
    streaming = true;
    $("stream-idle").hidden = true;
    if (frame) {
      frame.src = cfg.stream_url;
      frame.hidden = false;
      core.amend({ playing: true });  // shown from this moment
      setStatus("直播中", "playing");
      return;
    }
    if (cfg.kind === "hls" && !video.canPlayType("application/vnd.apple.mpegurl")) {
      if (window.Hls && window.Hls.isSupported()) {
        hls = new window.Hls();
        hls.loadSource(cfg.stream_url);
        hls.attachMedia(video);
      } else {
        notice("此浏览器无法播放直播流，请换用最新版 Chrome、Edge、Safari 或微信内置浏览器");
      }
    } else {
      video.src = cfg.stream_url;
    }
    video.play().catch(() => setStatus("请点击播放按钮观看直播", "paused"));
  }

  function detachStream() {
    streaming = false;
    if (hls) { hls.destroy(); hls = null; }
    if (video) { video.pause(); video.removeAttribute("src"); video.load(); video.controls = false; }
    if (frame) { frame.hidden = true; frame.src = "about:blank"; }
    $("stream-idle").textContent = "直播已结束";
    $("stream-idle").hidden = false;
  }

  function bindVideo() {
    if (!video) return;
    // A video file stands for the live picture: it plays from where the lecture is now, like a broadcast.
    video.addEventListener("loadedmetadata", () => { if (cfg.kind === "video") toLiveEdge(); });
    video.addEventListener("play", () => {
      if (!core.active || !streaming) { video.pause(); return; }
      if (cfg.kind === "video") toLiveEdge();
      flush();
      setStatus("直播中", "playing");
    });
    video.addEventListener("pause", () => { if (streaming) { flush(); setStatus("已暂停，暂停期间不计学时", "paused"); } });
    video.addEventListener("ratechange", () => { if (video.playbackRate !== 1) video.playbackRate = 1; });
  }

  function toLiveEdge() {
    const d = video.duration;
    if (!startsAt || !isFinite(d) || d <= 0) return;
    const t = Math.max(0, (Date.now() - startsAt) / 1000) % d;
    if (Math.abs(video.currentTime - t) > 3) video.currentTime = t;
  }

  // ---- Countdown, start and end -------------------------------------------------------------------
  function tick() {
    const left = Math.round((startsAt - Date.now()) / 1000);
    $("countdown").hidden = left <= 0;
    if (left > 0) {
      const h = Math.floor(left / 3600), m = Math.floor(left % 3600 / 60), s = left % 60;
      $("countdown-left").textContent = (h ? h + " 小时 " : "") + (h || m ? m + " 分 " : "") + s + " 秒";
    } else if (core.active) {
      clearInterval(countdownTimer);
      attachStream();
    }
  }

  function startClock(startsIn) {
    startsAt = Date.now() + startsIn * 1000;
    clearInterval(countdownTimer);
    tick();
    countdownTimer = setInterval(tick, 1000);
  }

  function stop(message) {
    if (!core.active && !streaming) return;
    core.halt();
    clearInterval(countdownTimer);
    clearTimeout(endTimer);
    detachStream();
    $("countdown").hidden = true;
    $("leave").disabled = true;
    setStatus(message, "ended");
    notice(message);
  }

  // The trainee leaves: the last stretch is delivered, then the server ends the session and seals it.
  async function leave() {
    if (leaving || !core.active) return;
    leaving = true;
    $("leave").disabled = true;
    flush();
    for (let i = 0; i < 50 && core.probe.pending; i++) await new Promise((r) => setTimeout(r, 100));
    const sessionId = core.sessionId, socket = core.socket;
    stop("您已离开直播间");
    if (socket && socket.connected) {
      socket.timeout(8000).emit("live_leave", { session_id: sessionId }, () => {});
    } else {
      L.postJSON("/api/v1/sessions/" + sessionId + "/end", {}, true).catch(() => {});
    }
  }

  // ---- Joining ------------------------------------------------------------------------------------
  function joined(session) {
    if (session.error) {
      const early = session.error.code === "lecture_not_open";
      setStatus((early ? "" : "无法进入直播间：") + session.error.message, early ? "active" : "ended");
      // Too early: try again when the room opens.
      if (early) setTimeout(() => core.socket.emit("live_join", { lecture_id: cfg.lecture_id }, joined),
                            Math.max(5, (startsAt - Date.now()) / 1000 - cfg.early_seconds + 2) * 1000);
      return;
    }
    core.entered();
    $("lecture-credited").textContent = mins(session.lecture_credited_seconds);
    $("lecture-progress").value = session.lecture_credited_seconds;
    $("leave").disabled = false;
    setStatus(session.starts_in_seconds > 0 ? "已进入直播间，等待开播" : "已进入直播间", "active");
    core.begin(session);
    // "starts in" stops at 0: once begun, how far the lecture is comes from its length and what is left.
    startClock(session.starts_in_seconds || session.ends_in_seconds - session.lecture_seconds);
    setEnd(session.ends_in_seconds);
    window.trackerPlayer = core.probe;
  }

  function connect() {
    if (typeof io === "undefined") { setStatus("无法连接直播间，请刷新页面", "ended"); return; }
    const socket = io("/learn", { transports: ["websocket", "polling"], withCredentials: true });
    core.listen(socket, (sock) => {
      if (core.sessionId) {  // a reconnection: back into the session's rooms, then what waited offline
        sock.emit("join", { session_id: core.sessionId }, (r) => { if (r && r.ok) core.entered(); });
        core.send();
        return;
      }
      sock.timeout(10000).emit("live_join", { lecture_id: cfg.lecture_id }, (err, session) => {
        if (err) { setStatus("进入直播间超时，正在重试…", "hidden"); sock.disconnect().connect(); return; }
        joined(session);
      });
    }, (reason) => stop(reason === "replaced" ? "您已在其他设备或页面开始学习，本页面已停止计时"
      : reason === "left" ? "您已离开直播间" : "直播已结束"));
  }

  async function start() {
    if (video && cfg.kind === "video") video.loop = true;  // a short file stands for a longer lecture
    startClock(cfg.starts_in_seconds);
    bindVideo();
    core.bindPage(flush);
    L.watermark($("watermark"), 20);
    $("leave").addEventListener("click", leave);
    try { await L.deliverLeftovers(); } catch (e) { /* keep them for next time */ }
    connect();
  }

  start();
})();
