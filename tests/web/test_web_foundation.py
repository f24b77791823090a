"""Accounts, sessions, CSRF and roles through the real console of a running IVR."""

from __future__ import annotations

from tests.e2e.server import IvrProcess
from tests.web.console_client import ConsoleClient, query


def test_wrong_password_is_refused_in_chinese_and_opens_no_session(
    console_server: IvrProcess, base_url: str
) -> None:
    client = ConsoleClient(base_url)
    reply = client.login("boss", "not-the-password")
    assert reply.status == 401
    assert "用户名或密码错误" in reply.text
    assert not [c for c in client.cookies if c.name == "ivr_session"]


def test_login_opens_a_database_session_keyed_by_the_token_hash(
    console_server: IvrProcess, base_url: str
) -> None:
    client = ConsoleClient(base_url)
    reply = client.login("boss")
    assert reply.status == 200 and "您好，王班长" in reply.text
    token = next(c.value for c in client.cookies if c.name == "ivr_session")
    stored = [row_id for (row_id,) in query(console_server, "SELECT id FROM web_session")]
    assert stored and token not in stored  # only its SHA-256 is kept
    # Another client with the same cookie is the same user: the session lives in the database.
    other = ConsoleClient(base_url)
    other.cookies.set_cookie(next(c for c in client.cookies if c.name == "ivr_session"))
    assert "您好，王班长" in other.get("/").text


def test_pages_need_a_login(base_url: str) -> None:
    reply = ConsoleClient(base_url).get("/admin/changes")
    assert reply.url.startswith(base_url + "/login?next=")
    assert "登录" in reply.text


def test_state_changes_without_the_csrf_token_are_refused(base_url: str) -> None:
    client = ConsoleClient(base_url)
    client.login("boss")
    refused = client.post("/logout", headers={"X-CSRF-Token": "forged"})
    assert refused.status == 403 and "CSRF" in refused.text
    cross_site = client.post("/logout", headers={"Origin": "http://evil.example"})
    assert cross_site.status == 403
    assert "您好" in client.get("/").text  # still logged in
    assert client.post("/logout").url.endswith("/login")
    assert "您好" not in client.get("/").text


def test_an_agent_gets_403_on_supervisor_pages(base_url: str) -> None:
    client = ConsoleClient(base_url)
    client.login("agent1")
    reply = client.get("/admin/changes")
    assert reply.status == 403
    assert "仅限班长" in reply.text


def test_the_change_log_names_who_did_what(console_server: IvrProcess, base_url: str) -> None:
    client = ConsoleClient(base_url)
    client.login("boss")
    page = client.get("/admin/changes").text
    assert "新建账号" in page and "agent1" in page and "cli" in page
    actions = {row[0] for row in query(console_server, "SELECT action FROM change_log")}
    assert {"user.add", "user.login"} <= actions


def test_vendored_libraries_are_served_locally(base_url: str) -> None:
    client = ConsoleClient(base_url)
    for path in ("/static/web/vendor/codemirror.js", "/static/web/vendor/chart.umd.min.js"):
        reply = client.get(path)
        assert reply.status == 200 and len(reply.body) > 100_000


def test_a_supervisor_adds_and_disables_an_account_and_its_session_ends_at_once(
    console_server: IvrProcess, base_url: str
) -> None:
    boss = ConsoleClient(base_url)
    boss.login("boss")
    boss.get("/admin/users")
    added = boss.post(
        "/admin/users/add",
        data={"username": "agent9", "display_name": "赵坐席", "role": "agent",
              "password": "agent9-pass"},
    )  # fmt: skip
    assert "已新建账号 agent9" in added.text
    short = boss.post(
        "/admin/users/add",
        data={"username": "agent10", "display_name": "", "role": "agent", "password": "short"},
    )
    assert "密码至少 8 位" in short.text
    agent = ConsoleClient(base_url)
    assert "您好，赵坐席" in agent.login("agent9", "agent9-pass").text
    boss.get("/admin/users")
    assert "已停用 agent9" in boss.post("/admin/users/agent9/disable").text
    assert "您好" not in agent.get("/").text  # the open session stopped working
    assert "不能停用自己的账号" in boss.post("/admin/users/boss/disable").text
    logged = set(query(console_server, "SELECT username, action, target FROM change_log"))
    assert {("boss", "user.add", "agent9"), ("boss", "user.disable", "agent9")} <= logged


def test_static_directories_are_not_listed(base_url: str) -> None:
    reply = ConsoleClient(base_url).get("/static/web/vendor/")
    assert reply.status == 404 and b"codemirror.js" not in reply.body


def test_unknown_pages_and_methods_are_answered_in_chinese(base_url: str) -> None:
    client = ConsoleClient(base_url)
    missing = client.get("/no/such/page")
    assert missing.status == 404 and "没有这个页面" in missing.text
    wrong = client.request("PUT", "/login")
    assert wrong.status == 405 and "请求方式不对" in wrong.text
