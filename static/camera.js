// The webcam for face checks: open the front camera, capture a frame as JPEG, post it with the CSRF token.
// Used by the enrolment page (below), the player and the live room (learning.js) and the exam (quiz.js).
// After permission the camera's label is read: known virtual cameras are refused here, and the label goes with
// every photo (form field camera_label); the server refuses the same list (tracker/proctoring/cameras.py is the rule).
(function () {
  "use strict";
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const MAX_SIDE = 640;  // the server judges frames of at most 640 px: no need to send more

  function problem(err) {
    if (!window.isSecureContext) return "摄像头只能在安全连接（HTTPS 或本机 127.0.0.1）下使用，请使用 https:// 地址打开本页";
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return "此浏览器不支持摄像头，请使用最新版 Chrome、Edge、Safari 或微信内置浏览器";
    const name = err && err.name;
    if (name === "NotAllowedError" || name === "SecurityError") return "摄像头权限被拒绝：请在浏览器地址栏或系统设置中允许本网站使用摄像头，然后刷新页面";
    if (name === "NotFoundError" || name === "OverconstrainedError") return "未找到可用的摄像头，请连接摄像头或换用带前置摄像头的手机";
    if (name === "NotReadableError" || name === "AbortError") return "摄像头被其他程序占用，请关闭其他使用摄像头的程序后刷新页面";
    return "无法打开摄像头" + (err && err.message ? "：" + err.message : "");
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // Known virtual cameras, as in tracker/proctoring/cameras.py (the server's list is the rule; this one explains early).
  const VIRTUAL = /\bobs\b|manycam|xsplit|snap\s*camera|virtual|虚拟|\bvcam\b|splitcam|camtwist|e2esoft|youcam|chromacam|mmhmm/;
  function isVirtual(label) {
    const text = String(label || "").normalize("NFKC").toLowerCase().replace(/[_-]/g, " ");
    return VIRTUAL.test(text);
  }
  const VIRTUAL_MESSAGE = "检测到虚拟摄像头（如 OBS、ManyCam、XSplit、Snap Camera）：请关闭虚拟摄像头软件，改用电脑自带或 USB 实体摄像头、手机前置摄像头后刷新页面";
  let currentLabel = "";  // the label of the camera last opened here

  // Open the front camera into a <video playsinline muted> element; resolves once frames arrive.
  async function open(video) {
    if (video.srcObject && video.srcObject.active && video.videoWidth) return video.srcObject;
    if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) throw new Error(problem());
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: false, video: { facingMode: "user", width: { ideal: 640 }, height: { ideal: 480 } },
      });
    } catch (e) {
      throw new Error(problem(e));
    }
    const track = stream.getVideoTracks()[0];
    const label = (track && track.label) || "";
    if (isVirtual(label)) {
      stream.getTracks().forEach((t) => t.stop());
      throw new Error(VIRTUAL_MESSAGE + "（当前摄像头：" + label + "）");
    }
    currentLabel = label;
    video.muted = true;
    video.setAttribute("playsinline", "");
    video.srcObject = stream;
    try { await video.play(); } catch (e) { /* autoplay of a muted inline video is allowed; frames still come */ }
    for (let i = 0; i < 100 && !video.videoWidth; i++) await sleep(50);
    if (!video.videoWidth) throw new Error("摄像头没有画面，请检查摄像头后刷新页面");
    return stream;
  }

  function close(video) {
    if (video.srcObject) video.srcObject.getTracks().forEach((t) => t.stop());
    video.srcObject = null;
  }

  // The current frame as a JPEG Blob, at most 640 px on its longer side (kept in proportion, not mirrored).
  function capture(video, quality) {
    const w = video.videoWidth, h = video.videoHeight;
    const k = Math.min(1, MAX_SIDE / Math.max(w, h));
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(w * k);
    canvas.height = Math.round(h * k);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    return new Promise((resolve, reject) => canvas.toBlob(
      (b) => b ? resolve(b) : reject(new Error("无法获取摄像头画面")), "image/jpeg", quality || 0.9));
  }

  // A burst of frames (liveness: the trainee blinks meanwhile).
  async function burst(video, count, everyMs) {
    const frames = [];
    for (let i = 0; i < count; i++) {
      frames.push(await capture(video, 0.85));
      await sleep(everyMs);
    }
    return frames;
  }

  // POST multipart with the image (and optional burst frames); {ok, status, data}. Network errors throw.
  // The label of the camera opened here goes along (camera_label) unless fields say otherwise ("" for an upload).
  async function post(url, image, fields, frames) {
    const form = new FormData();
    form.append("image", image, "photo.jpg");
    const all = Object.assign({ camera_label: currentLabel }, fields || {});
    for (const [k, v] of Object.entries(all)) if (v !== "" && v != null) form.append(k, v);
    (frames || []).forEach((f, i) => form.append("frames", f, "frame" + i + ".jpg"));
    const r = await fetch(url, { method: "POST", body: form, credentials: "same-origin", headers: { "X-CSRFToken": csrf() } });
    const data = await r.json().catch(() => ({}));
    return { ok: r.ok, status: r.status, data };
  }

  const label = () => currentLabel;
  window.TrackerCamera = { open, close, capture, burst, post, problem, sleep, isVirtual, label };

  // ---- The enrolment page -------------------------------------------------------------------------------
  const page = document.getElementById("face-enrol");
  if (!page) return;
  const $ = (id) => document.getElementById(id);
  const video = $("enrol-camera");
  const result = $("enrol-result");

  function say(text, ok) {
    result.textContent = text;
    result.className = ok ? "face-ok" : "error";
    result.hidden = !text;
  }

  async function send(blob, fromCamera) {
    say("正在核验照片…", true);
    try {
      const r = await post("/api/v1/me/face", blob, fromCamera ? {} : { camera_label: "" });
      if (r.ok && r.data.status === "pending") {
        say("新照片已提交，等待您所在培训机构审核；审核同意前，签到和过程拍照仍与原登记的人脸比对。", true);
        return;
      }
      if (r.ok) {
        say("人脸登记成功。" + (page.dataset.next ? "正在返回学习页面…" : ""), true);
        $("enrol-state").textContent = "已登记（刚刚）";
        if (page.dataset.next) setTimeout(() => { location.href = page.dataset.next; }, 2000);
        return;
      }
      say((r.data.error && r.data.error.message) || ("登记失败（" + r.status + "）"), false);
    } catch (e) {
      say("网络错误，请检查网络后重试", false);
    }
  }

  const start = $("enrol-start");
  if (start) {
    start.addEventListener("click", async () => {
      try {
        await open(video);
        video.hidden = false;
        $("enrol-shoot").hidden = false;
        start.hidden = true;
        say("", true);
      } catch (e) {
        say(e.message, false);
      }
    });
    $("enrol-shoot").addEventListener("click", async () => {
      try {
        const blob = await capture(video);
        $("enrol-preview").src = URL.createObjectURL(blob);
        $("enrol-preview").hidden = false;
        await send(blob, true);
      } catch (e) {
        say(e.message, false);
      }
    });
  }
  const upload = $("enrol-upload");
  if (upload) {
    upload.addEventListener("change", async () => {
      const file = upload.files[0];
      if (!file) return;
      $("enrol-preview").src = URL.createObjectURL(file);
      $("enrol-preview").hidden = false;
      await send(file, false);
    });
  }
})();
