// What the chapter player (player.js) and the live room (live.js) share: the heartbeat stream (each heartbeat
// closes the stretch since the one before, queued in order, kept in localStorage while offline and resent),
// the sign-in and random photo checks answered with the camera, and the "are you still here?" prompts.
// The page supplies what differs: the flags and position of its media, and how it shows an answer.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const pageVisible = () => document.visibilityState === "visible";
  const pageFocused = () => document.hasFocus();
  const mins = (s) => (s / 60).toFixed(1);
  const PENDING_PREFIX = "tracker.pending.";

  function notice(text) {
    const el = $("notice");
    el.textContent = text;
    el.hidden = !text;
  }

  // A class notice (班级公告) sent by staff while the page is open: newest first, each shown once.
  function showClassNotice(n) {
    const box = $("class-notices");
    if (!box || box.querySelector('[data-notice-id="' + n.notice_id + '"]')) return;
    const li = document.createElement("li");
    li.dataset.noticeId = n.notice_id;
    li.className = "fresh";
    const meta = document.createElement("span");
    meta.className = "muted";
    const t = Date.parse(n.at || "");
    meta.textContent = (isNaN(t) ? "" : new Date(t + 8 * 3600 * 1000).toISOString().slice(0, 16).replace("T", " ")) +
      " · " + (n.author || "");
    li.append(meta, document.createElement("br"), document.createTextNode(n.text));
    box.querySelector("ul").prepend(li);
    box.hidden = false;
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

  async function postJSON(url, body, keepalive) {
    const r = await fetch(url, {
      method: "POST", credentials: "same-origin", keepalive: !!keepalive,
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify(body || {}),
    });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) { const err = new Error((data.error && data.error.message) || r.status); err.status = r.status; throw err; }
    return data;
  }

  async function getJSON(url) {
    const r = await fetch(url, { credentials: "same-origin" });
    if (!r.ok) { const err = new Error(String(r.status)); err.status = r.status; throw err; }
    return r.json();
  }

  // Heartbeats left over from an earlier page of this browser are delivered before a new session starts.
  async function deliverLeftovers() {
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i);
      if (!key || !key.startsWith(PENDING_PREFIX)) continue;
      const sid = key.slice(PENDING_PREFIX.length);
      let beats = [];
      try { beats = JSON.parse(localStorage.getItem(key)) || []; } catch (e) { beats = []; }
      for (const beat of beats) {
        try { await postJSON("/api/v1/sessions/" + sid + "/heartbeats", beat); } catch (e) { if (!e.status) return; }
      }
      localStorage.removeItem(key);
    }
  }

  // The identity watermark over a playing video (as the national platforms do): the trainee's name and masked ID,
  // rendered by the server into the element, drift slowly to a new random place every ~20 s, so that a screen
  // recording shows whose account played it. It never takes a click, and keeps clear of the controls' bar.
  function watermark(el, every) {
    if (!el) return;
    const move = () => {
      const box = el.parentElement.getBoundingClientRect();
      const maxX = Math.max(0, box.width - el.offsetWidth - 8);
      const maxY = Math.max(0, box.height - el.offsetHeight - 56);  // the controls' bar stays uncovered
      // in percent of the video's box, so that a rotated phone or a resized window keeps it inside
      el.style.left = (100 * (4 + Math.random() * maxX) / Math.max(1, box.width)).toFixed(2) + "%";
      el.style.top = (100 * (4 + Math.random() * maxY) / Math.max(1, box.height)).toFixed(2) + "%";
    };
    el.hidden = false;
    move();
    setInterval(move, (every || 20) * 1000);
    window.addEventListener("resize", move);
  }

  // opts: flags() → {playing, visible, focused, rate}; position() → seconds; onAnswer(beat, answer);
  // onAttentionExpired(); enrolUrl; optional: ended() → the video reached its end (no attention prompt then);
  // onHold(kind): a check holds the learning (kind: "signin", "photo", "photo_failed", "attention") or, with
  // null, no longer does (it passed).
  function create(opts) {
    const st = { sessionId: null, seq: 0, active: false, pending: [], sending: false, stretch: null,
                 timer: null, attentionTimer: null, socket: null, hold: null };
    function setHold(kind) {
      if (st.hold === kind) return;
      st.hold = kind;
      if (opts.onHold) opts.onHold(kind);
    }
    const url = (tail) => "/api/v1/sessions/" + st.sessionId + tail;

    function persist() {
      try { localStorage.setItem(PENDING_PREFIX + st.sessionId, JSON.stringify(st.pending)); } catch (e) { /* private mode: memory only */ }
    }

    // Close the current stretch: queue a heartbeat for it, then start a new stretch with the present state.
    function flush(position, overrides) {
      if (!st.active || !st.stretch) return;
      const s = st.stretch;
      st.pending.push(Object.assign({
        session_id: st.sessionId, seq: ++st.seq, position: Math.round(position * 1000) / 1000,
        rate: s.rate, playing: s.playing, visible: s.visible, focused: s.focused,
        client_time: Date.now() / 1000, env: env(),
      }, opts.ended && opts.ended() ? { ended: true } : {}, overrides || {}));
      persist();
      st.stretch = opts.flags();
      send();
      return st.seq;
    }

    function sendOne(beat) {
      if (st.socket && st.socket.connected) {
        return new Promise((resolve, reject) => {
          st.socket.timeout(8000).emit("heartbeat", beat, (err, answer) => err ? reject(err) : resolve(answer));
        });
      }
      return postJSON(url("/heartbeats"), beat);
    }

    // Send pending heartbeats in order; on failure keep them and try again later (reconnect or next tick).
    async function send() {
      if (st.sending) return;
      st.sending = true;
      try {
        while (st.pending.length) {
          const beat = st.pending[0];
          let answer;
          try {
            answer = await sendOne(beat);
          } catch (e) {
            if (e.status && e.status >= 400 && e.status < 500 && e.status !== 429) { st.pending.shift(); persist(); continue; }
            setStatus("网络中断，学习记录已暂存，恢复后自动补传", "hidden");
            break;
          }
          if (answer && answer.error) { st.pending.shift(); persist(); notice(answer.error.message); continue; }
          st.pending.shift();
          persist();
          opts.onAnswer(beat, answer);
          if (st.active && answer.attention) askAttention(answer.attention);
          if (answer.check) answerPhoto(answer.check);
        }
      } finally {
        st.sending = false;
      }
    }

    // The status line for an answer the page did not describe itself; reasons in Chinese (crediting.REASON_LABELS).
    function explain(a, creditingText, idleCls) {
      const refused = a.reasons.filter((r) => r !== "clock_budget");
      if (a.credited_seconds > 0 && !refused.length) setStatus(creditingText, "playing");
      else if (a.attention && refused.includes("check_blocked")) setStatus("请确认您在学习，确认后本段学时照常计入", "check_pending");
      else if (a.check && refused.includes("check_blocked")) setStatus("等待拍照核验，通过后本段学时照常计入", "check_pending");
      else if (refused.length) setStatus("未计时：" + refused.map((r) => opts.reasons[r] || r).join("、"), idleCls);
      return refused;
    }

    // ---- Attention prompts ("您还在学习吗？") ----------------------------------------------------------
    function askAttention(a) {
      if (!$("attention").hidden || !st.active) return;
      setHold("attention");
      let left = a.seconds_left;
      $("attention-seconds").textContent = left;
      $("attention").hidden = false;
      clearInterval(st.attentionTimer);
      st.attentionTimer = setInterval(() => {
        left -= 1;
        $("attention-seconds").textContent = Math.max(0, left);
        if (left <= 0) {
          clearInterval(st.attentionTimer);
          st.hold = "attention_failed";
          opts.onAttentionExpired();
        }
      }, 1000);
    }

    async function answerAttention() {
      clearInterval(st.attentionTimer);
      $("attention").hidden = true;
      try {
        const r = st.socket && st.socket.connected
          ? await new Promise((res, rej) => st.socket.timeout(8000).emit("attention", { session_id: st.sessionId }, (e, x) => e ? rej(e) : res(x)))
          : await postJSON(url("/attention"), {});
        if (r && r.late) notice("确认已超时，之前一段时间不计学时，现在可以继续学习");
        else notice("");
        if (st.hold === "attention" || st.hold === "attention_failed") setHold(null);
      } catch (e) {
        notice("确认未能送达，请检查网络");
      }
    }

    // ---- Photo checks (签到, 过程拍照): the page answers them itself, and shows that it did --------------
    const camera = window.TrackerCamera;
    const photo = { answered: new Set(), busy: false, queued: null, current: null, signedIn: false };

    function faceStatus(text, cls, enrolLink) {
      const el = $("face-status");
      el.textContent = text;
      el.className = "face-status " + (cls || "");
      if (enrolLink) {
        const a = document.createElement("a");
        a.href = opts.enrolUrl;
        a.textContent = "去登记人脸";
        el.append(" ", a);
      }
      $("face-box").hidden = false;
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
      if (!camera || !check || !check.check_id || photo.answered.has(check.check_id) || !st.active) return;
      if (photo.busy) {
        // every heartbeat's answer repeats the pending check: the one being answered is not queued again
        if (check.check_id !== photo.current) photo.queued = check;
        return;
      }
      setHold(photo.signedIn ? "photo" : "signin");
      photo.busy = true;
      photo.current = check.check_id;
      let verdict = "failed";
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
        if (detail.status && detail.status !== "pending") {
          photo.answered.add(check.check_id);
          verdict = detail.status === "passed" ? "passed" : "failed";
          return;
        }
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
          faceStatus(photo.signedIn ? "已拍照核验：本人，通过，继续计时" : "人脸签到成功（已拍照核验），可以开始学习", "ok");
          photo.signedIn = true;
          verdict = "passed";
        } else if (r.ok) {
          faceStatus("已拍照核验：" + what + "未通过，" + (d.message || "核验未通过") + "。视频已暂停，约20秒后将自动重新拍照，通过后继续学习。",
                     "failed", d.reason === "not_enrolled");
        } else if (r.status === 409) {
          verdict = null;  // answered or expired meanwhile: the next heartbeat tells
        } else {
          faceStatus(what + "失败：" + ((d.error && d.error.message) || "服务器未能完成核验") + "。约20秒后将自动重新拍照。", "failed");
        }
      } catch (e) {
        faceStatus(what + "出错：" + e.message, "failed");
      } finally {
        photo.busy = false;
        photo.current = null;
        const next = photo.queued && !photo.answered.has(photo.queued.check_id) ? photo.queued : null;
        photo.queued = null;
        if (verdict === "passed" && !next) setHold(null);
        else if (verdict === "failed") setHold("photo_failed");
        if (next) answerPhoto(next);
      }
    }

    // ---- Session life -------------------------------------------------------------------------------
    // Begin the heartbeat stream of a started session (its JSON from the server); the first heartbeat is the baseline.
    function begin(session) {
      st.sessionId = session.session_id;
      st.active = true;
      st.stretch = opts.flags();
      if (session.check) answerPhoto(session.check);  // sign-in (签到): nothing counts until it passes
      flush(opts.position());
      st.timer = setInterval(() => flush(opts.position()), session.heartbeat_interval * 1000);
    }

    function halt() {
      st.active = false;
      clearInterval(st.timer);
      clearInterval(st.attentionTimer);
    }

    // The socket's prompts and the session's end; onConnect runs at every (re)connection.
    function listen(socket, onConnect, onEnded) {
      st.socket = socket;
      socket.on("connect", () => onConnect(socket));
      socket.on("attention_check", (a) => askAttention(a));
      socket.on("photo_check", (c) => answerPhoto(c));
      socket.on("session_ended", (e) => { if (e.session_id === st.sessionId) onEnded(e.reason); });
      socket.on("notice", showClassNotice);
      socket.on("disconnect", () => { st.inRoom = false; });
    }

    // Page events: each change of visibility or focus closes a stretch; onAway also runs when the page is left.
    function bindPage(onAway) {
      document.addEventListener("visibilitychange", () => {
        if (!pageVisible()) onAway(); else flush(opts.position());
      });
      window.addEventListener("blur", onAway);
      window.addEventListener("focus", () => flush(opts.position()));
      window.addEventListener("online", send);
      window.addEventListener("pagehide", () => {
        if (!st.active) return;
        flush(opts.position());
        for (const beat of st.pending) postJSON(url("/heartbeats"), beat, true).catch(() => {});
        postJSON(url("/end"), {}, true).catch(() => {});
      });
      $("attention-ok").addEventListener("click", answerAttention);
    }

    return {
      flush, send, explain, begin, halt, listen, bindPage, answerPhoto, askAttention,
      get hold() { return st.hold; },
      amend(fields) { Object.assign(st.stretch || {}, fields); },
      entered() { st.inRoom = true; },  // the server put this connection in the session's and class's rooms
      get sessionId() { return st.sessionId; }, get active() { return st.active; }, get socket() { return st.socket; },
      // What the browser tests read (window.trackerPlayer).
      probe: { get sessionId() { return st.sessionId; }, get pending() { return st.pending.length; },
               get photosAnswered() { return photo.answered.size; }, get signedIn() { return photo.signedIn; },
               get inRoom() { return st.inRoom === true; }, get hold() { return st.hold; } },
    };
  }

  window.TrackerLearning = { create, watermark, postJSON, getJSON, deliverLeftovers, notice, setStatus, pageVisible, pageFocused, mins };
})();
