"""Supervisors' unpublished menu edits: one draft per author and menu, kept in the database so
an editor survives a closed browser and any node serves it.

BLOCKING (SQL): call from a worker thread.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select

from ivr.store.db import Database
from ivr.store.models import MenuDraft


@dataclass(frozen=True)
class Draft:
    menu: str
    author: str
    text: str
    updated_at: dt.datetime


def save_draft(db: Database, menu: str, author: str, text: str, now: dt.datetime) -> Draft:
    with db.transaction() as session:
        query = select(MenuDraft).where(MenuDraft.menu == menu, MenuDraft.author == author)
        row = session.scalars(query.with_for_update()).first()
        if row is None:
            row = MenuDraft(menu=menu, author=author, text=text, updated_at=now)
            session.add(row)
        else:
            row.text, row.updated_at = text, now
        return Draft(menu, author, text, now)


def load_draft(db: Database, menu: str, author: str) -> Draft | None:
    query = select(MenuDraft).where(MenuDraft.menu == menu, MenuDraft.author == author)
    with db.reading() as session:
        row = session.scalars(query).first()
        return None if row is None else Draft(row.menu, row.author, row.text, row.updated_at)


def drop_draft(db: Database, menu: str, author: str) -> None:
    with db.transaction() as session:
        session.execute(delete(MenuDraft).where(MenuDraft.menu == menu, MenuDraft.author == author))
