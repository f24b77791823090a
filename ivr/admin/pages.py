"""Every page of the supervisor console, registered on the shared web server."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from ivr.actions.registry import action_outcomes
from ivr.actions.settings import parse_action_settings
from ivr.admin.cdr_pages import CdrPages
from ivr.admin.changes import ChangeLogPages
from ivr.admin.dashboard_pages import DashboardPages
from ivr.admin.menu_pages import MenuPages
from ivr.admin.menu_work import MenuWork
from ivr.admin.prompt_pages import PromptPages
from ivr.admin.prompt_texts import PromptTexts
from ivr.admin.sandbox import Sandbox
from ivr.admin.simulator_pages import SimulatorPages
from ivr.admin.user_pages import UserPages
from ivr.media.prompt_catalog import PromptSettings
from ivr.media.tts import TtsSettings
from ivr.menus.publishing import configured_menu_file
from ivr.web.server import WebConsole
from ivr.work_calendar import configured_calendar

HERE = Path(__file__).resolve().parent
SUPERVISOR = ("supervisor",)


class SupervisorConsole:
    """Built before the reactor runs: reading the prompt catalog and the menu file blocks."""

    def __init__(self, console: WebConsole) -> None:
        services = console.services
        console.add_templates(HERE / "templates")
        console.add_static("admin", HERE / "static")
        texts = PromptTexts(
            PromptSettings.from_config(services.config),
            TtsSettings.from_section(services.config.section("prompts")),
            services.db,
            services.redis,
        )
        work = MenuWork(
            services.db,
            services.redis,
            configured_menu_file(services.config),
            set(texts.catalog.ids()),
            action_outcomes(),
        )
        self.menus = MenuPages(console, SUPERVISOR, work)
        calendar = configured_calendar(services.config)
        sandbox = Sandbox(
            services.config.store.data_dir / "sandbox",
            parse_action_settings(services.config.section("actions"), calendar),
            services.wallclock,
        )
        self.simulator = SimulatorPages(console, SUPERVISOR, work, texts, sandbox, calendar)
        self.prompts = PromptPages(console, SUPERVISOR, work, texts)
        zone = ZoneInfo(str(services.config.section("actions").get("timezone", "Asia/Shanghai")))
        self.dashboard = DashboardPages(console, SUPERVISOR, work, zone)
        self.cdr = CdrPages(console, SUPERVISOR, zone)
        self.users = UserPages(console, SUPERVISOR)
        self.changes = ChangeLogPages(console, SUPERVISOR)
