"""Published menu versions: which version of a menu is live on every node, and its history.

BLOCKING (SQL): call from a worker thread, or from a command.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from ivr.store.db import Database
from ivr.store.models import MenuPublication


@dataclass(frozen=True)
class Publication:
    version: str
    text: str
    source: str
    published_at: dt.datetime
    author: str | None = None  # the console user who published; None: a file or a command
    message: str | None = None
    id: int = 0  # the publication's number: the same version can be published more than once


def _publication(row: MenuPublication) -> Publication:
    return Publication(
        row.version, row.text, row.source, row.published_at, row.author, row.message, row.id
    )


def publish(
    db: Database,
    menu: str,
    version: str,
    text: str,
    source: str,
    now: dt.datetime,
    *,
    author: str | None = None,
    message: str | None = None,
) -> Publication:
    """Make `text` the live version of `menu` (already validated by the caller)."""
    with db.transaction() as session:
        row = MenuPublication(
            menu=menu,
            version=version,
            text=text,
            source=source,
            published_at=now,
            author=author,
            message=message,
        )
        session.add(row)
        session.flush()
        return _publication(row)


def live_publication(db: Database, menu: str) -> Publication | None:
    """The newest publication of `menu`: the version new calls start on."""
    history = publications(db, menu, limit=1)
    return history[0] if history else None


def live_version(db: Database, menu: str) -> str | None:
    """Only the version of the newest publication: what a node polls, without the text."""
    query = (
        select(MenuPublication.version)
        .where(MenuPublication.menu == menu)
        .order_by(MenuPublication.id.desc())
        .limit(1)
    )
    with db.reading() as session:
        return session.scalars(query).first()


def publications(db: Database, menu: str, limit: int | None = None) -> list[Publication]:
    """The publications of `menu`, newest first."""
    query = (
        select(MenuPublication)
        .where(MenuPublication.menu == menu)
        .order_by(MenuPublication.id.desc())
        .limit(limit)
    )
    with db.reading() as session:
        return [_publication(row) for row in session.scalars(query)]


def publication(db: Database, publication_id: int) -> Publication | None:
    with db.reading() as session:
        row = session.get(MenuPublication, publication_id)
        return None if row is None else _publication(row)


def was_published(db: Database, menu: str, version: str) -> bool:
    query = select(MenuPublication.id).where(
        MenuPublication.menu == menu, MenuPublication.version == version
    )
    with db.reading() as session:
        return session.scalars(query.limit(1)).first() is not None
