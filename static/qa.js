// Teacher Q&A live: new posts appear in open threads, new questions in the staff inbox, the unanswered badge
// follows. Socket.IO namespace /qa, authenticated by the session cookie.
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("qa-config").textContent);
  const watched = new Set(cfg.threads || []);
  const socket = io("/qa", { transports: ["websocket", "polling"], withCredentials: true });

  // Beijing time (UTC+8, no daylight saving), as the server renders it: "2026-12-02 11:51".
  function fmt(at) {
    const t = Date.parse(at || "");
    return isNaN(t) ? "" : new Date(t + 8 * 3600 * 1000).toISOString().slice(0, 16).replace("T", " ");
  }

  function addPost(p) {
    const list = document.querySelector('.qa-posts[data-thread-id="' + p.thread_id + '"]');
    if (!list || list.querySelector('[data-post-id="' + p.post_id + '"]')) return;
    const li = document.createElement("li");
    li.className = "qa-post " + (p.author_id === p.trainee_id ? "from-trainee" : "from-staff");
    li.dataset.postId = p.post_id;
    const meta = document.createElement("span");
    meta.className = "muted";
    meta.textContent = p.author + " · " + fmt(p.at);
    const text = document.createElement("div");
    text.className = "qa-text";
    text.textContent = p.text;
    li.appendChild(meta);
    li.appendChild(text);
    list.appendChild(li);
    const answered = p.author_id !== p.trainee_id;
    const status = document.getElementById("thread-status");
    if (status) status.textContent = answered ? "已回复" : "待回复";
    const section = list.closest(".qa-thread");
    const st = section && section.querySelector(".thread-status");
    if (st) st.textContent = answered ? "老师已回复" : "等待老师回复";
  }

  function inboxRow(p) {
    const tbody = document.querySelector("#threads tbody");
    if (!tbody) return;
    let tr = tbody.querySelector('tr[data-thread-id="' + p.thread_id + '"]');
    const answered = p.author_id !== p.trainee_id;
    if (!tr) {
      if (!p.new_thread) return;
      const empty = tbody.querySelector("tr.empty");
      if (empty) empty.remove();
      tr = document.createElement("tr");
      tr.dataset.threadId = p.thread_id;
      const cells = ["", p.author, p.chapter || "章节" + p.chapter_id, "", fmt(p.at), "0"];
      cells.forEach((c) => { const td = document.createElement("td"); td.textContent = c; tr.appendChild(td); });
      const a = document.createElement("a");
      a.href = "/qa/threads/" + p.thread_id;
      a.textContent = p.text.slice(0, 60);
      tr.children[3].appendChild(a);
      tbody.insertBefore(tr, tbody.firstChild);
    } else if (!p.new_thread) {
      tr.children[5].textContent = String(Number(tr.children[5].textContent || 0) + 1);
    }
    tr.className = answered ? "answered" : "unanswered";
    tr.children[0].textContent = answered ? "已回复" : "待回复";
  }

  socket.on("connect", () => {
    watched.forEach((id) => socket.emit("watch", { thread_id: id }));
  });
  socket.on("qa_post", (p) => {
    addPost(p);
    if (cfg.mode === "inbox") inboxRow(p);
  });
  socket.on("qa_unanswered", (d) => {
    document.querySelectorAll("#qa-count, #qa-badge").forEach((el) => {
      el.textContent = d.count;
      if (el.id === "qa-badge") el.hidden = !d.count;  // the menu's badge only while questions wait
    });
  });

  // Replying through the socket keeps the page; the form still works without JavaScript.
  const form = document.getElementById("reply-form");
  if (form) {
    form.addEventListener("submit", (ev) => {
      if (!socket.connected) return;
      ev.preventDefault();
      const box = form.querySelector("textarea");
      const text = box.value.trim();
      if (!text) return;
      socket.emit("post", { thread_id: Number(form.dataset.threadId), text }, (a) => {
        if (a && a.ok) { box.value = ""; addPost(a.post); } else { alert((a && a.error && a.error.message) || "发送失败"); }
      });
    });
  }
  window.trackerQa = { socket };
})();
