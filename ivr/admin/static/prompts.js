// Prompts: play recordings, synthesize a text to listen to, upload a studio recording.
"use strict";
(function () {
  let audio = null;
  function play(url) {
    if (audio) audio.pause();
    audio = new Audio(url);
    return audio.play();
  }
  document.querySelectorAll("button.play").forEach((button) =>
    button.addEventListener("click", () => play(button.dataset.src)));

  document.getElementById("preview").addEventListener("click", async () => {
    const result = document.getElementById("preview-result");
    result.textContent = "合成中…";
    const response = await fetch("/admin/prompts/preview", {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": window.ivr.csrf},
      body: JSON.stringify({text: document.getElementById("preview-text").value}),
    });
    if (!response.ok) {
      const data = await response.json().catch(() => ({error: String(response.status)}));
      result.textContent = data.error; result.className = "small error-text"; return;
    }
    const blob = await response.blob();
    result.textContent = `已合成（${Math.round(blob.size / 16)} 毫秒），正在播放。`;
    result.className = "small ok-text";
    result.dataset.bytes = String(blob.size);
    play(URL.createObjectURL(blob)).catch(() => {});
  });

  document.querySelectorAll("input[type=file]").forEach((input) => input.addEventListener("change", async () => {
    const shown = input.closest(".clip").querySelector(".upload-result");
    if (!input.files.length) return;
    const form = new FormData();
    form.append("clip", input.dataset.clip);
    form.append("recording", input.files[0]);
    shown.textContent = "上传中…";
    const response = await fetch("/admin/prompts/studio", {
      method: "POST", credentials: "same-origin", headers: {"X-CSRF-Token": window.ivr.csrf, "Accept": "application/json"}, body: form,
    });
    const data = await response.json().catch(() => ({error: String(response.status)}));
    shown.textContent = response.ok ? `已保存 ${data.saved}（${data.seconds} 秒，版本 ${data.version}）。${data.note}` : data.error;
    shown.className = "upload-result small " + (response.ok ? "ok-text" : "error-text");
  }));
  document.querySelectorAll("button.save-text").forEach((button) => button.addEventListener("click", async () => {
    const box = button.closest("details");
    const shown = box.querySelector(".save-result");
    shown.textContent = "保存并合成中…";
    const reply = await window.ivr.post("/admin/prompts/text", {prompt: button.dataset.prompt, text: box.querySelector("textarea").value});
    shown.textContent = reply.ok ? reply.data.note : reply.data.error;
    shown.className = "save-result small " + (reply.ok ? "ok-text" : "error-text");
  }));
  const wanted = document.querySelector("tr.wanted");
  if (wanted) wanted.scrollIntoView({block: "center"});
})();
