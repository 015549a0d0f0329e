// Chapter quiz and final exam: draws a paper, saves each answer at once, hands in, shows the score.
// The exam also counts down, reports leaving the page and takes the photo checks the server asks for.
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("quiz-config").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const paperForm = $("paper");
  paperForm.addEventListener("submit", (e) => e.preventDefault());  // answers are saved one by one, never posted
  let attempt = null;
  let deadlineAt = null;  // browser time at which the exam ends (from the server's seconds_left)
  let answered = new Set();
  let timerHandle = null;
  let pingHandle = null;
  let submitting = false;

  async function api(method, url, body) {
    const opts = { method, credentials: "same-origin", headers: { "X-CSRFToken": csrf } };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const r = await fetch(url, opts);
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    return { status: r.status, data: data || {} };
  }

  function say(text, kind) {
    const m = $("message");
    m.textContent = text;
    m.className = kind === "error" ? "error" : "notice";
    m.hidden = !text;
  }

  function errorText(res) {
    return (res.data.error && res.data.error.message) || ("请求失败（" + res.status + "）");
  }

  // ---- the paper ----

  function inputFor(q, i, value) {
    const name = "q" + q.question_id;
    const box = document.createElement("div");
    if (q.type === "fill") {
      const input = document.createElement("input");
      input.name = name;
      input.maxLength = 500;
      input.autocomplete = "off";
      if (typeof value === "string") input.value = value;
      input.addEventListener("change", () => save(q, input.value));
      box.appendChild(input);
      return box;
    }
    const multiple = q.type === "multiple";
    q.options.forEach((text, k) => {
      const label = document.createElement("label");
      label.className = "check";
      const input = document.createElement("input");
      input.type = multiple ? "checkbox" : "radio";
      input.name = name;
      input.value = String(k);
      if (multiple ? Array.isArray(value) && value.includes(k)
                   : (q.type === "truefalse" ? value === (k === 0) : value === k)) input.checked = true;
      input.addEventListener("change", () => {
        if (multiple) {
          const chosen = Array.from(paperForm.querySelectorAll('input[name="' + name + '"]:checked')).map((x) => Number(x.value));
          save(q, chosen);
        } else {
          save(q, k);
        }
      });
      label.appendChild(input);
      const span = document.createElement("span");
      span.textContent = (q.type === "truefalse" ? "" : "ABCDEFGH"[k] + ". ") + text;
      label.appendChild(span);
      box.appendChild(label);
    });
    return box;
  }

  function render(a) {
    attempt = a;
    answered = new Set(Object.keys(a.answers || {}).map(Number));
    paperForm.innerHTML = "";
    a.questions.forEach((q, i) => {
      const fs = document.createElement("fieldset");
      fs.className = "question";
      fs.dataset.questionId = q.question_id;
      fs.dataset.type = q.type;
      const legend = document.createElement("legend");
      legend.textContent = (i + 1) + ". [" + (q.type_label || q.type) + "] " + q.text + "（" + q.score + "分）";
      fs.appendChild(legend);
      fs.appendChild(inputFor(q, i, (a.answers || {})[String(q.question_id)]));
      const st = document.createElement("span");
      st.className = "muted saved";
      st.textContent = answered.has(q.question_id) ? "已保存" : "";
      fs.appendChild(st);
      paperForm.appendChild(fs);
    });
    $("paper-box").hidden = false;
    const start = $("start");
    if (start) start.hidden = true;
    updateAnswered();
    if (a.seconds_left !== null && a.seconds_left !== undefined) startTimer(a.seconds_left);
    if (cfg.kind === "exam") watchPage();
    if (a.check) askPhoto(a.check);
  }

  function updateAnswered() {
    if (!attempt) return;
    $("answered").textContent = "已答 " + answered.size + " / " + attempt.questions.length + " 题";
  }

  async function save(q, value) {
    const fs = paperForm.querySelector('[data-question-id="' + q.question_id + '"] .saved');
    fs.textContent = "保存中…";
    const res = await api("POST", "/api/v1/attempts/" + attempt.attempt_id + "/answers",
                          { question_id: q.question_id, answer: value });
    if (res.status === 200) {
      fs.textContent = "已保存";
      answered.add(q.question_id);
      updateAnswered();
      if (res.data.seconds_left !== null && res.data.seconds_left !== undefined) startTimer(res.data.seconds_left);
      if (res.data.check) askPhoto(res.data.check);
    } else {
      fs.textContent = "未保存：" + errorText(res);
      if (res.status === 409) finishFromServer();
    }
  }

  async function submit() {
    if (submitting || !attempt) return;
    submitting = true;
    $("submit").disabled = true;
    const res = await api("POST", "/api/v1/attempts/" + attempt.attempt_id + "/submit");
    submitting = false;
    if (res.status === 200) {
      showResult(res.data);
    } else if (res.status === 409) {
      finishFromServer();
    } else {
      $("submit").disabled = false;
      say(errorText(res), "error");
    }
  }

  async function finishFromServer() {
    const res = await api("GET", "/api/v1/attempts/" + attempt.attempt_id);
    if (res.status === 200 && res.data.result) showResult(res.data.result);
  }

  function showResult(r) {
    stopTimer();
    $("paper-box").hidden = true;
    const box = $("result");
    box.hidden = false;
    box.innerHTML = "";
    const h = document.createElement("h2");
    h.textContent = (cfg.kind === "exam" ? "考试" : "测验") + "成绩";
    box.appendChild(h);
    const p = document.createElement("p");
    p.innerHTML = "得分 <b id=\"score\"></b> / <span id=\"max-score\"></span>，及格线 <span id=\"pass-score\"></span>：<b id=\"verdict\"></b>";
    box.appendChild(p);
    $("score").textContent = r.score;
    $("max-score").textContent = r.max_score;
    $("pass-score").textContent = r.pass_score;
    $("verdict").textContent = r.passed ? "合格" : "不合格";
    $("verdict").className = r.passed ? "status-playing" : "status-check_failed";
    if (r.status === "expired") {
      const e = document.createElement("p");
      e.className = "muted";
      e.textContent = "考试时间已到，试卷已自动交卷。";
      box.appendChild(e);
    }
    if (r.results && attempt) {
      // The server sends right/wrong and the key only for quiz-only questions; the others may be in the exam.
      const ul = document.createElement("ol");
      ul.className = "quiz-results";
      r.results.forEach((x) => {
        const q = attempt.questions.find((y) => y.question_id === x.question_id);
        const li = document.createElement("li");
        li.dataset.questionId = x.question_id;
        if (x.revealed) {
          li.className = x.correct ? "status-playing" : "status-check_failed";
          let key = x.key;
          if (q && (q.type === "single")) key = "ABCDEFGH"[key];
          else if (q && q.type === "multiple") key = key.map((k) => "ABCDEFGH"[k]).join("");
          else if (q && q.type === "truefalse") key = key ? "正确" : "错误";
          else if (Array.isArray(key)) key = key.join(" / ");
          li.textContent = (x.correct ? "✓ " : "✗ ") + (q ? q.text : "") + "　正确答案：" + key;
        } else {
          li.className = "muted withheld";
          li.textContent = (x.answered ? "已作答　" : "未作答　") + (q ? q.text : "") + "　（可能出现在结业考试中，不公布对错和答案）";
        }
        ul.appendChild(li);
      });
      box.appendChild(ul);
    }
    const again = document.createElement("p");
    const a = document.createElement("a");
    a.href = window.location.pathname;
    a.textContent = "返回";
    again.appendChild(a);
    box.appendChild(again);
  }

  // ---- time limit ----

  function startTimer(secondsLeft) {
    deadlineAt = Date.now() + secondsLeft * 1000;
    $("timer-box").hidden = false;
    if (timerHandle) return;
    timerHandle = setInterval(tick, 500);
    tick();
  }

  function stopTimer() {
    if (timerHandle) clearInterval(timerHandle);
    if (pingHandle) clearInterval(pingHandle);
    timerHandle = pingHandle = null;
  }

  function tick() {
    const left = Math.max(0, Math.round((deadlineAt - Date.now()) / 1000));
    $("timer").textContent = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
    if (left <= 0) {
      stopTimer();
      submit();
    }
  }

  // ---- leaving the exam page, photo checks ----

  let watching = false;
  function watchPage() {
    if (watching) return;
    watching = true;
    const report = (event) => {
      if (!attempt || submitting) return;
      api("POST", "/api/v1/attempts/" + attempt.attempt_id + "/events", { event }).then((res) => {
        if (res.status === 200 && res.data.check) askPhoto(res.data.check);
      });
    };
    document.addEventListener("visibilitychange", () => report(document.hidden ? "hidden" : "visible"));
    window.addEventListener("blur", () => report("blur"));
    window.addEventListener("focus", () => report("focus"));
    pingHandle = setInterval(() => report("ping"), 20000);
  }

  let photoCheck = null;
  let stream = null;
  let photoTimer = null;
  // A verdict's reason as the trainee reads it: the proctoring feature's sentences (faces.MESSAGES), never a code.
  const photoMessage = (d) => d.message || (cfg.photo_messages || {})[d.reason] || "核验未通过，请正对摄像头重新拍照";

  function closePhoto(text) {
    clearInterval(photoTimer);
    $("photo").hidden = true;
    window.TrackerCamera.close($("photo-video"));
    stream = null;
    photoCheck = null;
    if (text) say(text, "notice");
  }

  async function askPhoto(check) {
    const modal = $("photo");
    if (!modal || (photoCheck && photoCheck.check_id === check.check_id)) return;
    photoCheck = check;
    modal.hidden = false;
    let left = check.seconds_left;
    $("photo-seconds").textContent = left;
    $("photo-message").textContent = "";
    clearInterval(photoTimer);
    // The box closes with its check: after the deadline an answer is no longer taken.
    photoTimer = setInterval(() => {
      left -= 1;
      $("photo-seconds").textContent = Math.max(0, left);
      if (left <= 0 && photoCheck === check) {
        closePhoto((cfg.photo_messages || {}).deadline_missed || "未在规定时间内完成拍照核验");
      }
    }, 1000);
    try {
      // camera.js: the front camera, virtual cameras refused, the label sent with the photo
      stream = await window.TrackerCamera.open($("photo-video"));
    } catch (e) {
      $("photo-message").textContent = e.message;
    }
  }

  async function takePhoto() {
    if (!photoCheck) return;
    const camera = window.TrackerCamera;
    const video = $("photo-video");
    if (!stream || !video.videoWidth) {
      try { stream = await camera.open(video); } catch (e) { $("photo-message").textContent = e.message; return; }
    }
    let r;
    try {
      r = await camera.post("/api/v1/photo-checks/" + photoCheck.check_id, await camera.capture(video));
    } catch (e) {
      $("photo-message").textContent = "网络错误，请检查网络后重试";
      return;
    }
    const data = r.data || {};
    if (r.status === 200 && data.verdict === "pass") {
      closePhoto("");
    } else if (r.status === 409) {
      // answered or expired meanwhile: nothing more to take
      closePhoto((data.error && data.error.message) || "该拍照核验已结束");
    } else if (r.status === 200) {
      closePhoto("拍照核验未通过：" + photoMessage(data) + "。系统会再次要求拍照时，请本人正对摄像头。");
    } else {
      $("photo-message").textContent = (data.error && data.error.message) || "照片未能提交，请重试";
    }
  }

  // ---- start ----

  async function begin() {
    say("");
    let res = cfg.open_attempt ? await api("GET", "/api/v1/attempts/" + cfg.open_attempt)
                               : await api("POST", cfg.start_url);
    if (res.status === 409 && res.data.error && res.data.error.attempt_id) {
      res = await api("GET", "/api/v1/attempts/" + res.data.error.attempt_id);
    }
    if (res.status === 200 || res.status === 201) {
      if (res.data.status && res.data.status !== "open" && res.data.result) {
        attempt = res.data;
        showResult(res.data.result);
      } else {
        render(res.data);
      }
      return;
    }
    const e = res.data.error || {};
    if (e.code === "quiz_locked" || e.code === "exam_locked") {
      say(e.message + "（还差 " + e.missing_seconds + " 秒）", "notice");
    } else if (e.code === "quiz_retake_limit" || e.code === "quiz_cooldown") {
      say(e.message, "notice");  // the server's sentence, with the time in Beijing time
    } else {
      say(errorText(res), "error");
    }
  }

  const start = $("start");
  if (start) start.addEventListener("click", begin);
  $("submit").addEventListener("click", submit);
  const take = $("photo-take");
  if (take) take.addEventListener("click", takePhoto);
  window.trackerQuiz = { get attempt() { return attempt; } };
})();
