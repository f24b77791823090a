// Shared by the supervisor pages: JSON calls carrying the session's CSRF token.
"use strict";
window.ivr = {
  csrf: document.body.dataset.csrf,
  async post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json",
                "X-CSRF-Token": document.body.dataset.csrf},
      body: JSON.stringify(body),
    });
    let data;
    try { data = await response.json(); } catch (e) { data = {error: "服务器没有给出可读的回答（" + response.status + "）"}; }
    return {ok: response.ok, status: response.status, data};
  },
  async get(url) {
    const response = await fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}});
    return {ok: response.ok, status: response.status, data: await response.json()};
  },
  debounce(fn, ms) {
    let timer = null;
    return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
  },
  el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value; else if (key.startsWith("data-")) node.setAttribute(key, value); else node[key] = value;
    }
    for (const child of children) node.append(child);
    return node;
  },
};
