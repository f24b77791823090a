// The live dashboard: figures from /admin/dashboard/figures every 5 s, charts by Chart.js.
"use strict";
(function () {
  const {get, el} = window.ivr;
  const actionNames = JSON.parse(document.getElementById("action-names").textContent);
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.animation = false;
  const blue = "#0b5cad", red = "#c62828";
  const hours = new Chart(document.getElementById("chart-hours"), {
    type: "bar",
    data: {labels: [...Array(24).keys()].map((h) => `${h}时`), datasets: [{label: "来电", data: [], backgroundColor: blue, maxBarThickness: 26}]},
    options: {plugins: {legend: {display: false}}, scales: {y: {beginAtZero: true, ticks: {precision: 0}}}},
  });
  const now = new Chart(document.getElementById("chart-now"), {
    type: "bar",
    data: {labels: [], datasets: [{label: "通话", data: [], backgroundColor: blue, maxBarThickness: 26}]},
    options: {indexAxis: "y", plugins: {legend: {display: false}}, scales: {x: {beginAtZero: true, ticks: {precision: 0}}}},
  });
  const reach = new Chart(document.getElementById("chart-reach"), {
    type: "bar",
    data: {labels: [], datasets: [{label: "到达", data: [], backgroundColor: blue, maxBarThickness: 26}, {label: "在此挂机", data: [], backgroundColor: red, maxBarThickness: 26}]},
    options: {indexAxis: "y", scales: {x: {beginAtZero: true, ticks: {precision: 0}}}},
  });

  const heard = new Chart(document.getElementById("chart-heard"), {
    type: "bar",
    data: {labels: [], datasets: [{label: "次数", data: [], backgroundColor: "#1b7f3b", maxBarThickness: 26}]},
    options: {indexAxis: "y", plugins: {legend: {display: false}}, scales: {x: {beginAtZero: true, ticks: {precision: 0}}}},
  });

  function rows(table, items) {
    table.querySelector("tbody").replaceChildren(...(items.length ? items : [el("tr", {}, el("td", {colSpan: 3, class: "muted"}, "暂无"))]));
  }

  function show(f) {
    const set = (id, value) => { document.getElementById(id).textContent = value; };
    set("kpi-calls-now", f.calls_now);
    set("kpi-calls-today", f.calls_today);
    set("kpi-hung-up", f.hung_up_today);
    set("kpi-losses", (f.actions_today.temporary_loss || {}).reported || 0);
    set("kpi-pin-changes", (f.actions_today.pin_change || {}).changed || 0);
    set("kpi-locks", (f.actions_today.pin_change || {}).locked || 0);
    set("fig-version", f.live_version || "—");
    hours.data.datasets[0].data = f.calls_by_hour;
    hours.update();
    now.data.labels = Object.keys(f.calls_now_by_menu_node);
    now.data.datasets[0].data = Object.values(f.calls_now_by_menu_node);
    now.update();
    const nodes = Object.entries(f.calls_now_by_ivr_node);
    // late ticks: the node's media clock woke a whole frame late, its callers' audio left in pairs
    // (counted over its last report period)
    const late = (n) => (n in f.media_by_ivr_node ? `（近 ${f.live_report_s} 秒媒体节拍迟到 ${f.media_by_ivr_node[n].ticks_late_recent} 次）` : "");
    set("ivr-nodes", nodes.length ? "各 IVR 节点：" + nodes.map(([n, c]) => `${n} ${c}${late(n)}`).join("，") : "当前没有通话");
    const labels = Object.keys(f.reach).slice(0, 15);
    reach.data.labels = labels;
    reach.data.datasets[0].data = labels.map((l) => f.reach[l]);
    reach.data.datasets[1].data = labels.map((l) => f.drop_off[l] || 0);
    reach.update();
    const heardLabels = Object.keys(f.heard_today).slice(0, 15);
    heard.data.labels = heardLabels;
    heard.data.datasets[0].data = heardLabels.map((l) => f.heard_today[l]);
    heard.update();
    const actions = [];
    for (const [action, outcomes] of Object.entries(f.actions_today)) {
      for (const [outcome, count] of Object.entries(outcomes)) {
        actions.push(el("tr", {"data-action": action, "data-outcome": outcome}, el("td", {}, actionNames[action] || action), el("td", {}, outcome), el("td", {class: "num"}, String(count))));
      }
    }
    rows(document.getElementById("actions-table"), actions);
    rows(document.getElementById("outcomes-table"), Object.entries(f.outcomes_today).map(([outcome, count]) =>
      el("tr", {"data-outcome": outcome}, el("td", {}, outcome === "—" ? "未办理业务" : outcome), el("td", {class: "num"}, String(count)))));
    const states = {available: "空闲", ringing: "振铃", on_call: "通话中", wrap_up: "话后整理", paused: "小休", logged_out: "未登录"};
    rows(document.getElementById("queues-table"), f.queues.map((q) => el("tr", {"data-queue": q.name},
      el("td", {}, q.label), el("td", {class: "num"}, String(q.waiting)), el("td", {class: "num"}, String(Math.round(q.longest_wait_s))),
      el("td", {}, Object.entries(q.agents).map(([state, count]) => `${states[state] || state} ${count}`).join("，") || "无坐席"),
      el("td", {class: "num"}, String(q.answered_today)), el("td", {class: "num"}, String(q.abandoned_today)),
      el("td", {class: "num"}, q.service_level === null ? "—" : `${q.service_level}%`))));
    const stamp = document.getElementById("fig-updated");
    stamp.textContent = "已更新 " + f.as_of;  // the server's reading, in the service's time zone
  }

  async function refresh() {
    const reply = await get("/admin/dashboard/figures").catch(() => null);
    if (reply && reply.ok) show(reply.data);
  }
  show(JSON.parse(document.getElementById("figures").textContent));
  setInterval(refresh, 5000);
})();
