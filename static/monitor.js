// Live class monitor: one row per active learner, updated from the server's "learner" events.
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("monitor-config").textContent);
  const tbody = document.querySelector("#learners tbody");
  const LABELS = { playing: "播放中", paused: "已暂停", hidden: "页面在后台", check_pending: "待确认在学",
                   check_failed: "核验未通过", active: "已进入", ended: "已结束" };
  const rows = new Map();  // trainee_id -> {el, data}
  let skew = 0;            // server clock minus browser clock, from the last event

  const fmt = (s) => Math.floor(s / 60) + ":" + String(Math.floor(s % 60)).padStart(2, "0");

  function render(r) {
    const d = r.data;
    const age = d.last_beat_ts ? Math.max(0, Date.now() / 1000 + skew - d.last_beat_ts) : null;
    r.el.innerHTML = "";
    const where = d.lecture_id ? "直播：" + (cfg.lectures[d.lecture_id] || d.lecture_id)
                               : (cfg.chapters[d.chapter_id] || d.chapter_id);
    const cells = [cfg.roster[d.trainee_id] || ("学员" + d.trainee_id), where, d.lecture_id ? "—" : fmt(d.position || 0), age === null ? "—" : Math.round(age) + " 秒",
                   LABELS[d.status] || d.status, ((d.session_credited_seconds || 0) / 60).toFixed(1) + " 分钟"];
    cells.forEach((c, i) => {
      const td = document.createElement("td");
      td.textContent = c;
      if (i === 4) td.className = "status-" + d.status;
      if (i === 3 && age !== null && age > cfg.interval * 3) td.className = "status-check_failed";
      r.el.appendChild(td);
    });
    r.el.dataset.status = d.status;
  }

  function upsert(d) {
    let r = rows.get(d.trainee_id);
    if (d.status === "ended") {
      if (r && r.data.session_id === d.session_id) { r.el.remove(); rows.delete(d.trainee_id); }
    } else {
      if (!r) {
        r = { el: document.createElement("tr") };
        r.el.dataset.traineeId = d.trainee_id;
        tbody.appendChild(r.el);
        rows.set(d.trainee_id, r);
      }
      r.data = d;
      render(r);
    }
    document.getElementById("empty").hidden = rows.size > 0;
  }

  const socket = io("/monitor", { transports: ["websocket", "polling"], withCredentials: true });
  socket.on("connect", () => {
    document.getElementById("conn").textContent = "已连接";
    socket.emit("watch", { class_id: cfg.class_id }, (a) => {
      if (a.error) { document.getElementById("conn").textContent = a.error.message; return; }
      a.learners.forEach(upsert);
    });
  });
  socket.on("disconnect", () => { document.getElementById("conn").textContent = "连接中断，正在重连…"; });
  socket.on("learner", (d) => {
    if (d.last_beat_ts && d.status !== "ended") skew = d.last_beat_ts - Date.now() / 1000;
    upsert(d);
  });
  setInterval(() => rows.forEach(render), 1000);
})();
