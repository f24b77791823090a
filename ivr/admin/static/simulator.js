// The call simulator: every key, word and prompt end goes to the server's MenuRun.
"use strict";
(function () {
  const {post, get, el} = window.ivr;
  let sim = null;
  let logSize = 0;
  let audio = null;
  const $ = (id) => document.getElementById(id);
  const kindNames = {menu: "按键菜单", collect: "输入号码", confirm: "确认", action: "业务办理",
                     play: "播放", transfer: "转人工", hangup: "挂机"};

  function fast() { return !$("sim-audio").checked; }

  function show(state) {
    sim = state;
    const status = $("sim-status");
    status.textContent = state.ended ? `通话已结束（${state.ended}）`
      : `当前节点：${state.node.label}（${state.node.id}，${kindNames[state.node.kind] || state.node.kind}）` + (state.waiting ? " · 等待来电者" : "");
    status.dataset.node = state.node.id;
    status.dataset.ended = state.ended ? "1" : "";
    for (const entry of state.log) {
      $("sim-log").append(el("li", {class: `who-${entry.who}`, "data-node": entry.node}, entry.text));
    }
    logSize += state.log.length;
    const pane = $("sim-log").parentElement;
    pane.scrollTop = pane.scrollHeight;
    const path = $("sim-path");
    path.replaceChildren(...state.path.map((step, index) =>
      el("li", {class: index === state.path.length - 1 ? "current" : "", "data-node": step.id}, `${step.label}`, el("span", {class: "node-id"}, step.id))));
    const playing = $("sim-playing");
    playing.replaceChildren();
    if (audio) { audio.pause(); audio = null; }
    if (state.playing) {
      playing.append(el("span", {class: "speaker"}, "正在播放："), state.playing.text);
      if (!fast()) {
        const playId = state.playing.play_id;
        audio = new Audio(state.playing.audio);
        audio.addEventListener("ended", () => send("finished", String(playId)));
        audio.play().catch(() => { playing.append(el("span", {class: "muted"}, "（浏览器未能自动播放，请点“跳过”）")); });
      }
    }
  }

  async function send(type, value) {
    if (!sim) return;
    $("sim-error").textContent = "";
    const reply = await post(`/admin/simulator/${sim.id}/event`, {type, value: value || "", fast: fast(), since: logSize});
    if (!reply.ok) { $("sim-error").textContent = reply.data.error; return; }
    show(reply.data);
    refreshCards();
  }

  async function start() {
    $("sim-error").textContent = "";
    $("sim-log").replaceChildren();
    logSize = 0;
    const reply = await post("/admin/simulator/start", {fast: fast()});
    if (!reply.ok) { $("sim-error").textContent = reply.data.error; return; }
    show(reply.data);
  }

  async function refreshCards() {
    const reply = await get("/admin/simulator/cards");
    if (!reply.ok) return;
    $("sandbox-losses").textContent = reply.data.loss_reports;
    const body = $("sandbox-cards").querySelector("tbody");
    body.replaceChildren(...reply.data.cards.map((card) => el("tr", {"data-id": card.id_number},
      el("td", {class: "mono", title: `PIN ${card.pin} · ${card.journey}`}, card.id_number), el("td", {}, card.name), el("td", {}, card.state))));
  }

  $("sim-start").addEventListener("click", start);
  document.querySelectorAll("#keypad button").forEach((button) =>
    button.addEventListener("click", () => send("key", button.dataset.key)));
  $("say").addEventListener("click", () => { send("say", $("say-text").value); $("say-text").value = ""; });
  $("say-text").addEventListener("keydown", (event) => { if (event.key === "Enter") $("say").click(); });
  $("skip").addEventListener("click", () => sim && sim.playing && send("finished", String(sim.playing.play_id)));
  $("wait-out").addEventListener("click", () => send("timeout"));
  $("sandbox-reset").addEventListener("click", async () => { await post("/admin/simulator/reset", {}); refreshCards(); });
  document.addEventListener("keydown", (event) => {
    if (event.target.tagName === "INPUT" || event.target.tagName === "TEXTAREA") return;
    if ("0123456789*#".includes(event.key) && event.key.length === 1) send("key", event.key);
  });
  refreshCards();
})();
