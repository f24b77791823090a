// The agent console: draws state, screen pop, queues and callbacks from the server-sent events of
// /agent/events (a snapshot whenever something changes, on any IVR node); between events only
// the counters tick locally. Buttons post with the session's CSRF token.
"use strict";
(() => {
  const csrf = document.body.dataset.csrf;
  const $ = (id) => document.getElementById(id);
  let current = null;  // the call on screen (its Call-ID)
  let shown = null;  // the last snapshot and when it arrived, for the counters
  let shownAt = 0;

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf},
      body: JSON.stringify(body),
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = {error: "服务器没有回答（" + response.status + "）"}; }
    return {ok: response.ok, data};
  }

  function say(text, bad) {
    $("message").textContent = text;
    $("message").className = bad ? "alert" : "muted";
  }

  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }

  function list(id, items, render) {
    const ul = $(id);
    ul.replaceChildren(...items.map((item) => {
      const li = document.createElement("li");
      li.textContent = render(item);
      return li;
    }));
    if (!items.length) {
      const li = document.createElement("li");
      li.textContent = "无";
      li.className = "muted";
      ul.append(li);
    }
  }

  function drawAgent(agent) {
    const state = $("state");
    state.textContent = agent.state_name;
    state.className = "state state-" + agent.state;
    let detail = "自 " + agent.since + " 起";
    if (agent.reason) detail = agent.reason + "，" + detail;
    if (agent.wrap_left) detail = "还剩 " + agent.wrap_left + " 秒";
    $("state-detail").textContent = agent.since ? detail + "　今日接听 " + agent.calls + " 通" : "";
    const busy = agent.state === "ringing" || agent.state === "on_call";
    for (const button of document.querySelectorAll("[data-state]")) button.disabled = busy;
  }

  function drawPop(call, agentState) {
    const pop = $("pop");
    if (!call) { pop.hidden = true; current = null; return; }
    pop.hidden = false;
    pop.className = "card pop " + agentState;
    $("pop-title").textContent = agentState === "ringing" ? "来电振铃中 — 请接听话机" : "通话中";
    $("pop-number").textContent = call.caller || "未知号码";
    $("pop-reason").textContent = {caller_request: "来电者要求人工服务", too_many_failures: "多次输入未成功"}[call.reason] || call.reason || "—";
    $("pop-path").textContent = (call.path || []).join(" › ") || "—";
    const collected = Object.entries(call.collected || {});
    $("pop-collected").replaceChildren(...(collected.length ? collected.map(([key, value]) => {
      const span = document.createElement("span");
      span.className = "masked";
      span.textContent = ({id_number: "身份证号 "}[key] || key + " ") + value + "　";
      return span;
    }) : ["—"]));
    $("pop-outcomes").textContent = (call.outcomes || []).join("，") || "—";
    $("pop-transcript").textContent = (call.transcript || []).join(" / ") || "—";
    list("pop-earlier", call.earlier_today || [], (c) => c.started_at + "　" + (c.path || []).join(" › ") + (c.outcome ? "　" + c.outcome : ""));
    list("pop-notes", call.notes || [], (n) => n.at + " " + n.agent + "：" + n.text);
    current = call.call_id;
  }

  function drawQueues(queues) {
    $("queues").tBodies[0].replaceChildren(...queues.map((q) => {
      const tr = document.createElement("tr");
      const mins = Math.floor(q.longest_wait / 60), secs = q.longest_wait % 60;
      tr.append(cell(q.label), cell(String(q.waiting), "num"),
        cell(q.waiting ? mins + " 分 " + secs + " 秒" : "—", "num"),
        cell(q.agents.map((a) => a.name + " " + a.state).join("，")));
      return tr;
    }));
  }

  function drawCallbacks(items, canDial) {
    const body = $("callbacks").tBodies[0];
    if (!items.length) {
      const tr = document.createElement("tr");
      tr.append(cell("暂无待回电", "muted"));
      tr.firstChild.colSpan = 6;
      body.replaceChildren(tr);
      return;
    }
    body.replaceChildren(...items.map((cb) => {
      const tr = document.createElement("tr");
      const done = document.createElement("td");
      if (canDial && cb.state === "pending") {
        const dial = document.createElement("button");
        dial.textContent = "立即回电";
        dial.className = "primary";
        dial.addEventListener("click", async () => {
          const result = await post("/agent/callbacks/" + cb.id + "/call", {});
          say(result.ok ? "正在接通：请接听话机，接听后将呼叫来电者" : result.data.error, !result.ok);
        });
        done.append(dial, " ");
      }
      for (const [label, reached] of [["已回电", true], ["未接通", false]]) {
        const button = document.createElement("button");
        button.textContent = label;
        button.addEventListener("click", async () => {
          const result = await post("/agent/callbacks/" + cb.id + "/done", {reached});
          say(result.ok ? "已记录" : result.data.error, !result.ok);
        });
        done.append(button, " ");
      }
      tr.append(cell(cb.requested_at), cell(cb.queue), cell(cb.number), cell(cb.window),
        cell(cb.state === "calling" ? "回电中（" + cb.agent + "）" : "待回电"), done);
      return tr;
    }));
  }

  function draw(data) {
    shown = data;
    shownAt = Date.now();
    drawAgent(data.agent);
    drawPop(data.call, data.agent.state);
    drawQueues(data.queues);
    drawCallbacks(data.callbacks, data.can_dial);
  }

  // Waits and the wrap-up countdown grow between events without asking the server.
  function tick() {
    if (!shown) return;
    const gone = Math.floor((Date.now() - shownAt) / 1000);
    if (!gone) return;
    const agent = Object.assign({}, shown.agent);
    if (agent.wrap_left) agent.wrap_left = Math.max(0, agent.wrap_left - gone);
    drawAgent(agent);
    drawQueues(shown.queues.map((q) => Object.assign({}, q, {longest_wait: q.waiting ? q.longest_wait + gone : 0})));
  }

  function listen() {
    const events = new EventSource("/agent/events");
    events.addEventListener("state", (event) => {
      if ($("message").className === "alert stream") say("", false);
      draw(JSON.parse(event.data));
    });
    events.onerror = async () => {
      say("与服务器的连接中断，正在重连…", true);
      $("message").className = "alert stream";
      if (events.readyState !== EventSource.CLOSED) return;  // the browser reconnects by itself
      // Refused (signed out, too many tabs) or the server is gone: find out, try again later.
      try {
        const response = await fetch("/agent/state.json", {credentials: "same-origin", headers: {"Accept": "application/json"}});
        if (response.status === 401) { location.href = "/login?next=/agent"; return; }
      } catch (e) { /* the server is down: keep trying */ }
      setTimeout(listen, 5000);
    };
  }

  for (const button of document.querySelectorAll("[data-state]")) {
    button.addEventListener("click", async () => {
      const body = {state: button.dataset.state, reason: $("reason").value};
      const result = await post("/agent/state", body);
      say(result.ok ? "状态已更新" : result.data.error, !result.ok);
    });
  }

  $("save-note").addEventListener("click", async () => {
    if (!current) return;
    const result = await post("/agent/note", {call_id: current, text: $("note").value});
    say(result.ok ? "备注已保存到通话记录" : result.data.error, !result.ok);
    if (result.ok) $("note").value = "";
  });

  listen();
  setInterval(tick, 1000);
})();
