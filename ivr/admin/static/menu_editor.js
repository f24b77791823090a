// The menu editor: CodeMirror with the YAML, checked by the server as the supervisor types,
// problems marked at their line, the tree view beside it, drafts saved to the database.
"use strict";
(function () {
  const {post, debounce, el} = window.ivr;
  const kindNames = JSON.parse(document.getElementById("kind-names").textContent);
  const editor = CodeMirror.fromTextArea(document.getElementById("menu-text"), {
    mode: "yaml", lineNumbers: true, indentUnit: 2, tabSize: 2, lineWrapping: false,
    gutters: ["problem-gutter", "CodeMirror-linenumbers"],
    extraKeys: {Tab: (cm) => cm.replaceSelection("  ")},
  });
  window.menuEditor = editor;  // tests and the browser console reach it here
  let marked = [];
  let checkSeq = 0;
  let selected = null;
  let lastTree = null;

  function jump(line) {
    editor.focus();
    editor.setCursor({line: line - 1, ch: 0});
    editor.scrollIntoView({line: line - 1, ch: 0}, 120);
  }

  function showProblems(problems) {
    for (const line of marked) {
      editor.removeLineClass(line, "wrap", "problem-line");
      editor.setGutterMarker(line, "problem-gutter", null);
    }
    marked = [];
    const list = document.getElementById("problems");
    list.replaceChildren();
    for (const problem of problems) {
      const line = Math.max(problem.line - 1, 0);
      editor.addLineClass(line, "wrap", "problem-line");
      editor.setGutterMarker(line, "problem-gutter", el("span", {class: "problem-marker", title: problem.message}, "●"));
      marked.push(line);
      const item = el("li", {"data-line": String(problem.line)}, problem.text);
      item.addEventListener("click", () => jump(problem.line));
      list.append(item);
    }
    const state = document.getElementById("check-state");
    state.textContent = problems.length ? `${problems.length} 处问题` : "检查通过";
    state.className = "badge " + (problems.length ? "bad" : "ok");
    document.getElementById("publish").disabled = problems.length > 0;
  }

  function renderTree(tree) {
    const box = document.getElementById("tree");
    box.replaceChildren();
    if (!tree) return;
    lastTree = tree;
    const byId = Object.fromEntries(tree.nodes.map((node) => [node.id, node]));
    const shown = new Set();
    function item(id, via) {
      const node = byId[id];
      const li = el("li");
      const head = el("div", {class: "tree-node" + (id === selected ? " selected" : ""), "data-node": id});
      if (via) head.append(el("span", {class: "via"}, via));
      if (node && shown.has(id)) {
        head.classList.add("again");
        head.append(el("span", {class: "label"}, `↪ ${node.label}`));
        head.addEventListener("click", () => jump(node.line));
        li.append(head);
        return li;
      }
      if (!node) {
        head.append(el("span", {class: "missing"}, `${id}（不存在）`));
        li.append(head);
        return li;
      }
      head.append(el("span", {class: `kind kind-${node.kind}`}, kindNames[node.kind] || node.kind),
                  el("span", {class: "label"}, node.label), el("span", {class: "node-id"}, node.id));
      head.addEventListener("click", (event) => {
        event.stopPropagation();
        selected = node.id;
        document.getElementById("selected-node").textContent = `${node.label}（${node.id}）`;
        document.querySelectorAll(".tree-node.selected").forEach((n) => n.classList.remove("selected"));
        document.querySelectorAll(`.tree-node[data-node="${node.id}"]`).forEach((n) => n.classList.add("selected"));
        jump(node.line);
      });
      li.append(head);
      shown.add(id);
      const exits = node.exits.filter((exit) => exit.target);
      if (exits.length) {
        const children = el("ul");
        for (const exit of exits) children.append(item(exit.target, exit.via));
        li.append(children);
      }
      return li;
    }
    const root = el("ul", {class: "tree-root"});
    root.append(item(tree.start, "开始"));
    const globals = Object.entries(tree.globals).filter(([, target]) => byId[target]);
    for (const [key, target] of globals) if (!shown.has(target)) root.append(item(target, `全局 ${key}`));
    for (const node of tree.nodes) if (!shown.has(node.id)) root.append(item(node.id, "无法到达"));
    box.append(root);
  }

  async function check() {
    const seq = ++checkSeq;
    const reply = await post("/admin/menus/check", {text: editor.getValue()});
    if (seq !== checkSeq || !reply.ok) return;
    showProblems(reply.data.problems);
    if (reply.data.tree) {
      renderTree(reply.data.tree);
      showTouched(reply.data.touched_prompts);
    }
  }

  function showTouched(prompts) {
    const list = document.getElementById("touched-prompts");
    list.replaceChildren(...prompts.map((id) => el("li", {"data-prompt": id}, el("a", {href: "/admin/prompts"}, id))));
  }

  let savedGeneration = editor.changeGeneration();
  async function saveDraft() {
    const generation = editor.changeGeneration();
    const reply = await post("/admin/menus/draft", {text: editor.getValue()});
    const state = document.getElementById("draft-state");
    if (reply.ok) {
      savedGeneration = generation;
      state.dataset.dirty = editor.isClean(savedGeneration) ? "0" : "1";
      state.textContent = "草稿已保存 " + new Date(reply.data.saved_at).toLocaleTimeString("zh-CN", {hour12: false});
      state.className = "badge ok";
    } else {
      state.textContent = "草稿未保存：" + (reply.data.error || reply.status);
      state.className = "badge bad";
    }
  }

  const checkSoon = debounce(check, 350);
  const saveSoon = debounce(saveDraft, 1200);
  editor.on("change", (cm, change) => {
    document.getElementById("draft-state").dataset.dirty = "1";
    if (change.origin === "setValue") return;
    document.getElementById("check-state").textContent = "检查中…";
    checkSoon();
    saveSoon();
  });

  async function nodeOp(body) {
    const message = document.getElementById("op-message");
    const reply = await post("/admin/menus/nodes", {text: editor.getValue(), ...body});
    if (!reply.ok) { message.textContent = reply.data.error; message.className = "small error-text"; return; }
    editor.setValue(reply.data.text);
    showProblems(reply.data.problems);
    if (reply.data.tree) renderTree(reply.data.tree);
    message.textContent = "已修改，引用已一并更新；草稿已保存。";
    message.className = "small ok-text";
    await saveDraft();
  }
  document.getElementById("rename-node").addEventListener("click", () => {
    if (!selected) return nodeOp({op: "rename", node: "", new: ""});
    const renamed = document.getElementById("rename-to").value.trim();
    nodeOp({op: "rename", node: selected, new: renamed}).then(() => { selected = renamed; });
  });
  document.getElementById("delete-node").addEventListener("click", () => {
    if (selected && confirm(`删除节点 ${selected}？`)) nodeOp({op: "delete", node: selected});
  });
  document.getElementById("add-node").addEventListener("click", () => nodeOp({
    op: "add", new: document.getElementById("new-id").value.trim(),
    kind: document.getElementById("new-kind").value, label: document.getElementById("new-label").value.trim(),
  }));

  document.getElementById("publish").addEventListener("click", async () => {
    const result = document.getElementById("publish-result");
    result.textContent = "发布中…";
    const reply = await post("/admin/menus/publish", {text: editor.getValue(), message: document.getElementById("publish-message").value});
    if (reply.ok) {
      result.textContent = `已发布版本 ${reply.data.version}（#${reply.data.publication}），各节点约 1 秒内生效；通话中的来电仍用原版本。`;
      result.className = "small ok-text";
      document.getElementById("live-version").textContent = reply.data.version;
      document.getElementById("draft-state").textContent = "与线上版本相同";
    } else {
      result.textContent = reply.data.error + (reply.data.problems && reply.data.problems.length ? "：\n" + reply.data.problems.join("\n") : "");
      result.className = "small error-text";
    }
  });
  // Leaving the page within the autosave's pause still keeps the last keystrokes.
  window.addEventListener("pagehide", () => {
    if (editor.isClean(savedGeneration)) return;
    fetch("/admin/menus/draft", {
      method: "POST", keepalive: true, credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": window.ivr.csrf},
      body: JSON.stringify({text: editor.getValue()}),
    });
  });
  check();
})();
