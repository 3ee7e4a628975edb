"""The dashboard's own state: users, their passkeys, and the operator action log.

SQLite by default (one replica on a volume), PostgreSQL through a
``postgresql+psycopg://`` URL (install the ``postgres`` extra).
"""

from __future__ import annotations

import os
import time

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import make_url

ROLES = ("viewer", "operator")

metadata = MetaData()

users = Table(
    "users",
    metadata,
    # The WebAuthn user handle, base64url: never the name, so it reveals nothing.
    Column("id", String(128), primary_key=True),
    Column("name", String(64), unique=True, nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
)

credentials = Table(
    "credentials",
    metadata,
    Column("id", String(1400), primary_key=True),
    Column("user_id", String(128), ForeignKey("users.id"), nullable=False),
    Column("public_key", LargeBinary, nullable=False),
    Column("sign_count", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
)

invites = Table(
    "invites",
    metadata,
    # sha256 of the code: the database never holds a usable invite.
    Column("id", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("used_at", Float, nullable=True),
)

actions = Table(
    "actions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("user", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("pool", String(128), nullable=False),
    Column("ok", Integer, nullable=False),
    Column("detail", Text, nullable=False),
)


class Store:
    def __init__(self, url):
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database:
            os.makedirs(os.path.dirname(parsed.database) or ".", exist_ok=True)
        self.engine = create_engine(url, pool_pre_ping=True)
        metadata.create_all(self.engine)

    def user_count(self):
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(users)).scalar_one()

    def user(self, user_id):
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.id == user_id)).first()
        return dict(row._mapping) if row else None

    def user_by_name(self, name):
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.name == name)).first()
        return dict(row._mapping) if row else None

    def add_user(self, user_id, name, role, credential_id, public_key, sign_count):
        """A user with its first passkey, in one transaction."""
        now = time.time()
        with self.engine.begin() as conn:
            conn.execute(
                insert(users).values(id=user_id, name=name, role=role, created_at=now)
            )
            conn.execute(
                insert(credentials).values(
                    id=credential_id,
                    user_id=user_id,
                    public_key=public_key,
                    sign_count=sign_count,
                    created_at=now,
                )
            )

    def credential(self, credential_id):
        with self.engine.connect() as conn:
            row = conn.execute(
                select(credentials).where(credentials.c.id == credential_id)
            ).first()
        return dict(row._mapping) if row else None

    def set_sign_count(self, credential_id, sign_count):
        with self.engine.begin() as conn:
            conn.execute(
                update(credentials)
                .where(credentials.c.id == credential_id)
                .values(sign_count=sign_count)
            )

    def add_invite(self, code_hash, role, created_by, expires_at):
        with self.engine.begin() as conn:
            conn.execute(
                insert(invites).values(
                    id=code_hash,
                    role=role,
                    created_by=created_by,
                    expires_at=expires_at,
                )
            )

    def open_invite(self, code_hash):
        """The invite's role while it is unused and unexpired, else None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(invites).where(
                    invites.c.id == code_hash,
                    invites.c.used_at.is_(None),
                    invites.c.expires_at > time.time(),
                )
            ).first()
        return row.role if row else None

    def use_invite(self, code_hash):
        """Spends the invite; False when it was spent or expired meanwhile."""
        now = time.time()
        with self.engine.begin() as conn:
            spent = conn.execute(
                update(invites)
                .where(
                    invites.c.id == code_hash,
                    invites.c.used_at.is_(None),
                    invites.c.expires_at > now,
                )
                .values(used_at=now)
            )
        return spent.rowcount == 1

    def record_action(self, user, action, pool, ok, detail):
        with self.engine.begin() as conn:
            conn.execute(
                insert(actions).values(
                    at=time.time(),
                    user=user,
                    action=action,
                    pool=pool,
                    ok=1 if ok else 0,
                    detail=detail,
                )
            )

    def recent_actions(self, pool=None, limit=20):
        query = select(actions).order_by(actions.c.id.desc()).limit(limit)
        if pool is not None:
            query = query.where(actions.c.pool == pool)
        with self.engine.connect() as conn:
            return [dict(row._mapping, ok=bool(row.ok)) for row in conn.execute(query)]
